"""The service only queues a run as it queues a stop ("delivered successfully"): right after the
answer a job may still read job_cancel_success. The restart's run step reads such a job again for
the grace, as its stop step and run_jobs(wait=True) do, and never calls a run that was only queued
a failure. Real HTTP to the emulator, through ``restart_helpers.Enqueued`` on the client's session."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.waiting import effect_grace
from restart_helpers import Enqueued, posts, running

SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")


@pytest.fixture
def queued_runs(settings):
    """``queued_runs(delay)``: a client whose runs take effect ``delay`` s after their answer (None: never)."""
    made = []

    def make(delay):
        client = dli_magic.connect(**settings)
        queued = Enqueued(delay, "/jobs/run").mount(client)
        made.append((client, queued))
        return client, queued

    yield make
    for client, queued in made:
        queued.join()
        client.close()


def test_a_run_that_takes_effect_after_its_answer_is_waited_for(emu, queued_runs):
    job = running(emu)
    client, queued = queued_runs(0.3)
    df = api.restart_jobs([job], client=client, notify=None)
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert queued.answered == 1 and queued.forwarded == [200]  # still waiting when the run took effect
    assert row["is_success"] == True and row["status"] == "job_running"  # noqa: E712
    assert row["message"] == f"stopped with savepoint {path}; resumed from it; job_running"
    assert [r["body"] for r in posts(emu, "/jobs/run")] == [{"job_ids": [job], "resume_savepoint": True}]


def test_a_stopped_job_started_by_a_queued_run_is_waited_for(emu, queued_runs):
    job = running(emu, status="job_cancel_success")
    client, _ = queued_runs(0.3)
    row = api.restart_jobs([job], client=client, start_stopped=True, notify=None).iloc[0]
    assert row["is_success"] == True and row["status"] == "job_running"  # noqa: E712
    assert row["message"] == "started (it was job_cancel_success) without a savepoint; job_running"


def test_a_run_that_shows_no_effect_is_read_for_the_grace_and_not_called_a_failure(emu, queued_runs):
    job = running(emu)
    client, queued = queued_runs(None)  # queued, and never acted on
    df = api.restart_jobs([job], client=client, notify=None)
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["status"] == "job_cancel_success"
    assert row["is_success"] is pd.NA
    assert row["message"] == (
        f"stopped with savepoint {path}; run sent, but no sign of it yet: still job_cancel_success, as before it, "
        f"when last read; it may still start — check `%dli_job {job}`; if it does not, resume it with "
        f"`%dli_run {job} --resume-savepoint`")
    assert queued.answered == 1 and not posts(emu, "/jobs/run")  # sent once, never again
    # the last read came after the grace
    from datetime import datetime

    steps = df.attrs["steps"][job]
    assert [s["step"] for s in steps] == ["read", "stop", "after stop", "run", "after run"]
    gap = (datetime.fromisoformat(steps[4]["at"]) - datetime.fromisoformat(steps[3]["at"])).total_seconds()
    assert gap >= effect_grace(client.settings.poll_interval) - 0.01
