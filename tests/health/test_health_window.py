"""Job health (issue 12): --stable watches the started jobs, the reasons reach the row, Flink's own
state is read once per job at the end; failures of the check never lose the rows."""

from __future__ import annotations

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.errors import BadInputError

STABLE = 1.0  # seconds of wall time; the emulator runs at speed 50 (a crash 10 s in is 0.2 s away)


@pytest.fixture
def env(project_at):
    """Speed 50 with fast polling."""
    return project_at(speed=50.0, poll_interval=0.1)


def _graph_calls(emu):
    return [r for r in emu.request_log() if r["path"].endswith("/execute-graph")]


def test_a_job_that_stays_running_is_healthy(env):
    job = env.create_job(name="steady")
    frame = dli_magic.run_jobs([job], stable=STABLE)
    row = frame.iloc[0]
    assert (row["status"], row["healthy"]) == ("job_running", True)
    assert "healthy: running for the 1 s window, Flink state RUNNING" in row["message"]
    assert len(_graph_calls(env)) == 1  # one execute-graph call per job, at the end
    assert frame.attrs["wait"] is True and frame.attrs["stable"] == STABLE
    # Every read in the window was the list filtered by job_running: no call per job per round.
    rounds = [r for r in env.request_log() if r["method"] == "GET" and r["path"].endswith("/streaming/jobs")]
    assert rounds and all("status=job_running" in r["query"] or "status=job_submitting" in r["query"] for r in rounds)


def test_a_crash_looping_job_is_caught_within_the_window(env):
    steady = env.create_job(name="steady")
    looping = env.create_job(name="looping", behaviour={"kind": "crash_loop", "after": 10, "every": 5})
    frame = dli_magic.run_jobs([steady, looping], stable=STABLE).set_index("job_id")
    assert frame.loc[steady, "healthy"] == True  # noqa: E712 -- pandas' nullable boolean
    bad = frame.loc[looping]
    assert bad["healthy"] == False  # noqa: E712
    assert bad["status"] == "job_running_exception" and bad["status_desc"]
    assert "unhealthy: left job_running after" in bad["message"] and bad["status_desc"] in bad["message"]
    assert len(_graph_calls(env)) == 1  # only the job still running gets the final check


def test_a_submit_failure_carries_the_services_reason(env):
    job = env.create_job(name="broken", behaviour={"kind": "submit_fail", "reason": "queue q1 has no free CUs"})
    frame = dli_magic.run_jobs([job], wait=True)
    row = frame.iloc[0]
    assert row["status"] == "job_submit_fail" and row["status_desc"] == "queue q1 has no free CUs"
    assert pd.isna(row["healthy"])  # health was not asked for: not claimed
    checked = dli_magic.run_jobs([job], stable=STABLE).iloc[0]
    assert checked["healthy"] == False  # noqa: E712
    assert "did not reach job_running: job_submit_fail (queue q1 has no free CUs)" in checked["message"]


def test_execute_graph_failing_leaves_health_unknown_and_keeps_the_rows(env):
    job = env.create_job(name="steady")
    env.set_faults({"error": {"status": 503, "count": 100, "path": "execute-graph"}})
    frame = dli_magic.run_jobs([job], stable=STABLE)
    row = frame.iloc[0]
    assert row["is_success"] == True and row["status"] == "job_running"  # noqa: E712
    assert pd.isna(row["healthy"])
    assert "health unknown: Flink's state could not be read (ServiceError" in row["message"]
    assert "request id" in row["message"]


def test_strict_raises_on_an_unhealthy_job_with_its_reason(env):
    looping = env.create_job(name="looping", behaviour={"kind": "crash_loop", "after": 10, "every": 5})
    with pytest.raises(api.JobsFailedError) as info:
        dli_magic.run_jobs([looping], stable=STABLE, strict=True)
    assert info.value.job_ids == [looping]
    assert f"{looping}: left job_running after" in info.value.message
    assert info.value.frame["healthy"].tolist() == [False]


def test_stable_in_the_magic_implies_waiting_and_shows_the_countdown(shell, env, capsys):
    job = env.create_job(name="steady")
    shell.run_cell(f"df = %dli_run {job} --stable 1")
    df = shell.user_ns["df"]
    assert df["healthy"].tolist() == [True] and df.attrs["wait"] is True
    err = capsys.readouterr().err
    assert "stability window" in err and "s left" in err
    assert "healthy 1, unhealthy 0" in err


@pytest.mark.parametrize("value", ["-1", "abc", "1e9", "nan", "0"])
def test_a_bad_stable_value_is_one_line_and_sends_nothing(shell, env, capsys, value):
    result = shell.run_cell(f"%dli_run 1 --stable {value}")
    assert not result.success
    shown = capsys.readouterr()
    lines = [line for line in (shown.out + shown.err).splitlines() if line.strip()]
    assert any("stable" in line for line in lines) and "Traceback" not in shown.out + shown.err
    assert env.request_log() == []


@pytest.mark.parametrize("value", [-1, 0, 1e9, float("nan"), True, "30"])
def test_a_bad_stable_value_in_the_api_sends_nothing(env, value):
    with pytest.raises(BadInputError, match="stable"):
        dli_magic.run_jobs([1], stable=value)
    assert env.request_log() == []


def test_stable_does_not_apply_to_stop(env):
    with pytest.raises(BadInputError, match="not stop"):
        dli_magic.stop_jobs([1], stable=5)
    assert env.request_log() == []


def _refuse_reads_once_the_window_starts(env, fault):
    """on_state for api.execute: from the stability window on, every GET gets ``fault``."""
    armed = []

    def on_state(state):
        if state.phase == "stability" and not armed:
            armed.append(True)
            env.set_faults({"error": {"count": -1, "method": "GET", **fault}})

    return on_state


@pytest.mark.parametrize("fault", [
    {"status": 503, "error_msg": "service busy"},  # three failed rounds in a row
    {"status": 403, "error_code": "APIGW.0302", "error_msg": "not authorised"},  # ends it at once
], ids=["503", "403"])
def test_a_health_check_ended_by_a_read_error_fails_strict_and_says_so(env, fault):
    """A CI gate must not go green on jobs whose health was never judged."""
    job = env.create_job(name="steady")
    on_state = _refuse_reads_once_the_window_starts(env, fault)
    with pytest.raises(api.JobsFailedError) as info:
        api.execute("run", [job], stable=STABLE, strict=True, on_state=on_state, notify=None, retry_deadline=0.3)
    assert info.value.job_ids == [job]
    assert f"{job}: health not checked: " in info.value.message and fault["error_msg"] in info.value.message
    row = info.value.frame.iloc[0]
    assert pd.isna(row["healthy"])
    assert "; health not checked: " in row["message"] and fault["error_msg"] in row["message"]
    recorded = dli_magic.history()
    assert "health not checked" in recorded[recorded.job_id == job]["message"].iloc[0]
