"""What the Python API says when it refuses or fails: strict errors with their reasons, and a
misspelt keyword named as the function's own parameter before it is taken for a setting."""

from __future__ import annotations

import time

import pytest

import dli_magic
from dli_magic import api
from dli_magic.errors import BadInputError, ConfigError


def test_strict_error_lists_two_reasons_then_a_count():
    from dli_magic.results import JobOutcome

    rows = [(JobOutcome(i, False, f"refused {i}"), f"refused {i}") for i in (1, 2, 3, 4)]
    text = api._strict_message("stop", rows, 5)
    assert text.startswith("stop: 4 of 5 jobs failed")
    assert text.endswith("— 1: refused 1; 2: refused 2; and 2 more")


def test_strict_error_in_python_names_frame_not_err(dli_env):
    with pytest.raises(api.JobsFailedError) as info:
        dli_magic.run_jobs([999999], strict=True)
    error = info.value
    assert "err" not in error.hint.split() and ".frame" in error.hint
    assert "999999:" in error.message and "processed" not in error.hint


@pytest.mark.parametrize(
    ("function", "keyword", "suggestion"),
    [
        (dli_magic.run_jobs, "resume_savepont", "Did you mean resume_savepoint?"),
        (dli_magic.stop_jobs, "trigger_savepont", "Did you mean trigger_savepoint?"),
        (dli_magic.run_jobs, "timout", "Did you mean timeout?"),
    ],
)
def test_python_api_suggests_its_own_parameters(dli_env, function, keyword, suggestion):
    with pytest.raises(BadInputError) as info:
        function([131], **{keyword: True})
    assert suggestion in info.value.message and "Known settings" not in info.value.message
    assert dli_env.request_log() == []


def test_python_api_still_suggests_settings(dli_env):
    with pytest.raises(ConfigError, match="Did you mean 'poll_interval'"):
        dli_magic.list_jobs(poll_intervall=1)


@pytest.mark.parametrize(
    "call",
    [
        lambda client: dli_magic.run_jobs([138], client=client, wait_timeout=5),
        lambda client: dli_magic.stop_jobs([138], client=client, profile="prod"),
        lambda client: dli_magic.list_jobs(client=client, endpoint="https://dli.eu-de.otc.t-systems.com"),
        lambda client: dli_magic.panel(client, profile="prod"),
    ],
    ids=["run_jobs", "stop_jobs", "list_jobs", "panel"],
)
def test_a_client_and_settings_together_are_refused_before_sending(dli_env, client_settings, call):
    client = dli_magic.connect(**client_settings(dli_env))
    try:
        with pytest.raises(BadInputError, match="either client= or settings/profile"):
            call(client)
    finally:
        client.close()
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [("job_runing", "Did you mean 'job_running'?"), ("zzz", "Choose from: job_init, ")],
)
def test_list_jobs_names_a_status_it_does_not_know_before_sending(dli_env, status, expected):
    with pytest.raises(BadInputError) as info:
        dli_magic.list_jobs(status=status)
    assert info.value.message.startswith(f"Unknown job status {status!r}.") and expected in info.value.message
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"order": "ascending"}, "order must be 'asc' or 'desc', not 'ascending'."),
        ({"job_type": "flink_sql_jobb"}, "Unknown job type 'flink_sql_jobb'. Did you mean 'flink_sql_job'?"),
        ({"name": "x" * 58}, "name must be a string of at most 57 characters."),
    ],
    ids=["order", "job_type", "name"],
)
def test_list_jobs_refuses_a_bad_filter_before_settings_or_a_request(dli_env, filters, expected):
    """Every filter is checked before the settings are resolved: max_workers=0 would be a
    ConfigError there, and nothing reaches the emulator."""
    with pytest.raises(BadInputError) as info:
        dli_magic.list_jobs(**filters, max_workers=0)
    assert info.value.message == expected
    assert dli_env.request_log() == []


def test_list_jobs_refuses_a_bad_filter_before_using_the_client(dli_env, client_settings):
    client = dli_magic.connect(**client_settings(dli_env))
    client.close()  # a closed client raises ConfigError on use: the filter is named first
    with pytest.raises(BadInputError, match="order must be 'asc' or 'desc'"):
        dli_magic.list_jobs(order="up", client=client)
    assert dli_env.request_log() == []


@pytest.mark.parametrize("call", [
    lambda **kw: dli_magic.run_jobs([131, 142], **kw),
    lambda **kw: dli_magic.stop_jobs([131, 142], wait=True, **kw),
    lambda **kw: dli_magic.run_jobs([131, 142], dry_run=True, **kw),
], ids=["run", "stop --wait", "dry run"])
def test_a_chunk_size_beyond_the_maximum_sends_no_request_at_all(dli_env, call):
    """Not even the names read beside the request: the range is checked before it starts."""
    with dli_magic.connect() as client:  # a new client: it knows no names, so it would look them up
        dli_env.clear_request_log()
        with pytest.raises(BadInputError, match="chunk_size must be an integer from 1 to 10000"):
            call(chunk_size=10**6, client=client)
    time.sleep(0.3)  # a lookup started anyway would show up here
    assert dli_env.request_log() == []


@pytest.mark.parametrize("function", [dli_magic.run_jobs, dli_magic.stop_jobs, dli_magic.restart_jobs])
def test_a_dry_run_in_the_background_is_refused_before_anything_is_sent(dli_env, function):
    dli_env.clear_request_log()
    with pytest.raises(BadInputError, match="dry_run sends nothing"):
        function([131], dry_run=True, background=True)
    assert dli_env.request_log() == []
