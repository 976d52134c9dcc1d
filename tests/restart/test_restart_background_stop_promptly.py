"""stop_waiting() ends a background restart promptly, also while a read of the job statuses is in
flight (the stop step's wait, the run step's, the health window): the read is abandoned as a
background run/stop abandons it, no read starts after the stop, and each row says where its job
was left (a job whose latest request was not read since says it was sent and not read)."""

from __future__ import annotations

import re
import threading
import time

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.emulator.testing import SENTINEL_TOKEN
from restart_helpers import posts, running

SLOW_MS = 4000
SLOW_READS = {"latency_ms": {"ms": SLOW_MS, "path": "/streaming/jobs", "method": "GET"}}
SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")


@pytest.fixture
def slow(emulator_factory, client_settings):
    """A stop with savepoint takes 1 s, a start 1 s; the client polls every 0.05 s."""
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=2.0)
    with dli_magic.connect(**client_settings(emu, poll_interval=0.05)) as client:
        yield emu, client


class SlowFrom:
    """From the step whose label starts with ``step`` on, every status read takes SLOW_MS (set on
    the worker, before that step's first read)."""

    def __init__(self, emu, step: str):
        self.emu, self.step = emu, step
        self.armed = threading.Event()

    def on_step(self, label: str) -> None:
        if label.startswith(self.step) and not self.armed.is_set():
            self.emu.set_faults(SLOW_READS)
            self.armed.set()


def _stopped_promptly(emu, handle, slow: SlowFrom):
    assert slow.armed.wait(30), "the step was not reached"
    time.sleep(0.3)  # the step's first read is out, and slow
    stopped_at = time.time()
    handle.stop_waiting()
    started = time.monotonic()
    frame = handle.result(timeout=SLOW_MS / 1000 * 2)
    assert time.monotonic() - started < 1.0, "result() waited for the slow read"
    # no read started after the stop (the read after an interruption is not made)
    assert not [r for r in emu.request_log() if r["method"] == "GET" and r["wall_time"] > stopped_at + 0.01]
    emu.clear_faults()
    assert frame.attrs["wait_interrupted"] is True and frame.attrs["interrupted"] is True
    assert frame.attrs["halted"].startswith("interrupted (stop_waiting())")
    history = dli_magic.history()
    recorded = history[history.run_id == handle.run_id]
    assert recorded["wait"].tolist() == ["stopped waiting"] * len(frame)
    assert recorded["message"].tolist() == frame["message"].tolist()
    return frame


def test_a_slow_read_while_waiting_for_the_stop_is_abandoned(slow):
    emu, client = slow
    job = running(emu)
    reads = SlowFrom(emu, "waiting for the stop")
    handle = api.restart_jobs([job], client=client, background=True, on_step=reads.on_step, notify=None)
    frame = _stopped_promptly(emu, handle, reads)
    row = frame.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] is pd.NA and row["savepoint_path"] is pd.NA
    assert row["message"] == (
        "stop sent, then interrupted (stop_waiting()) while waiting for the stop; its status was not read "
        f"afterwards; not restarted — check `%dli_job {job}`, and once it is job_cancel_success, resume it with "
        f"`%dli_run {job} --resume-savepoint`")
    assert len(posts(emu, "/jobs/stop")) == 1 and not posts(emu, "/jobs/run")
    emu.advance_clock(2)
    assert emu.get_job(job)["status"] == "job_cancel_success"  # as the row said: the stop was sent


def test_a_slow_read_while_waiting_until_running_is_abandoned(slow):
    emu, client = slow
    job = running(emu)
    reads = SlowFrom(emu, "waiting until running")
    handle = api.restart_jobs([job], client=client, background=True, on_step=reads.on_step, notify=None)
    frame = _stopped_promptly(emu, handle, reads)
    row = frame.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["is_success"] is pd.NA and row["status"] is pd.NA
    assert row["message"] == (
        f"stopped with savepoint {path}; run sent, then interrupted (stop_waiting()) while waiting for the jobs "
        f"to start; its status was not read afterwards; savepoint {path} — check `%dli_job {job}`")
    assert [r["body"] for r in posts(emu, "/jobs/run")] == [{"job_ids": [job], "resume_savepoint": True}]
    emu.advance_clock(2)
    assert emu.get_job(job)["status"] == "job_running"  # as the row said: the run was sent


def test_a_slow_read_in_the_health_window_is_abandoned(slow):
    emu, client = slow
    job = running(emu)
    reads = SlowFrom(emu, "checking health")
    handle = api.restart_jobs([job], client=client, background=True, stable=30, on_step=reads.on_step,
                              notify=None)
    frame = _stopped_promptly(emu, handle, reads)
    row = frame.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["status"] == "job_running"
    assert row["is_success"] == True and row["healthy"] is pd.NA  # noqa: E712 -- restarted; health not told
    assert row["message"] == (f"stopped with savepoint {path}; resumed from it; job_running; "
                              "health check interrupted (stop_waiting())")
    assert len(posts(emu, "/jobs/run")) == 1


def test_the_foreground_restart_reads_its_statuses_on_the_callers_thread(slow, monkeypatch):
    """No handle, no stop event: every read is made on the caller's thread, as before (Ctrl-C
    interrupts it there); a background restart's are made on reader threads."""
    from dli_magic import restart, waiting

    emu, client = slow
    threads: list[str] = []
    original = waiting.read_jobs

    def read_jobs(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(waiting, "read_jobs", read_jobs)
    monkeypatch.setattr(restart, "read_jobs", read_jobs)
    frame = api.restart_jobs([running(emu)], client=client, stable=0.2, notify=None)
    assert frame["is_success"].tolist() == [True] and frame["healthy"].tolist() == [True]
    assert len(threads) > 2 and set(threads) == {threading.current_thread().name}
    threads.clear()
    handle = api.restart_jobs([running(emu)], client=client, stable=0.2, background=True, notify=None)
    assert handle.result(timeout=60)["healthy"].tolist() == [True]
    assert threads[0] == threading.current_thread().name  # the read before the stops
    assert len(threads) > 2 and all(name.startswith("dli-wait") for name in threads[1:])
