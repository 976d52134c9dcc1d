"""The service only queues a stop or a savepoint ("delivered successfully"): the reads right after
its answer can still show the job untouched. Such a read is no answer: the call reads again until
the job changed (or a grace ran out), never takes the status_desc the job had before the request
for the savepoint's failure, and its rows say only what was read. Real HTTP to the emulator,
through an adapter mounted on the client's session (``restart_helpers.Enqueued``)."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.waiting import effect_grace
from restart_helpers import Enqueued, posts, running

SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")
CRASH = "Job is running with exception: TaskManager lost (container released); restarting."
SAVEPOINT_FAILED = "Savepoint failed: OBS bucket not writable."


@pytest.fixture
def enqueued(emu, settings):
    """``enqueued(delay, path)``: a client whose POSTs to ``path`` take effect ``delay`` s after their answer."""
    made = []

    def make(delay, path="/jobs/stop"):
        client = dli_magic.connect(**settings)
        queued = Enqueued(delay, path).mount(client)
        made.append((client, queued))
        return client, queued

    yield make
    for client, queued in made:
        queued.join()
        client.close()


def crashing(emu, name="crashing", **fields):
    return running(emu, name, status="job_running_exception", status_desc=CRASH, **fields)


@pytest.mark.parametrize("make", [running, crashing])
def test_a_stop_that_takes_effect_after_its_answer_is_waited_for(emu, enqueued, make):
    job = make(emu)
    client, queued = enqueued(0.3)
    df = api.restart_jobs([job], client=client, notify=None)
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert queued.forwarded == [200]  # the restart was still waiting when the stop took effect
    assert row["is_success"] == True and row["status"] == "job_running"  # noqa: E712
    assert SAVEPOINT.fullmatch(path)
    assert row["message"] == f"stopped with savepoint {path}; resumed from it; job_running"
    # the stop went out once; the run once, after a read showed the job stopped with its savepoint
    assert queued.answered == 1 and len(posts(emu, "/jobs/stop")) == 1
    assert [r["body"] for r in posts(emu, "/jobs/run")] == [{"job_ids": [job], "resume_savepoint": True}]
    assert emu.get_job(job)["status"] == "job_running"
    steps = df.attrs["steps"][job]
    assert [s["step"] for s in steps] == ["read", "stop", "after stop", "run", "after run"]
    assert steps[2]["status"] == "job_cancel_success" and steps[2]["savepoint_path"] == path


def test_a_savepoint_that_fails_late_is_told_by_its_own_reason_not_by_the_crash_before_it(emu, enqueued):
    job = crashing(emu)
    emu.set_behaviour(job, {"kind": "savepoint_fail", "reason": SAVEPOINT_FAILED})
    client, queued = enqueued(0.3)
    row = api.restart_jobs([job], client=client, notify=None).iloc[0]
    assert queued.forwarded == [200]
    assert row["is_success"] == False and row["status"] == "job_running_exception"  # noqa: E712
    assert row["message"] == (f"the stop with savepoint did not happen ({SAVEPOINT_FAILED}); not restarted: "
                              "the job is still job_running_exception")
    assert CRASH not in row["message"] and not posts(emu, "/jobs/run")


@pytest.mark.parametrize("make", [running, crashing])
def test_a_stop_that_shows_no_effect_is_read_for_the_grace_and_the_row_says_only_what_was_read(
        emu, enqueued, make):
    job = make(emu)
    before = emu.get_job(job)
    client, queued = enqueued(None)  # queued, and never acted on
    started = time.monotonic()
    df = api.restart_jobs([job], client=client, notify=None, allow_no_savepoint=True)
    elapsed = time.monotonic() - started
    row = df.iloc[0]
    assert elapsed >= effect_grace(client.settings.poll_interval)
    assert row["is_success"] is pd.NA and pd.isna(row["savepoint_path"])
    assert row["status"] == before["status"]
    described = f"{before['status']} ({CRASH})" if make is crashing else before["status"]
    assert row["message"] == (
        f"no sign of the stop with savepoint yet: still {described}, as before it, when last read; not restarted: "
        f"it may still stop — check `%dli_job {job}`, and once it is job_cancel_success, resume it with "
        f"`%dli_run {job} --resume-savepoint`")
    assert "did not happen" not in row["message"]
    # nothing else was sent: no plain stop (--allow-no-savepoint is for a savepoint that failed), no run
    assert queued.answered == 1 and not posts(emu)
    # the last read came after the grace
    stop_answered = df.attrs["steps"][job][1]["at"]
    last_read = df.attrs["steps"][job][2]["at"]
    from datetime import datetime

    gap = (datetime.fromisoformat(last_read) - datetime.fromisoformat(stop_answered)).total_seconds()
    assert gap >= effect_grace(client.settings.poll_interval) - 0.01


def test_a_stop_that_takes_effect_after_the_grace_leaves_a_row_that_claimed_nothing_it_did_not_read(
        emu, enqueued):
    job = running(emu)
    client, queued = enqueued(effect_grace(0.02) + 0.5)
    df = api.restart_jobs([job], client=client, notify=None)
    row = df.iloc[0]
    assert not queued.forwarded  # the restart ended before the stop took effect
    assert row["is_success"] is pd.NA and row["status"] == "job_running"
    assert row["message"].startswith("no sign of the stop with savepoint yet: still job_running, as before it, "
                                     "when last read; not restarted: it may still stop")
    queued.join()
    emu.advance_clock(1)
    stopped = emu.get_job(job)  # as the row said it might: stopped, with the savepoint the row says to resume
    assert stopped["status"] == "job_cancel_success" and SAVEPOINT.fullmatch(stopped["savepoint_path"])
    assert not posts(emu, "/jobs/run") and len(posts(emu, "/jobs/stop")) == 1


def test_a_stop_shorter_than_the_grace_wait_ends_at_the_timeout(emu, enqueued):
    job = running(emu)
    client, _ = enqueued(None)
    df = api.restart_jobs([job], client=client, notify=None, timeout=0.2)
    row = df.iloc[0]
    assert df.attrs["wait_timed_out"] is True
    assert row["message"].startswith("no sign of the stop with savepoint yet: still job_running, as before it, "
                                     "after the 0.2 s wait timeout; not restarted")


def test_a_savepoint_taken_after_its_answer_is_waited_for(emu, enqueued):
    job = running(emu, has_savepoint=True, savepoint_path="obs://dli-emulator/old/savepoint-1")
    client, queued = enqueued(0.3, "/savepoint")
    row = api.savepoint_jobs([job], "obs://my-bucket/sp/", client=client, notify=None).iloc[0]
    assert queued.forwarded == [200]
    assert row["is_success"] == True and re.fullmatch(r"obs://my-bucket/sp/savepoint-\d+", row["savepoint_path"])  # noqa: E712


def test_a_savepoint_that_shows_no_effect_is_not_called_failed_by_the_description_it_had(emu, enqueued):
    job = running(emu, status_desc="Checkpoint 41 expired before completing.")
    client, queued = enqueued(None, "/savepoint")
    row = api.savepoint_jobs([job], "obs://my-bucket/sp/", client=client, notify=None).iloc[0]
    assert row["is_success"] is pd.NA and pd.isna(row["savepoint_path"])
    assert row["message"] == (
        "savepoint requested; no sign of it yet: still job_running (Checkpoint 41 expired before completing.), as "
        f"before the request, when last read; the service may still take it — check `%dli_job {job}`")
    assert queued.answered == 1 and not posts(emu)
