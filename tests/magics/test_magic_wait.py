"""--wait: polling the list API, request budget per round, live status, timeout and Ctrl-C."""

from __future__ import annotations

import math
import re

import pytest

from dli_magic import api
from dli_magic.waiting import WaitState


@pytest.fixture
def slow_emulator(project_at):
    """Runs take ~2 s to submit (speed 1)."""
    return project_at(speed=1.0, poll_interval=0.05)


def _list_requests(emu):
    return [r for r in emu.request_log() if r["method"] == "GET" and r["path"].endswith("/streaming/jobs")]


def test_wait_reaches_job_running(shell, dli_env, capsys):
    failing = dli_env.create_job(name="etl_fail")  # the emulator fails submits of *fail* names
    df = shell.run_line_magic("dli_run", f"138 204 {failing} --wait")
    assert df["status"].tolist() == ["job_running", "job_running", "job_submit_fail"]
    assert df.attrs["wait"] is True and df.attrs["wait_timed_out"] is False
    assert df.attrs["wait_rounds"] >= 1
    # A terminal shell gets one status line rewritten with \r, ended by one newline.
    err = capsys.readouterr().err
    assert "\r" in err and err.count("\n") == 1 and "settled" in err


def test_strict_after_wait_flags_jobs_that_failed_to_submit(shell, dli_env):
    failing = dli_env.create_job(name="etl_fail")
    result = shell.run_cell(f"%dli_run 138 {failing} --wait --strict")
    assert isinstance(result.error_in_exec, api.JobsFailedError)
    assert result.error_in_exec.job_ids == [failing]
    frame = result.error_in_exec.frame
    assert frame["is_success"].all()  # accepted by the call, failed while submitting
    assert frame.set_index("job_id").loc[failing, "status"] == "job_submit_fail"


def test_a_round_reads_the_jobs_still_submitting_and_each_changed_job_once(shell, slow_emulator, monkeypatch):
    """A round lists only the jobs in job_submitting (pages of 100); a job that left it is read
    on its own once (a few per round) or by one pass over the list (many at once)."""
    monkeypatch.setenv("DLI_POLL_INTERVAL", "0.3")
    ids = [slow_emulator.create_job(name=f"job_{i}") for i in range(150)]
    others = [slow_emulator.create_job(name=f"other_{i}", status="job_running") for i in range(120)]
    shell.user_ns["ids"] = ids
    slow_emulator.clear_request_log()
    df = shell.run_line_magic("dli_run", "$ids --wait --timeout 20")
    assert (df["status"] == "job_running").all() and len(others) == 120
    rounds = df.attrs["wait_rounds"]
    lists = _list_requests(slow_emulator)
    submitting = [r for r in lists if "status=job_submitting" in r["query"]]
    settled = [r for r in lists if "status=job_running" in r["query"] or "status=job_submit_fail" in r["query"]]
    whole = [r for r in lists if "status=" not in r["query"]]
    assert rounds >= 2 and len(submitting) + len(settled) + len(whole) == len(lists)
    assert len(submitting) <= rounds * math.ceil(len(ids) / 100)
    # Many jobs that left job_submitting at once are looked for where they settle.
    project = len(ids) + len(others)
    assert len(settled) <= rounds * (math.ceil(project / 100) + 1)
    assert len(whole) <= rounds * math.ceil(project / 100)
    assert all("limit=100" in r["query"] for r in lists)
    singles = [r["path"] for r in slow_emulator.request_log() if "/streaming/jobs/" in r["path"] and r["method"] == "GET"]
    assert len(singles) == len(set(singles))  # no job read on its own twice


def test_timeout_returns_the_frame_with_pending_rows(shell, slow_emulator, capsys):
    job = slow_emulator.create_job(name="slow")
    df = shell.run_line_magic("dli_run", f"{job} --wait --timeout 0.3")
    assert df.loc[0, "status"] == "job_submitting"
    assert df.attrs["wait_timed_out"] is True
    assert "0.3 s wait timeout" in df.loc[0, "message"]
    err = capsys.readouterr().err
    assert "Wait timeout of 0.3 s reached" in err and str(job) in err
    # The live `\r` line is ended (saying why) before the notice, which starts on its own line.
    assert re.search(r"wait timeout \(0\.3 s\) reached *\nWait timeout", err)


def test_timeout_with_strict_counts_pending_jobs_as_failed(shell, slow_emulator):
    job = slow_emulator.create_job(name="slow")
    result = shell.run_cell(f"%dli_run {job} --wait --timeout 0.2 --strict")
    assert isinstance(result.error_in_exec, api.JobsFailedError)


def test_ctrl_c_stops_waiting_and_never_cancels(slow_emulator):
    job = slow_emulator.create_job(name="slow")
    calls = []

    def on_state(state):
        calls.append(dict(state.statuses))  # what each view showed
        if len(calls) == 2:
            raise KeyboardInterrupt

    df = api.execute("run", [job], wait=True, on_state=on_state, notify=None)
    assert df.attrs["wait_interrupted"] is True
    assert df.loc[0, "status"] == "job_submitting"
    assert "interrupted" in df.loc[0, "message"]
    assert not [r for r in slow_emulator.request_log() if r["path"].endswith("jobs/stop")]
    assert slow_emulator.get_job(job)["status"] in ("job_submitting", "job_running")


def test_ctrl_c_from_the_notebook_display_in_the_magic(shell, slow_emulator, monkeypatch, capsys):
    job = slow_emulator.create_job(name="slow")
    shell.run_cell("%config DliMagic.live_status = 'display'")
    published = []

    def publish(data, metadata=None, *args, **kwargs):
        published.append((data, kwargs))
        if len(published) == 3:
            raise KeyboardInterrupt  # the user presses Ctrl-C while the status is drawn

    monkeypatch.setattr(shell.display_pub, "publish", publish)
    result = shell.run_cell(f"df = %dli_run {job} --wait")
    assert result.success
    df = shell.user_ns["df"]
    assert df.attrs["wait_interrupted"] is True
    assert df.loc[0, "status"] == "job_submitting"
    # One display, then in-place updates of the same display id (text/plain + HTML table).
    first = published[0]
    assert "text/html" in first[0] and "waiting for 1 of 1 job" in first[0]["text/plain"]
    assert all(p[1].get("update") for p in published[1:])
    assert "Stopped waiting (Ctrl-C)" in capsys.readouterr().err


def test_a_job_that_disappears_is_unknown(shell, slow_emulator):
    job = slow_emulator.create_job(name="slow")

    def on_state(state):
        if state.rounds == 1:  # someone deletes the job (DELETE over HTTP) while we wait
            with api.connect() as other:
                other.delete_job(job)

    df = api.execute("run", [job], wait=True, on_state=on_state, notify=None, timeout=5)
    assert df["status"].isna().all()
    assert "not found in the job list" in df.loc[0, "message"]


def test_progress_callback_gets_status_counts(slow_emulator):
    job = slow_emulator.create_job(name="slow")
    seen = []
    api.run_jobs([job], wait=True, timeout=0.2, progress=seen.append)
    assert seen and seen[0] == {"job_submitting": 1}


def test_wait_summary_says_refused_for_ids_the_service_refused(shell, dli_env, capsys):
    df = shell.run_line_magic("dli_run", "138 130 999999 --wait")
    assert df.set_index("job_id").loc[138, "status"] == "job_running"
    err = capsys.readouterr().err
    assert "settled (job_running 1, refused 2)" in err  # 130 runs already, 999999 does not exist
    assert "unknown" not in err and "not listed" not in err


def test_counts_say_only_what_a_read_found():
    from dli_magic.results import Job

    state = WaitState(job_ids=[1, 2, 3, 4])
    state.refused.add(4)
    state.note(Job(1, status="job_running"))
    assert state.counts() == {"job_running": 1, "unknown": 2, "refused": 1}
    state.rounds = 1
    assert state.counts() == {"job_running": 1, "unknown": 2, "refused": 1}  # 2 and 3 were not read
    state.note(Job(2))  # read without a status
    assert state.counts() == {"job_running": 1, "unknown": 2, "refused": 1}
    state.missing.update({2, 3})  # a read of them did not find them
    assert state.counts() == {"job_running": 1, "not listed": 2, "refused": 1}


def test_wait_on_a_recorded_run_with_strict_keeps_the_rows_in_out(shell, dli_env):
    failing = dli_env.create_job(name="etl_fail")  # accepted, then fails while submitting
    shell.run_cell(f"%dli_run 138 {failing} --background --out h")
    run_id = shell.user_ns["h"].run_id
    shell.user_ns["h"].result(timeout=30)
    result = shell.run_cell(f"%dli_wait {run_id} --strict --out rows")
    error = result.error_in_exec
    assert isinstance(error, api.JobsFailedError) and error.job_ids == [failing]
    assert error.hint.startswith("Every row is in `rows`.")
    rows = shell.user_ns["rows"]
    assert rows["job_id"].tolist() == [138, failing]
    assert rows.set_index("job_id").loc[failing, "status"] == "job_submit_fail"
