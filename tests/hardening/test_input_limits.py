"""Issue 10 item 4: limits hold for every input form.

One cap (``ids.MAX_JOB_IDS``, 100,000 ids per call) is applied before anything is materialised: a
literal range and a ``range`` or Series by their size, a generator after at most cap + 1 items, the
ids of a whole line together. A call that would send more than ``MAX_REQUESTS_UNCONFIRMED`` (300)
requests needs ``--yes`` / ``yes=True``. Digits that are not ASCII are paste errors, refused in
every form.
"""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

import dli_magic
from dli_magic.errors import BadInputError, ConfigError
from dli_magic.ids import MAX_JOB_IDS, MAX_REQUESTS_UNCONFIRMED


class Huge:
    """A sized iterable that must never be iterated (its size alone refuses it)."""

    def __len__(self) -> int:
        return 10**8

    def __iter__(self):
        raise AssertionError("iterated: the cap was not applied by len()")


class Counting:
    """An iterator of ids with no len(): counts how many items were pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    def __iter__(self):
        return self

    def __next__(self) -> int:
        self.pulled += 1
        return self.pulled


def _refusal(error: BaseException, what: str, held: str) -> None:
    assert isinstance(error, BadInputError), repr(error)
    assert error.message == (
        f"{what} holds {held}; one call takes at most 100,000: split them into several calls."
    )


def test_the_cap_is_one_number():
    assert MAX_JOB_IDS == 100_000 and MAX_REQUESTS_UNCONFIRMED == 300


@pytest.mark.parametrize(
    "setup, line, what, held",
    [
        ("", "1-100000000", "Range '1-100000000'", "100,000,000 job ids"),
        ("", "1-100001", "Range '1-100001'", "100,001 job ids"),
        ("", "1-60000 60001-120000", "This line", "120,000 job ids"),
        ("ids = range(1, 10**8)", "$ids", "$ids", "99,999,999 job ids"),
        ("ids = range(1, 10**20)", "$ids", "$ids", "more than 100,000 job ids"),  # len() overflows
        ("", "{range(1, 10**8)}", "{range(1, 10**8)}", "99,999,999 job ids"),
        ("ids = list(range(1, 100_002))", "$ids", "$ids", "100,001 job ids"),
        ("import pandas as pd; ids = pd.Series(range(1, 100_002))", "$ids", "$ids", "100,001 job ids"),
        ("import pandas as pd; ids = pd.DataFrame({'job_id': range(1, 100_002)})", "$ids", "$ids", "100,001 job ids"),
        ("import numpy as np; ids = np.arange(1, 100_002)", "$ids", "$ids", "100,001 job ids"),
        ("ids = list(range(1, 70_000))", "$ids $ids", "This line", "139,998 job ids"),
    ],
)
def test_every_form_on_a_magic_line_is_capped(shell, dli_env, setup, line, what, held):
    shell.run_cell(setup)
    result = shell.run_cell(f"%dli_run {line} --dry-run")
    _refusal(result.error_in_exec, what, held)
    assert dli_env.request_log() == []


def test_a_huge_sized_object_is_refused_by_its_size_without_iterating(shell, dli_env):
    shell.user_ns["ids"] = Huge()
    _refusal(shell.run_cell("%dli_run $ids").error_in_exec, "$ids", "100,000,000 job ids")
    with pytest.raises(BadInputError) as info:
        dli_magic.run_jobs(Huge())
    _refusal(info.value, "job_ids", "100,000,000 job ids")
    assert dli_env.request_log() == []


def test_a_generator_is_read_one_item_past_the_cap_at_most(shell, dli_env):
    ids = Counting()
    shell.user_ns["ids"] = ids
    _refusal(shell.run_cell("%dli_run $ids").error_in_exec, "$ids", "more than 100,000 job ids")
    assert ids.pulled == MAX_JOB_IDS + 1
    ids = Counting()
    with pytest.raises(BadInputError) as info:
        dli_magic.stop_jobs(ids)
    _refusal(info.value, "job_ids", "more than 100,000 job ids")
    assert ids.pulled == MAX_JOB_IDS + 1
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    "value, held",
    [
        (range(1, 10**8), "99,999,999 job ids"),
        (pd.Series(range(1, 100_002)), "100,001 job ids"),
        (pd.DataFrame({"job_id": range(1, 100_002)}), "100,001 job ids"),
        (list(range(1, 100_002)), "100,001 job ids"),
        ((i for i in range(1, 10**9)), "more than 100,000 job ids"),
    ],
    ids=["range", "Series", "DataFrame", "list", "generator"],
)
@pytest.mark.parametrize("call", ["run_jobs", "stop_jobs"])
def test_every_form_in_the_python_api_is_capped(dli_env, value, held, call):
    with pytest.raises(BadInputError) as info:
        getattr(dli_magic, call)(value, dry_run=True)
    _refusal(info.value, "job_ids", held)
    assert dli_env.request_log() == []


def test_the_client_caps_what_it_is_given_too(dli_env, client_settings):
    client = dli_magic.connect(**client_settings(dli_env))
    try:
        with pytest.raises(BadInputError, match="holds 99,999,999 job ids; one call takes at most 100,000"):
            client.run_jobs(range(1, 10**8))
    finally:
        client.close()
    assert dli_env.request_log() == []


def test_exactly_the_cap_is_accepted(shell, dli_env):
    frame = shell.run_line_magic("dli_run", "1-100000 --dry-run")
    assert len(frame) == MAX_JOB_IDS
    assert dli_env.request_log() == []


# --- a call of hundreds of requests is confirmed ----------------------------------------------------


def test_a_magic_call_of_more_than_300_requests_needs_yes(shell, dli_env, capsys):
    result = shell.run_cell("%dli_run 1-301 --chunk-size 1")
    error = result.error_in_exec
    assert isinstance(error, BadInputError)
    assert error.message == (
        "This call would send 301 requests (301 job ids, 1 per request), more than 300 without a "
        "confirmation: add --yes to send them, or raise the chunk size."
    )
    assert "Traceback" not in capsys.readouterr().out
    assert dli_env.request_log() == []
    # 300 requests need no confirmation; the settings' chunk size counts like --chunk-size
    shell.run_cell("%dli_config chunk_size=1")
    assert isinstance(shell.run_cell("%dli_stop 1-301").error_in_exec, BadInputError)
    assert shell.run_cell("%dli_run 1-301 --dry-run").error_in_exec is None  # a dry run sends nothing
    assert dli_env.request_log() == []
    frame = shell.run_line_magic("dli_run", "1-301 --yes")
    assert len(frame) == 301
    assert len([r for r in dli_env.request_log() if r["path"].endswith("/jobs/run")]) == 301


def test_the_python_api_needs_yes_true(dli_env):
    with pytest.raises(BadInputError) as info:
        dli_magic.run_jobs(range(1, 30_002))  # 301 requests at the default chunk size of 100
    assert info.value.message == (
        "This call would send 301 requests (30,001 job ids, 100 per request), more than 300 without a "
        "confirmation: pass yes=True to send them, or raise the chunk size."
    )
    with pytest.raises(BadInputError, match="^yes must be True or False, not a string of 3 characters.$"):
        dli_magic.stop_jobs(range(1, 30_002), yes="yes")
    assert dli_env.request_log() == []
    frame = dli_magic.run_jobs(range(1, 30_001))  # exactly 300 requests: no confirmation needed
    assert len(frame) == 30_000
    frame = dli_magic.run_jobs(range(1, 302), chunk_size=1, yes=True)
    assert len(frame) == 301


# --- digits that are not ASCII -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["１３１", "١٣١", "13１", "१३१", "１-３", "131,１３０"],
    ids=["full-width", "arabic-indic", "mixed", "devanagari", "range", "in-a-list"],
)
def test_non_ascii_digits_on_a_line_are_refused(shell, dli_env, token):
    result = shell.run_cell(f"%dli_run {token}")
    error = result.error_in_exec
    assert isinstance(error, BadInputError)
    bad = token.split(",")[-1]
    assert error.message == (
        f"Job id {bad!r} has digits that are not ASCII (full-width or another script's: a paste error?); "
        "type job ids with 0-9."
    )
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    "setup, line, message",
    [
        ("ids = ['１３１']", "$ids", "Job id $ids[0] is '１３１', digits that are not ASCII"),
        ("ids = [131, '١٣٠']", "$ids", "Job id $ids[1] is '١٣٠', digits that are not ASCII"),
        ("import pandas as pd; ids = pd.Series(['１３１'])", "$ids", "Job id $ids[0] is '１３１'"),
        ("ids = '１３１'", "$ids", "Job id $ids is '１３１'"),
        ("", "{['１３１']}", "Job id {['１３１']}[0] is '１３１'"),
        ("ids = ['131']", "$ids", "Job id $ids[0] is the string '131'; job ids are integers: write 131."),
    ],
)
def test_non_ascii_digits_in_variables_and_expressions_are_refused(shell, dli_env, setup, line, message):
    shell.run_cell(setup)
    error = shell.run_cell(f"%dli_run {line}").error_in_exec
    assert isinstance(error, BadInputError) and error.message.startswith(message)
    assert dli_env.request_log() == []


@pytest.mark.parametrize("value", [["１３１"], "١٣١", pd.Series(["13１"])])
def test_non_ascii_digits_in_the_python_api_are_refused(dli_env, value):
    with pytest.raises(BadInputError, match="digits that are not ASCII"):
        dli_magic.run_jobs(value)
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    "line, error, fragment",
    [
        ("%dli_run 138 --chunk-size １٠", UsageError, "argument --chunk-size: '１٠' has characters that are not ASCII"),
        ("%dli_run 138 --wait --timeout ١٠", UsageError, "argument --timeout: '١٠' has characters that are not ASCII"),
        ("%dli_history --limit ３", UsageError, "argument --limit: '３' has characters that are not ASCII"),
        ("%dli_panel --timeout ３", UsageError, "argument --timeout: '３' has characters that are not ASCII"),
        ("%dli_config chunk_size=１٠", ConfigError, "Setting chunk_size has characters that are not ASCII"),
        ("%dli_config wait_timeout=９", ConfigError, "Setting wait_timeout has characters that are not ASCII"),
    ],
)
def test_non_ascii_digits_in_numeric_options_are_refused(shell, dli_env, line, error, fragment):
    result = shell.run_cell(line)
    assert isinstance(result.error_in_exec, error) and fragment in str(result.error_in_exec)
    assert shell.run_line_magic("dli_config", "").set_index("setting").loc["chunk_size", "value"] == "100"
    assert dli_env.request_log() == []


@pytest.mark.parametrize("name", ["DLI_CHUNK_SIZE", "DLI_WAIT_TIMEOUT", "DLI_MAX_RETRIES"])
def test_non_ascii_digits_in_the_environment_are_refused(dli_env, monkeypatch, name):
    monkeypatch.setenv(name, "１٠")
    with pytest.raises(ConfigError, match=f"^Setting {name.removeprefix('DLI_').lower()} \\(from env {name}\\) has "
                                          "non-ASCII characters"):
        dli_magic.run_jobs([138])
    assert dli_env.request_log() == []
