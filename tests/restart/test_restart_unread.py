"""A wait of the restart that ends before any read of the jobs succeeded (the reads failed up to
the timeout, or the timeout is 0): one more read says where the jobs are; when that read fails too,
each row says what was sent, that its status was not read, and what to do. Never a blank row."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.emulator.testing import SENTINEL_TOKEN
from restart_helpers import posts, running

SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")
FAILING_READS = {"error": {"status": 503, "count": -1, "method": "GET"}}


class FailingReads:
    """Every read fails from the step whose label starts with ``step`` on; with ``until_timeout``,
    only until that wait reaches its timeout (the read after it works)."""

    def __init__(self, emu, step: str, until_timeout: bool):
        self.emu, self.step, self.until_timeout = emu, step, until_timeout
        self.armed = False

    def on_step(self, label: str) -> None:
        if label.startswith(self.step):
            self.armed = True
            self.emu.set_faults(FAILING_READS)

    def on_state(self, state) -> None:
        if self.armed and self.until_timeout and state.timed_out:
            self.emu.clear_faults()


@pytest.fixture
def slow_polling(settings):
    """A client that reads twice within a 0.3 s wait (fewer failed rounds than end a wait)."""
    with dli_magic.connect(**{**settings, "poll_interval": 0.5, "max_retries": 0}) as client:
        yield client


def test_reads_failing_up_to_the_stops_timeout_are_followed_by_one_more_read(emu, slow_polling):
    job = running(emu)
    reads = FailingReads(emu, "waiting for the stop", until_timeout=True)
    df = api.restart_jobs([job], client=slow_polling, timeout=0.3, on_step=reads.on_step, on_state=reads.on_state,
                          notify=None)
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert df.attrs["wait_timed_out"] is True
    assert SAVEPOINT.fullmatch(path) and df.attrs["savepoints"] == {job: path}
    assert row["is_success"] == True and row["status"] == "job_running"  # noqa: E712
    assert row["message"] == f"stopped with savepoint {path}; resumed from it; job_running"
    after_stop = df.attrs["steps"][job][2]
    assert after_stop["step"] == "after stop" and after_stop["status"] == "job_cancel_success"


def test_when_the_read_after_the_stops_timeout_fails_too_the_row_says_the_stop_was_sent(emu, slow_polling):
    job = running(emu)
    reads = FailingReads(emu, "waiting for the stop", until_timeout=False)
    df = api.restart_jobs([job], client=slow_polling, timeout=0.3, on_step=reads.on_step, notify=None)
    emu.clear_faults()
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] is pd.NA and row["savepoint_path"] is pd.NA
    assert row["message"] == (
        "stop sent, then its status could not be read after the 0.3 s wait timeout (ServiceError); not restarted — "
        f"check `%dli_job {job}`, and once it is job_cancel_success, resume it with "
        f"`%dli_run {job} --resume-savepoint`")
    assert not posts(emu, "/jobs/run")
    assert df.attrs["errors"][-1].startswith("reading after the stop: ServiceError")
    emu.advance_clock(1)
    assert emu.get_job(job)["status"] == "job_cancel_success"  # as the row said: the stop was sent


def test_when_no_read_after_the_run_succeeds_the_row_says_the_run_was_sent(emu, slow_polling):
    job = running(emu)
    reads = FailingReads(emu, "waiting until running", until_timeout=False)
    df = api.restart_jobs([job], client=slow_polling, timeout=0.3, on_step=reads.on_step, notify=None)
    emu.clear_faults()
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["is_success"] is pd.NA
    assert row["message"] == (
        f"stopped with savepoint {path}; run sent, then its status could not be read after the 0.3 s wait timeout "
        f"(ServiceError); savepoint {path} — check `%dli_job {job}`")
    assert [r["body"] for r in posts(emu, "/jobs/run")] == [{"job_ids": [job], "resume_savepoint": True}]


def test_a_0_s_wait_timeout_from_the_settings_still_reads_the_jobs_once(emulator_factory, client_settings):
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=1.0)  # a stop with savepoint takes seconds
    job = running(emu)
    with dli_magic.connect(**client_settings(emu, wait_timeout=0)) as client:
        df = api.restart_jobs([job], client=client, notify=None)
    row = df.iloc[0]
    assert df.attrs["timeout"] == 0 and df.attrs["wait_timed_out"] is True
    assert row["is_success"] is pd.NA and row["status"] == "job_savepointing"
    assert row["message"] == ("stop requested; still job_savepointing after the 0 s wait timeout; not restarted — "
                              f"once it is job_cancel_success, resume it with `%dli_run {job} --resume-savepoint`")
    assert not posts(emu, "/jobs/run")
