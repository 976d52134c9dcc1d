"""Ctrl-C at each step of a restart: nothing more is sent, and every row says where its job was
left, with the savepoint it can be resumed from."""

from __future__ import annotations

import _thread
import re
import threading

import pytest

import dli_magic
from dli_magic import api
from dli_magic.emulator.testing import SENTINEL_TOKEN
from restart_helpers import CtrlC, posts, running

SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")
INTERRUPTED = "Interrupted (Ctrl-C): nothing more was sent; each row says where its job was left."


@pytest.fixture
def slow(emulator_factory, client_settings):
    """A slower emulator (a stop with savepoint takes 1 s, a start 1 s): a wait is still going on
    when Ctrl-C comes, and the read after it finds the job where it was."""
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=2.0)
    with dli_magic.connect(**client_settings(emu)) as client:
        yield emu, client


def restart(client, ids, ctrl_c, **kwargs):
    try:
        return api.restart_jobs(ids, client=client, on_step=ctrl_c.on_step, on_state=ctrl_c.on_state, **kwargs)
    finally:
        ctrl_c.cancel()


def test_ctrl_c_while_reading_the_jobs_sends_nothing(emu, client):
    job = running(emu)
    emu.set_faults({"latency_ms": {"ms": 600, "path": "/streaming/jobs"}})
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            api.restart_jobs([job], client=client)
    finally:
        timer.cancel()
    assert not posts(emu)
    assert emu.get_job(job)["status"] == "job_running"


def test_ctrl_c_during_the_stop_request_runs_nothing_and_reads_where_the_job_is(emu, client, capsys):
    job = running(emu)
    emu.set_faults({"latency_ms": {"ms": 600, "path": "jobs/stop"}})  # the stop is processed, its answer slow
    df = restart(client, [job], CtrlC("stopping with a savepoint", delay=0.2))
    assert len(posts(emu, "/jobs/stop")) == 1 and not posts(emu, "/jobs/run")
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["status"] == "job_cancel_success"
    assert pd_na(row["is_success"])
    assert row["message"] == (
        "stop with savepoint: outcome unknown (interrupted (Ctrl-C) during the stop request: it may have been "
        f"sent); stopped with savepoint {path} (read afterwards), not restarted — resume it with "
        f"`%dli_run {job} --resume-savepoint`")
    assert df.attrs["interrupted"] is True and df.attrs["halted"].startswith("interrupted (Ctrl-C)")
    assert INTERRUPTED in capsys.readouterr().err
    assert df.attrs["history_run_id"]  # in the history, with the savepoint


def test_ctrl_c_while_waiting_for_the_stop_runs_nothing(slow):
    emu, client = slow
    job = running(emu)
    df = restart(client, [job], CtrlC("waiting for the stop", on_update=True))
    assert len(posts(emu, "/jobs/stop")) == 1 and not posts(emu, "/jobs/run")
    row = df.iloc[0]
    assert pd_na(row["is_success"]) and row["status"] == "job_savepointing"
    assert row["message"] == (
        "stop requested; still job_savepointing when waiting was interrupted; the stop is under way "
        f"(job_savepointing, read afterwards), not restarted — once it is job_cancel_success, resume it with "
        f"`%dli_run {job} --resume-savepoint`")
    emu.advance_clock(2)
    assert emu.get_job(job)["status"] == "job_cancel_success"  # stopped, as the row said it would be


def test_ctrl_c_during_the_run_request_is_not_followed_by_another_run(emu, client):
    job = running(emu)
    emu.set_faults({"latency_ms": {"ms": 600, "path": "jobs/run"}})
    df = restart(client, [job], CtrlC("starting", delay=0.2))
    assert len(posts(emu, "/jobs/run")) == 1
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["status"] == "job_running" and pd_na(row["is_success"])
    assert row["message"] == (
        f"stopped with savepoint {path}; run: outcome unknown (interrupted (Ctrl-C) during the run request: it "
        f"may have been sent); job_running when read afterwards: the run reached the service (resuming from "
        f"savepoint {path})")


def test_ctrl_c_while_waiting_for_the_start_keeps_the_savepoint_in_the_row(slow):
    emu, client = slow
    job = running(emu)
    df = restart(client, [job], CtrlC("waiting until running", on_update=True))
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["status"] == "job_submitting" and pd_na(row["is_success"])
    assert row["message"] == (
        f"stopped with savepoint {path}; resumed from it; still job_submitting when waiting was interrupted; "
        f"job_submitting when read afterwards: the run reached the service (resuming from savepoint {path})")
    assert len(posts(emu, "/jobs/run")) == 1


def test_ctrl_c_during_the_health_window_leaves_health_unknown(emu, client):
    job = running(emu)
    df = restart(client, [job], CtrlC("checking health", on_update=True, phase="stability"), stable=30)
    row = df.iloc[0]
    assert row["is_success"] == True and pd_na(row["healthy"])  # noqa: E712 -- restarted; health not told
    assert row["message"].endswith("job_running; health check interrupted (Ctrl-C)")
    assert df.attrs["interrupted"] is True


def test_ctrl_c_between_stop_chunks_leaves_the_unsent_jobs_running(emu, client):
    ids = [running(emu, f"s{i}") for i in range(6)]
    emu.set_faults({"latency_ms": {"ms": 300, "path": "jobs/stop"}})
    with dli_magic.connect(**{**client_settings_of(client), "max_workers": 1}) as one_worker:
        df = restart(one_worker, ids, CtrlC("stopping with a savepoint", delay=0.45), chunk_size=1)
    stops = posts(emu, "/jobs/stop")
    assert 1 <= len(stops) < 6 and not posts(emu, "/jobs/run")
    sent = {s["body"]["job_ids"][0] for s in stops}
    for job_id, message, status in zip(df["job_id"], df["message"], df["status"]):
        if job_id in sent:
            assert "not restarted" in message and SAVEPOINT.search(message)
        else:
            assert message == ("stop with savepoint not sent (interrupted); not restarted: nothing changed "
                               "(job_running when read before)")
            assert status == "job_running" and emu.get_job(job_id)["status"] == "job_running"


def client_settings_of(client):
    s = client.settings
    return {"endpoint": client.endpoint, "project_id": s.project_id, "auth_token": s.auth_token,
            "poll_interval": s.poll_interval, "backoff_base": s.backoff_base}


def pd_na(value):
    import pandas as pd

    return value is pd.NA


def test_a_stop_still_going_at_the_wait_timeout_is_not_followed_by_a_run(slow, capsys):
    emu, client = slow
    job = running(emu)
    df = api.restart_jobs([job], client=client, timeout=0.3)
    assert not posts(emu, "/jobs/run")
    row = df.iloc[0]
    assert row["status"] == "job_savepointing" and pd_na(row["is_success"])
    assert row["message"] == (
        "stop requested; still job_savepointing after the 0.3 s wait timeout; not restarted — once it is "
        f"job_cancel_success, resume it with `%dli_run {job} --resume-savepoint`")
    assert df.attrs["wait_timed_out"] is True
    assert "Wait timeout of 0.3 s reached while waiting for the stop." in capsys.readouterr().err
