"""%dli_restart and %dli_savepoint in a real IPython shell against the emulator."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError

from dli_magic import api
from dli_magic.errors import BadInputError, NotFoundError
from restart_helpers import posts, running


def test_dli_restart_takes_ids_in_every_form_and_shows_each_step_live(shell, env, capsys):
    a, b, c = running(env, "a"), running(env, "b"), running(env, "c")
    shell.user_ns["more"] = [c]
    df = shell.run_line_magic("dli_restart", f"{a},{b} $more --stable 0.3")
    assert df["job_id"].tolist() == [a, b, c]
    assert df["is_success"].all() and df["healthy"].all()
    assert df.attrs["action"] == "restart" and df.attrs["stable"] == 0.3
    err = capsys.readouterr().err
    # a terminal gets one \r status line per step, each ended by a newline
    for label in ("restart: waiting for the stop and its savepoint", "restart: waiting until running",
                  "restart: checking health for 0.3 s"):
        assert label in err
    assert "\r" in err
    history = shell.run_line_magic("dli_history", "")
    restarted = history[history["action"] == "restart"]
    assert restarted["job_id"].tolist() == [a, b, c]
    assert restarted["savepoint_path"].tolist() == df["savepoint_path"].tolist()
    assert (restarted["source"] == "magic").all()


def test_dli_restart_range_out_and_silenced(shell, env):
    first = running(env, "r1")
    second = running(env, "r2")
    assert second == first + 1
    assert shell.run_line_magic("dli_restart", f"{first}-{second} --out result") is None
    frame = shell.user_ns["result"]
    assert frame["job_id"].tolist() == [first, second] and frame["is_success"].all()
    assert shell.run_line_magic("dli_restart", f"{{[{first}]}};") is None


def test_dli_restart_dry_run_prints_the_plan(shell, env, capsys):
    job = running(env)
    df = shell.run_line_magic("dli_restart", f"{job} --dry-run")
    out = capsys.readouterr().out
    assert "Dry run: no stop or run request was sent" in out and f"  {job} stream [job_running]: stop with" in out
    assert df.attrs["dry_run"] is True and not posts(env)


def test_dli_restart_strict_says_where_the_rows_are(shell, env):
    job = running(env)
    env.set_behaviour(job, "savepoint_fail")
    result = shell.run_cell(f"%dli_restart {job} --strict")
    err = result.error_in_exec
    assert isinstance(err, api.JobsFailedError) and err.job_ids == [job]
    assert "add --out VAR" in err.hint and "%dli_history" in err.hint
    result = shell.run_cell(f"%dli_restart {job} --strict --out rows")
    assert isinstance(result.error_in_exec, api.JobsFailedError)
    assert result.error_in_exec.hint.startswith("Every row is in `rows`.")
    assert shell.user_ns["rows"].loc[0, "status"] == "job_running"
    assert not posts(env, "/jobs/run")


def test_dli_restart_flags_reach_the_call(shell, env):
    stopped = env.create_job(name="stopped", status="job_cancel_success")
    crashing = running(env, "crashing")
    env.set_behaviour(crashing, "savepoint_fail")
    df = shell.run_line_magic("dli_restart", f"{stopped} {crashing} --start-stopped --allow-no-savepoint "
                                             "--timeout 30 --chunk-size 1")
    assert df["is_success"].tolist() == [True, True] and (df["status"] == "job_running").all()
    assert df.attrs["timeout"] == 30 and df.attrs["chunk_size"] == 1 and df.attrs["start_stopped"] is True


@pytest.mark.parametrize(
    "line, error, words",
    [("", BadInputError, "No job ids given"), ("abc", BadInputError, "is not an integer"),
     ("131 --stable abc", UsageError, "invalid float value: 'abc'"),
     ("131 --stable -1", UsageError, "must be a positive number, not '-1'"),
     ("131 --stable 1e9", BadInputError, "stable must be a number of seconds from 0 to 86400"),
     ("131 --timeout 0", UsageError, "must be a positive number, not '0'"),
     ("131 --chunk-size １", UsageError, "not ASCII"),
     ("1-301 --chunk-size 1", BadInputError, "301 requests"),
     ("131 --allow-no-savepiont", UsageError, "Did you mean --allow-no-savepoint?"),
     ("$undefined", BadInputError, "$undefined is not defined"), ("131 --out 1x", UsageError, "--out needs")],
)
def test_bad_restart_lines_are_one_line_and_send_nothing(shell, env, line, error, words):
    result = shell.run_cell(f"%dli_restart {line}")
    assert isinstance(result.error_in_exec, error) and words in str(result.error_in_exec)
    assert env.request_log() == []


def test_a_restart_of_many_requests_needs_yes(shell, env):
    result = shell.run_cell("%dli_restart 1-301 --chunk-size 1")
    assert "add --yes" in str(result.error_in_exec) and env.request_log() == []
    result = shell.run_cell("%dli_restart 1-301 --chunk-size 1 --yes")  # confirmed: the read goes out
    assert "Unknown job ids 1, 2" in str(result.error_in_exec)
    assert env.request_log() and not posts(env)


def test_unknown_ids_on_the_line_send_no_stop_or_run(shell, env):
    job = running(env)
    result = shell.run_cell(f"%dli_restart {job} 987654")
    assert isinstance(result.error_in_exec, NotFoundError)
    assert "987654" in result.error_in_exec.message
    assert not posts(env)


def test_dli_savepoint_with_a_path_and_by_default(shell, env):
    job = running(env, "orders")
    df = shell.run_line_magic("dli_savepoint", f"{job} --path obs://my-bucket/sp/")
    assert re.fullmatch(r"obs://my-bucket/sp/savepoint-\d+", df.loc[0, "savepoint_path"])
    assert df.loc[0, "status"] == "job_running" and df.attrs["action"] == "savepoint"
    shell.user_ns["ids"] = [job]
    df = shell.run_line_magic("dli_savepoint", "$ids --timeout 20")
    assert re.fullmatch(rf"obs://dli-emulator/{job}/savepoint/savepoint-\d+", df.loc[0, "savepoint_path"])


def test_dli_savepoint_of_more_than_300_jobs_needs_yes(shell, env):
    """One request per job: the call is confirmed with --yes, as %dli_run / %dli_restart confirm theirs."""
    env.clear_request_log()
    result = shell.run_cell("%dli_savepoint 1-301")
    error = str(result.error_in_exec)
    assert isinstance(result.error_in_exec, BadInputError) and "add --yes" in error
    assert "one request per job" in error and "chunk size" not in error  # no chunks to raise
    assert env.request_log() == []
    result = shell.run_cell("%dli_savepoint 1-301 --yes")
    assert isinstance(result.error_in_exec, NotFoundError)  # confirmed: the jobs were read (none exists)
    assert env.request_log()


@pytest.mark.parametrize("line, words", [("--path s3://bucket/x/", "is not an OBS path"),
                                         ("--path Bad_Bucket/x", "is not an OBS path"), ("", "No job ids")])
def test_bad_savepoint_lines_send_nothing(shell, env, line, words):
    job = running(env)
    env.clear_request_log()
    result = shell.run_cell(f"%dli_savepoint {job if line else ''} {line}")
    assert isinstance(result.error_in_exec, BadInputError) and words in str(result.error_in_exec)
    assert env.request_log() == []


def test_restart_and_savepoint_help_shows_examples(shell):
    from dli_magic.magics import _LOADED

    magic = _LOADED[id(shell)]
    for doc in (magic.dli_restart.__doc__, magic.dli_savepoint.__doc__):
        assert "Examples::" in doc
    assert "--allow-no-savepoint" in magic.dli_restart.parser.format_help()
    assert "--path" in magic.dli_savepoint.parser.format_help()
