"""Background restarts (issue 14): the read and the stops go out before the handle comes back; the
waits, runs and health go on on its worker; result() is the foreground frame; stop_waiting() ends
the restart as Ctrl-C does; the run is in the history from the start; nothing is sent twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError

import dli_magic
from dli_magic import api, runlog
from dli_magic.background import RunHandle
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.errors import BadInputError, NotFoundError
from restart_helpers import posts, running

ROOT = Path(__file__).resolve().parents[2]
SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")


@pytest.fixture
def slow(emulator_factory, client_settings):
    """A stop with savepoint takes 1 s, a start 1 s: the handle comes back long before the end."""
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=2.0)
    with dli_magic.connect(**client_settings(emu, poll_interval=0.05)) as client:
        yield emu, client


def _run(run_id):
    history = dli_magic.history()
    return history[history.run_id == run_id]


def test_the_handle_comes_back_after_the_stops_and_ends_with_the_foreground_frame(slow):
    emu, client = slow
    jobs = [running(emu, f"bg{i}") for i in range(2)]
    handle = api.restart_jobs(jobs, client=client, background=True, stable=0.3, notify=None)
    assert isinstance(handle, RunHandle) and not handle.done()
    assert [p["body"] for p in posts(emu)] == [{"job_ids": jobs, "trigger_savepoint": True}]  # the stop only
    recorded = _run(handle.run_id)
    assert recorded["wait"].tolist() == ["waiting"] * 2  # in the history from the start
    assert recorded["message"].tolist() == [
        f"stop sent; the restart waits in the background: not restarted yet — check `%dli_job {job}`, and once "
        f"it is job_cancel_success, resume it with `%dli_run {job} --resume-savepoint`" for job in jobs]
    assert handle.status()["waiting"].tolist() == [True, True]
    frame = handle.result(timeout=60)
    assert frame["is_success"].tolist() == [True, True] and frame["healthy"].tolist() == [True, True]
    for path, message in zip(frame["savepoint_path"], frame["message"]):
        assert SAVEPOINT.fullmatch(path)
        assert message == (f"stopped with savepoint {path}; resumed from it; job_running; healthy: running for "
                           "the 0.3 s window, Flink state RUNNING")
    # nothing sent twice: one stop, then one run resuming, for both
    assert [(p["path"].rsplit("/", 1)[-1], p["body"]) for p in posts(emu)] == [
        ("stop", {"job_ids": jobs, "trigger_savepoint": True}), ("run", {"job_ids": jobs, "resume_savepoint": True})]
    foreground = api.restart_jobs([running(emu, "fg")], client=client, stable=0.3, notify=None)
    assert list(frame.columns) == list(foreground.columns) and frame.dtypes.equals(foreground.dtypes)
    assert set(frame.attrs) == set(foreground.attrs)
    assert [s["step"] for s in frame.attrs["steps"][jobs[0]]] == [s["step"] for s in
                                                                  foreground.attrs["steps"][foreground.job_id[0]]]
    assert frame.attrs["history_run_id"] == handle.run_id
    recorded = _run(handle.run_id)
    assert recorded["wait"].tolist() == ["finished"] * 2 and recorded["message"].tolist() == frame["message"].tolist()
    assert recorded["savepoint_path"].tolist() == frame["savepoint_path"].tolist()
    assert _run(foreground.attrs["history_run_id"])["wait"].tolist() == ["finished"]
    assert "restart: done, 2 of 2 accepted" in repr(handle)


def test_stop_waiting_after_the_stop_sends_no_run_and_the_row_has_the_savepoint(slow):
    emu, client = slow
    job = running(emu)
    handle = api.restart_jobs([job], client=client, background=True, notify=None)
    handle.watch(lambda h: h.state.status(job) == "job_cancel_success" and h.stop_waiting())
    row = handle.result(timeout=60).iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["status"] == "job_cancel_success" and row["is_success"] is pd.NA
    assert row["message"] == (
        f"stopped with savepoint {path}; stopped, not restarted: interrupted (stop_waiting()) before the run "
        f"request; savepoint {path} — resume it with `%dli_run {job} --resume-savepoint`")
    assert not posts(emu, "/jobs/run") and len(posts(emu, "/jobs/stop")) == 1
    assert emu.get_job(job)["status"] == "job_cancel_success"
    assert _run(handle.run_id)["wait"].tolist() == ["stopped waiting"]
    assert _run(handle.run_id)["message"].tolist() == [row["message"]]


def test_stop_waiting_during_the_stop_keeps_where_the_job_was_read(slow):
    emu, client = slow
    job = running(emu)
    handle = api.restart_jobs([job], client=client, background=True, notify=None)
    handle.watch(lambda h: h.state.status(job) == "job_savepointing" and h.stop_waiting())
    frame = handle.result(timeout=60)
    row = frame.iloc[0]
    # no read after the stop (stop_waiting() starts none): the row keeps the read before it
    assert row["status"] == "job_savepointing" and row["is_success"] is pd.NA
    assert row["message"] == (
        "stop requested; still job_savepointing when waiting was interrupted; not restarted — check "
        f"`%dli_job {job}`, and once it is job_cancel_success, resume it with `%dli_run {job} --resume-savepoint`")
    assert _run(handle.run_id)["wait"].tolist() == ["stopped waiting"]
    assert frame.attrs["interrupted"] is True and frame.attrs["halted"].startswith("interrupted (stop_waiting())")
    assert not posts(emu, "/jobs/run") and len(posts(emu, "/jobs/stop")) == 1


def test_the_strict_error_is_the_result_and_the_history_has_the_rows(emu, client):
    job = running(emu)
    emu.set_behaviour(job, "savepoint_fail")
    handle = api.restart_jobs([job], client=client, background=True, strict=True, notify=None)
    with pytest.raises(api.JobsFailedError) as info:
        handle.result(timeout=60)
    assert info.value.job_ids == [job] and handle.exception() is info.value
    assert info.value.frame.attrs["history_run_id"] == handle.run_id
    assert _run(handle.run_id)["wait"].tolist() == ["finished"]
    assert not posts(emu, "/jobs/run")


def test_bad_input_and_unknown_ids_raise_at_once_and_send_nothing(emu, client):
    job = running(emu)
    with pytest.raises(BadInputError, match="dry_run sends nothing"):
        api.restart_jobs([job], client=client, background=True, dry_run=True)
    with pytest.raises(BadInputError):
        api.restart_jobs([job], client=client, background="yes")
    with pytest.raises(NotFoundError):
        api.restart_jobs([job, 987654], client=client, background=True)
    assert not posts(emu) and dli_magic.history().empty


def test_the_magic_returns_and_stores_the_handle(shell, env):
    job = running(env)
    shell.run_cell(f"%dli_restart {job} --background --out h")
    handle = shell.user_ns["h"]
    assert isinstance(handle, RunHandle)
    frame = handle.result(timeout=60)
    assert frame["is_success"].tolist() == [True] and frame.attrs["action"] == "restart"
    assert _run(handle.run_id)["source"].tolist() == ["magic"]
    second = shell.run_line_magic("dli_restart", f"{job} --background")
    assert isinstance(second, RunHandle)
    second.result(timeout=60)  # its worker's reads must not land in the log checked below
    env.clear_request_log()
    result = shell.run_cell(f"%dli_restart {job} --background --dry-run")
    assert isinstance(result.error_in_exec, UsageError) and "nothing to wait for" in str(result.error_in_exec)
    assert env.request_log() == []


def test_exiting_while_a_restart_waits_records_where_the_jobs_were_left(emulator_factory, tmp_path):
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=1.0)  # the stop takes 2 s
    job = running(emu)
    history = tmp_path / "history.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update(DLI_ENDPOINT=emu.url, DLI_AUTH_TOKEN=SENTINEL_TOKEN, DLI_PROJECT_ID=emu.project_id,
               DLI_POLL_INTERVAL="0.1", DLI_HISTORY_PATH=str(history),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p))
    script = textwrap.dedent(f"""
        import dli_magic
        handle = dli_magic.restart_jobs([{job}], background=True, timeout=600)
        print(handle.run_id, flush=True)
    """)  # the script ends while the stop is still under way
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    frame = runlog.load(history)
    assert frame["run_id"].tolist() == [done.stdout.strip()]
    assert frame["wait"].tolist() == ["not waited: interpreter exited"]
    assert frame["message"].tolist() == [
        f"stop sent; the interpreter exited while the restart waited: not restarted yet — check `%dli_job {job}`, "
        f"and once it is job_cancel_success, resume it with `%dli_run {job} --resume-savepoint`"]
    assert len(posts(emu, "/jobs/stop")) == 1 and not posts(emu, "/jobs/run")
