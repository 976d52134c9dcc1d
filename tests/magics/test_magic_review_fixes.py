"""New-user review: short secrets, credential hints, --strict reasons, flag typos, "not listed"."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import dli_magic
from dli_magic import api
from dli_magic.errors import BadInputError, ConfigError
from dli_magic.waiting import WaitState


def test_a_one_letter_token_does_not_garble_the_profile_error(shell, dli_env, monkeypatch, capsys):
    monkeypatch.setenv("DLI_AUTH_TOKEN", "t")
    result = shell.run_cell("%dli_run 131 --profile prod")
    error = result.error_in_exec
    assert isinstance(error, ConfigError)
    assert "Profile 'prod' was requested but the profile file" in error.message
    shown = capsys.readouterr().out
    assert "reques***ed" not in shown and "***he" not in shown
    assert "Set or fix it" not in shown and "--profile" in shown  # the profile file's own hint


def test_missing_credentials_hint_points_to_login_env_and_profile(shell, dli_env, monkeypatch, capsys):
    monkeypatch.delenv("DLI_AUTH_TOKEN")
    for line in ("%dli_run 131", "%dli_run 131 --dry-run"):
        result = shell.run_cell(line)
        assert isinstance(result.error_in_exec, ConfigError)
        shown = capsys.readouterr().out
        assert "%dli_login" in shown and "DLI_AUTH_TOKEN" in shown and "DLI_AK + DLI_SK" in shown
        assert "DLI_USERNAME + DLI_PASSWORD" in shown and "profile file" in shown
        assert "%dli_config /" not in shown and "%config DliMagic.<name>" not in shown
        assert "Set or fix it" not in shown
    assert dli_env.request_log() == []


def test_strict_error_says_why_and_where_the_rows_are(shell, dli_env, capsys):
    shell.run_line_magic("dli_run", "131")  # running now: a second run is refused
    capsys.readouterr()
    result = shell.run_cell("%dli_run 131 --strict")
    error = result.error_in_exec
    assert isinstance(error, api.JobsFailedError)
    assert "131: The job 131 cannot be started" in error.message
    shown = capsys.readouterr().out
    assert "131: The job 131 cannot be started" in shown
    assert "err." not in shown and "err.frame" not in error.hint
    assert "--out VAR" in error.hint
    assert "other jobs were processed" not in shown and "processed" not in error.hint


def test_strict_error_with_successes_and_out(shell, dli_env, capsys):
    shell.run_line_magic("dli_run", "131 130")
    capsys.readouterr()
    result = shell.run_cell("%dli_run 138 131 130 --strict --out res")
    error = result.error_in_exec
    assert error.job_ids == [131, 130]
    assert "2 of 3 jobs" in error.message
    assert "131: The job 131 cannot be started" in error.message and "130: The job 130" in error.message
    assert "Every row is in `res`" in error.hint
    assert "The other 1 job was processed." in error.hint


def test_strict_error_lists_two_reasons_then_a_count():
    from dli_magic.api import _strict_message
    from dli_magic.results import JobOutcome

    rows = [JobOutcome(i, False, f"refused {i}") for i in (1, 2, 3, 4)]
    text = _strict_message("stop", rows, 5, False, frozenset(), set())
    assert text.endswith("— 1: refused 1; 2: refused 2; and 2 more")


def test_strict_error_in_python_names_frame_not_err(dli_env):
    with pytest.raises(api.JobsFailedError) as info:
        dli_magic.run_jobs([999999], strict=True)
    error = info.value
    assert "err" not in error.hint.split() and ".frame" in error.hint
    assert "999999:" in error.message and "processed" not in error.hint


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("%dli_run 131 --resume-savepiont", "Did you mean --resume-savepoint?"),
        ("%dli_stop 131 --resume-savepoint", "Did you mean --trigger-savepoint?"),
        ("%dli_run 131 --wiat --dryrun", "Did you mean --wait for --wiat, --dry-run for --dryrun?"),
        ("%dli_jobs --stauts job_running", "Did you mean --status?"),
        ("%dli_config --profle x", "Did you mean --profile?"),
        ("%dli_history --limt 3", "Did you mean --limit?"),
        ("%dli_panel --no-wiat", "Did you mean --no-wait?"),
        ("%dli_login --clera", "Did you mean --clear?"),
    ],
)
def test_unknown_flags_get_a_suggestion(shell, dli_env, capsys, line, suggestion):
    result = shell.run_cell(line)
    assert isinstance(result.error_in_exec, UsageError)
    assert "unrecognized arguments" in str(result.error_in_exec)
    assert suggestion in str(result.error_in_exec)
    assert dli_env.request_log() == []


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


def test_wait_summary_says_not_listed_for_ids_missing_from_the_list(shell, dli_env, capsys):
    df = shell.run_line_magic("dli_run", "138 999998 999999 --wait")
    assert df.set_index("job_id").loc[138, "status"] == "job_running"
    err = capsys.readouterr().err
    assert "settled (job_running 1, not listed 2)" in err
    assert "unknown 2" not in err


def test_counts_are_unknown_before_any_listing():
    state = WaitState(job_ids=[1, 2, 3], statuses={1: "job_running"})
    assert state.counts() == {"job_running": 1, "unknown": 2}
    state.rounds = 1
    assert state.counts() == {"job_running": 1, "not listed": 2}
    state.statuses[2] = None  # listed without a status
    assert state.counts() == {"job_running": 1, "unknown": 1, "not listed": 1}
    state.missing.add(2)  # disappeared from a later listing
    assert state.counts() == {"job_running": 1, "not listed": 2}
