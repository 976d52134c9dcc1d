"""A restart with start_stopped of a job in job_submit_fail that fails to submit again, the same
way, reads as it did before the run but for its update_time (a detail field): that later
update_time shows the run went through, so the row says it failed, at once. Where no update_time
tells (the job list has none), the row says it may have failed again or not started yet; a run
queued and never acted on is still read for the grace."""

from __future__ import annotations

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.waiting import effect_grace
from restart_helpers import Enqueued, posts

REASON = "Failed to submit the job: the queue has not enough CUs for the job's cu_number."


@pytest.fixture
def fast(emulator_factory, client_settings):
    """An emulator where a submit fails within a millisecond of the run: every read after the run
    finds the job in job_submit_fail again, with the same status_desc."""
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=5000.0)
    return emu, client_settings(emu)


def failing(emu, name="sf"):
    return emu.create_job(name=name, status="job_submit_fail", status_desc=REASON, behaviour="submit_fail",
                          update_time=emu.now_ms() - 60_000)


def test_a_job_that_fails_to_submit_again_is_reported_failed_without_waiting_for_the_grace(fast):
    emu, settings = fast
    job = failing(emu)
    with dli_magic.connect(**settings) as client:
        df = api.restart_jobs([job], client=client, start_stopped=True, notify=None)
        grace_rounds = effect_grace(client.settings.poll_interval) / client.settings.poll_interval
    row = df.iloc[0]
    assert len(posts(emu, "/jobs/run")) == 1
    assert row["is_success"] == False and row["status"] == "job_submit_fail"  # noqa: E712
    assert row["message"] == (f"started (it was job_submit_fail ({REASON})) without a savepoint; "
                              f"then job_submit_fail ({REASON})")
    assert df.attrs["read_rounds"] <= 3 < grace_rounds  # the read before and one after the run (or two)
    steps = df.attrs["steps"][job]
    assert steps[-1]["step"] == "after run" and steps[-1]["status"] == "job_submit_fail"


def test_without_update_times_a_job_read_in_job_submit_fail_as_before_may_have_failed_again(fast):
    emu, settings = fast
    ids = [failing(emu, f"sf{i}") for i in range(3)]  # more than 2 × max_workers: read from the job list
    with dli_magic.connect(**{**settings, "max_workers": 1}) as client:
        df = api.restart_jobs(ids, client=client, start_stopped=True, notify=None)
    assert len(posts(emu, "/jobs/run")) == 1
    for job, row in zip(ids, df.itertuples()):
        assert row.is_success is pd.NA and row.status == "job_submit_fail"
        assert row.message == (
            f"run sent; still job_submit_fail ({REASON}) as before it, when last read; it may have failed again "
            f"or not started yet — check `%dli_job {job}`; if it has not started, start it with `%dli_run {job}`")
        assert "it may still start" not in row.message


def test_a_queued_run_of_a_job_in_job_submit_fail_is_read_for_the_grace_and_not_called_a_failure(emu, settings):
    job = emu.create_job(name="sf", status="job_submit_fail", status_desc=REASON, behaviour="submit_fail",
                         update_time=emu.now_ms() - 60_000)
    with dli_magic.connect(**settings) as client:
        queued = Enqueued(None, "/jobs/run").mount(client)  # queued, and never acted on
        df = api.restart_jobs([job], client=client, start_stopped=True, notify=None)
        grace = effect_grace(client.settings.poll_interval)
    row = df.iloc[0]
    assert queued.answered == 1 and not posts(emu, "/jobs/run")
    assert row["is_success"] is pd.NA and row["status"] == "job_submit_fail"
    assert row["message"] == (
        f"run sent; still job_submit_fail ({REASON}) as before it, when last read; it may have failed again or "
        f"not started yet — check `%dli_job {job}`; if it has not started, start it with `%dli_run {job}`")
    from datetime import datetime

    steps = df.attrs["steps"][job]
    assert [s["step"] for s in steps] == ["read", "run", "after run"]
    gap = (datetime.fromisoformat(steps[2]["at"]) - datetime.fromisoformat(steps[1]["at"])).total_seconds()
    assert gap >= grace - 0.01  # the last read came after the grace


def test_ctrl_c_while_waiting_for_a_queued_run_of_a_job_in_job_submit_fail_does_not_call_it_failed(emu, settings):
    from restart_helpers import CtrlC

    job = emu.create_job(name="sf", status="job_submit_fail", status_desc=REASON, behaviour="submit_fail",
                         update_time=emu.now_ms() - 60_000)
    ctrl_c = CtrlC("waiting until running", on_update=True)
    with dli_magic.connect(**settings) as client:
        Enqueued(None, "/jobs/run").mount(client)
        try:
            df = api.restart_jobs([job], client=client, start_stopped=True, on_step=ctrl_c.on_step,
                                  on_state=ctrl_c.on_state, notify=None)
        finally:
            ctrl_c.cancel()
    row = df.iloc[0]
    assert df.attrs["interrupted"] is True
    assert row["is_success"] is pd.NA and row["status"] == "job_submit_fail"
    assert row["message"] == (
        f"run sent; still job_submit_fail ({REASON}) as before it, when waiting was interrupted; "
        f"job_submit_fail ({REASON}) when read afterwards, as before the run: it may have failed again or not "
        f"started yet — check `%dli_job {job}`")
    assert [s["step"] for s in df.attrs["steps"][job]][-1] == "read after the interruption"
