"""Ctrl-C while a stop, run or savepoint request waits to be sent again after an HTTP 429: the
gateway refused it unprocessed and nothing is out, so the job's row says nothing was done (batch's
NotSentOutcome "not sent again (…)"), and no read follows for it."""

from __future__ import annotations

import _thread
import threading
import time

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.batch import NotSentOutcome
from restart_helpers import CtrlC, dli_calls, posts, running

NOT_SENT_AGAIN = "not sent again (interrupted while waiting to retry after HTTP 429): nothing was done"


@pytest.fixture
def patient(settings):
    """A client whose retry deadline outlasts the 429's Retry-After: the Ctrl-C lands in that wait."""
    with dli_magic.connect(**{**settings, "retry_deadline": 30}) as client:
        yield client


def _reads_after_the_post(emu, path):
    calls = dli_calls(emu)
    last = max(i for i, c in enumerate(calls) if c["method"] == "POST" and c["path"].endswith(path))
    return [c for c in calls[last + 1:] if c["method"] == "GET"]


def test_ctrl_c_while_a_savepoint_request_waits_to_retry_after_a_429_is_a_row_where_nothing_was_done(
        emu, settings, capsys, tmp_path):
    job = running(emu)
    emu.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "/savepoint"}})
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        df = api.savepoint_jobs([job], "obs://bucket/sp/", **{**settings, "retry_deadline": 30})
    finally:
        timer.cancel()
    assert [p["status"] for p in posts(emu, "/savepoint")] == [429]
    assert not _reads_after_the_post(emu, "/savepoint")  # not waited for, not read again
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] == "job_running"  # as read before
    assert row["message"] == f"savepoint {NOT_SENT_AGAIN}"
    assert "may have been sent" not in row["message"]
    assert df.attrs["interrupted"] is True and df.attrs["requests"] == 1
    assert df.attrs["steps"][job][-1]["message"] == NOT_SENT_AGAIN
    assert emu.get_job(job)["status"] == "job_running" and not emu.get_job(job)["savepoint_path"]
    history = dli_magic.history()
    assert history[history.job_id == job]["message"].tolist() == [f"savepoint {NOT_SENT_AGAIN}"]
    assert "Interrupted (Ctrl-C)" in capsys.readouterr().err


def test_ctrl_c_while_the_restarts_stop_waits_to_retry_after_a_429_leaves_the_job_running(emu, patient):
    job = running(emu)
    client = patient
    emu.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "/jobs/stop"}})
    ctrl_c = CtrlC("stopping with a savepoint", delay=0.5)
    try:
        df = api.restart_jobs([job], client=client, on_step=ctrl_c.on_step, notify=None)
    finally:
        ctrl_c.cancel()
    assert [p["status"] for p in posts(emu, "/jobs/stop")] == [429] and not posts(emu, "/jobs/run")
    assert not _reads_after_the_post(emu, "/jobs/stop")
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] == "job_running"
    assert row["message"] == (f"stop with savepoint {NOT_SENT_AGAIN}; not restarted: nothing changed "
                              "(job_running when read before)")
    assert df.attrs["interrupted"] is True
    assert emu.get_job(job)["status"] == "job_running"


def test_ctrl_c_while_the_restarts_run_waits_to_retry_after_a_429_leaves_the_job_stopped(emu, patient):
    job = running(emu, status="job_cancel_success")
    client = patient
    emu.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "/jobs/run"}})
    ctrl_c = CtrlC("starting", delay=0.5)
    try:
        df = api.restart_jobs([job], client=client, start_stopped=True, on_step=ctrl_c.on_step, notify=None)
    finally:
        ctrl_c.cancel()
    assert [p["status"] for p in posts(emu, "/jobs/run")] == [429]
    assert not _reads_after_the_post(emu, "/jobs/run")
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] == "job_cancel_success"
    assert row["message"] == f"not started: the run was {NOT_SENT_AGAIN}"
    assert emu.get_job(job)["status"] == "job_cancel_success"


def test_ctrl_c_while_a_later_savepoint_request_waits_to_retry_after_a_429_does_not_send_it(
        emu, settings, capsys):
    """With several jobs the requests after the first go out concurrently: Ctrl-C during one's
    Retry-After ends that wait too (it is halted as a run/stop chunk is), so it is not sent and the
    call returns at once; the others, answered, are read as usual."""
    jobs = [running(emu, name=f"j{i}") for i in range(3)]
    emu.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": f"/jobs/{jobs[1]}/savepoint"}})
    timer = threading.Timer(0.7, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    try:
        df = api.savepoint_jobs(jobs, "obs://bucket/sp/", **{**settings, "retry_deadline": 30})
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.5, "the call waited for the Retry-After"
    time.sleep(0.3)  # a retry the call left behind would go out here
    assert [p["status"] for p in posts(emu, f"/jobs/{jobs[1]}/savepoint")] == [429]
    rows = df.set_index("job_id")
    assert rows.loc[jobs[1], "is_success"] is pd.NA and rows.loc[jobs[1], "status"] == "job_running"
    assert rows.loc[jobs[1], "message"] == f"savepoint {NOT_SENT_AGAIN}"
    assert df.attrs["interrupted"] is True
    assert df.attrs["steps"][jobs[1]][-1]["message"] == NOT_SENT_AGAIN
    assert emu.get_job(jobs[1])["status"] == "job_running" and not emu.get_job(jobs[1])["savepoint_path"]
    for job in (jobs[0], jobs[2]):
        assert [p["status"] for p in posts(emu, f"/jobs/{job}/savepoint")] == [200]
        assert "not sent" not in rows.loc[job, "message"]
    assert "Interrupted (Ctrl-C)" in capsys.readouterr().err


def test_stop_waiting_while_a_background_restarts_run_waits_to_retry_after_a_429_sends_nothing_more(
        emu, settings):
    """A background restart's run request waiting out a 429's Retry-After: stop_waiting() ends that
    wait (the request runs inside the handle's stop as well as the batch's halt), result() comes at
    once, the run is not sent again and the row says so; the notice that nothing more was sent holds."""
    job = running(emu)
    notices: list[str] = []
    with dli_magic.connect(**{**settings, "retry_deadline": 30, "poll_interval": 0.05}) as client:
        emu.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "/jobs/run"}})
        handle = api.restart_jobs([job], client=client, background=True, notify=notices.append)
        deadline = time.monotonic() + 30
        while not [p for p in posts(emu, "/jobs/run") if p["status"] == 429]:
            assert time.monotonic() < deadline, "the run request was not throttled"
            time.sleep(0.01)
        stopped_at = time.time()
        handle.stop_waiting()
        started = time.monotonic()
        df = handle.result(timeout=10)
        assert time.monotonic() - started < 1.0, "result() waited for the Retry-After"
        time.sleep(0.3)  # a retry left behind would go out here
    assert [p["status"] for p in posts(emu, "/jobs/run")] == [429]
    assert not [r for r in dli_calls(emu) if r["method"] == "POST" and r["wall_time"] > stopped_at]
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] == "job_cancel_success"
    assert row["message"].startswith("stopped with savepoint ")
    assert f"stopped, not restarted: the run was {NOT_SENT_AGAIN}; savepoint " in row["message"]
    assert df.attrs["interrupted"] is True
    assert df.attrs["halted"] == "interrupted (stop_waiting()) during the run requests"
    assert emu.get_job(job)["status"] == "job_cancel_success"
    assert any(n.startswith("Interrupted (stop_waiting()): nothing more was sent") for n in notices)
