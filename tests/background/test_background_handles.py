"""Background runs (issue 14): a handle returned once the request is answered, the same frame as
the foreground call, stop_waiting, callbacks, several handles at once, the exit, bad run ids."""

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

import dli_magic
from dli_magic import api, runlog
from dli_magic.background import RunHandle
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.errors import DLIError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def slow_env(project_at):
    """Runs take ~2 s to submit (speed 1): a wait is long enough to watch."""
    return project_at(speed=1.0, poll_interval=0.1)


def _posts(emu):
    return [r for r in emu.request_log() if r["method"] == "POST" and r["path"].endswith(("/jobs/run", "/jobs/stop"))]


def _wait_of(run_id):
    history = dli_magic.history()
    return history[history.run_id == run_id]["wait"].iloc[0]


def test_a_handle_comes_back_before_the_jobs_settle_and_ends_with_the_foreground_frame(slow_env):
    jobs = [slow_env.create_job(name=f"bg-{i}") for i in range(3)]
    handle = dli_magic.run_jobs(jobs, background=True)
    assert isinstance(handle, RunHandle) and not handle.done()
    assert len(_posts(slow_env)) == 1  # the request went out before the call returned
    assert _wait_of(handle.run_id) == "waiting"  # in the history from the start
    live = handle.status()
    assert live["job_id"].tolist() == jobs and live["waiting"].tolist() == [True] * 3
    frame = handle.result(timeout=30)
    assert handle.done()
    foreground = dli_magic.run_jobs([slow_env.create_job(name="fg")], wait=True)
    assert list(frame.columns) == list(foreground.columns) and frame.dtypes.equals(foreground.dtypes)
    assert frame["status"].tolist() == ["job_running"] * 3
    assert frame.attrs["history_run_id"] == handle.run_id and frame.attrs["wait"] is True
    assert _wait_of(handle.run_id) == "finished"
    assert "done, 3 of 3 accepted" in repr(handle)


def test_the_exception_of_the_call_is_the_result(slow_env):
    broken = slow_env.create_job(name="broken", behaviour="submit_fail")
    handle = dli_magic.run_jobs([broken], background=True, strict=True)
    with pytest.raises(api.JobsFailedError) as info:
        handle.result(timeout=30)
    assert info.value.job_ids == [broken] and handle.exception() is info.value


def test_a_bad_input_raises_at_once_and_sends_nothing(slow_env):
    with pytest.raises(DLIError):
        dli_magic.run_jobs(["x"], background=True)
    assert slow_env.request_log() == []


def test_stop_waiting_keeps_the_rows_and_never_touches_the_jobs(slow_env):
    job = slow_env.create_job(name="slow")
    handle = dli_magic.run_jobs([job], background=True)
    handle.stop_waiting()
    frame = handle.result(timeout=10)
    assert frame.attrs["wait_interrupted"] is True and frame["is_success"].tolist() == [True]
    # Stopped at once: before the first status read, or while it was out (the read is abandoned).
    assert re.search(r"still (job_submitting|unread) when waiting was interrupted", frame["message"].iloc[0])
    assert [r["path"].rsplit("/", 1)[-1] for r in _posts(slow_env)] == ["run"]  # no stop was sent
    assert _wait_of(handle.run_id) == "stopped waiting"


def test_done_callbacks_run_once_even_when_added_late(slow_env):
    job = slow_env.create_job(name="cb")
    seen = []
    handle = dli_magic.run_jobs([job], background=True)
    handle.add_done_callback(lambda h: seen.append(("early", h.done())))
    handle.result(timeout=30)
    handle.add_done_callback(lambda h: seen.append(("late", h.done())))
    assert seen == [("early", True), ("late", True)]


def test_two_handles_at_once_share_one_client(slow_env):
    first = [slow_env.create_job(name=f"a{i}") for i in range(2)]
    second = [slow_env.create_job(name=f"b{i}") for i in range(2)]
    with dli_magic.connect() as client:
        a = dli_magic.run_jobs(first, background=True, client=client)
        b = dli_magic.run_jobs(second, background=True, client=client)
        frames = [a.result(timeout=30), b.result(timeout=30)]
        manager = client.session.get_adapter(slow_env.url).poolmanager
        assert len(manager.pools.keys()) == 1  # one pool for both waits
    assert [f["job_id"].tolist() for f in frames] == [first, second]
    assert all((f["status"] == "job_running").all() for f in frames)
    assert len(_posts(slow_env)) == 2


def test_the_magic_returns_and_stores_the_handle(shell, slow_env):
    job = slow_env.create_job(name="magic-bg")
    shell.run_cell(f"%dli_run {job} --background --out h")
    handle = shell.user_ns["h"]
    assert isinstance(handle, RunHandle)
    assert handle.result(timeout=30)["status"].tolist() == ["job_running"]
    result = shell.run_cell(f"%dli_run {job} --background --dry-run")
    assert not result.success


@pytest.mark.parametrize("run_id, said", [
    ("not-a-run", "is not a run id"),
    ("20261130T101500-0123456789ab", "There is no run 20261130T101500-0123456789ab"),
])
def test_bad_run_ids_are_one_line(shell, slow_env, capsys, run_id, said):
    result = shell.run_cell(f"%dli_wait {run_id}")
    assert isinstance(result.error_in_exec, DLIError) and said in str(result.error_in_exec)
    assert slow_env.request_log() == []


def _script_env(emu, history):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update(DLI_ENDPOINT=emu.url, DLI_AUTH_TOKEN=SENTINEL_TOKEN, DLI_PROJECT_ID=emu.project_id,
               DLI_POLL_INTERVAL="0.1", DLI_HISTORY_PATH=str(history),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p))
    return env


def test_a_killed_process_leaves_a_run_to_reattach_to_without_a_second_request(slow_env, tmp_path, monkeypatch):
    history = tmp_path / "history.sqlite"
    monkeypatch.setenv("DLI_HISTORY_PATH", str(history))
    jobs = [slow_env.create_job(name=f"orphan-{i}") for i in range(2)]
    script = textwrap.dedent(f"""
        import os, signal, dli_magic
        handle = dli_magic.run_jobs({jobs}, background=True)
        print(handle.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # the kernel dies while waiting
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_script_env(slow_env, history),
                          capture_output=True, text=True, timeout=60)
    run_id = done.stdout.strip()
    assert done.returncode == -9 and run_id, done.stderr
    assert _wait_of(run_id) == runlog.DIED_WHILE_WAITING
    assert len(_posts(slow_env)) == 1
    frame = dli_magic.wait_for(run_id)
    assert frame["job_id"].tolist() == jobs and frame["status"].tolist() == ["job_running"] * 2
    assert frame.attrs["reattached"] is True and frame.attrs["history_run_id"] == run_id
    assert len(_posts(slow_env)) == 1  # re-attaching sent no run request
    assert _wait_of(run_id) == "finished"
    assert (dli_magic.history().run_id == run_id).sum() == 2  # the same run, updated, not a copy


def test_exiting_with_a_wait_running_does_not_hang_and_records_it(slow_env, tmp_path):
    history = tmp_path / "history.sqlite"
    job = slow_env.create_job(name="left-behind")
    script = textwrap.dedent(f"""
        import dli_magic
        handle = dli_magic.run_jobs([{job}], background=True, timeout=600)
        print(handle.run_id, flush=True)
    """)  # the script ends while the job is still submitting
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], env=_script_env(slow_env, history),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    frame = runlog.load(history)
    assert frame["wait"].tolist() == ["not waited: interpreter exited"]
    assert frame["run_id"].tolist() == [done.stdout.strip()]


def test_changing_a_setting_keeps_the_client_of_a_running_wait(shell, slow_env):
    """The magics rebuild their client when settings change; a background wait using the old one
    goes on with it, and the old client is closed when that wait ends."""
    job = slow_env.create_job(name="keeps-its-client")
    shell.run_cell(f"%dli_run {job} --background --out h")
    handle = shell.user_ns["h"]
    shell.run_cell("%dli_config read_timeout=30")
    shell.run_cell("%dli_jobs --out listed")  # a new client for the new settings
    assert not handle.client.closed
    frame = handle.result(timeout=30)
    assert frame["status"].tolist() == ["job_running"] and frame.attrs.get("wait_error") is None
    for _ in range(50):  # the done-callbacks run on the worker, just after the result is set
        if handle.client.closed:
            break
        time.sleep(0.05)
    assert handle.client.closed  # closed once its last wait ended


def test_reattaching_keeps_the_runs_own_figures(slow_env):
    jobs = [slow_env.create_job(name=f"figures-{i}") for i in range(2)]
    first = dli_magic.run_jobs(jobs, wait=True, chunk_size=1)
    before = dli_magic.history()
    before = before[before.run_id == first.attrs["history_run_id"]].iloc[0]
    again = dli_magic.wait_for(first.attrs["history_run_id"])
    after = dli_magic.history()
    after = after[after.run_id == first.attrs["history_run_id"]].iloc[0]
    assert (after["started"], after["finished"], after["attempts"]) == (
        before["started"], before["finished"], before["attempts"]) and after["attempts"] == 2
    assert again.attrs["requests"] == 2 and again.attrs["chunk_size"] == 1


def test_reattaching_matches_an_endpoint_written_in_capitals(slow_env, monkeypatch):
    monkeypatch.setenv("DLI_ENDPOINT", slow_env.url.replace("127.0.0.1", "LocalHost"))
    job = slow_env.create_job(name="capitals")
    run_id = dli_magic.run_jobs([job], wait=True).attrs["history_run_id"]
    assert dli_magic.wait_for(run_id)["status"].tolist() == ["job_running"]


@pytest.mark.parametrize("arguments, named", [({"client": "x"}, "client"), ({"progress": 5}, "progress"),
                                              ({"on_state": 5}, "on_state")])
def test_wait_for_checks_its_arguments_first(slow_env, arguments, named):
    with pytest.raises(DLIError, match=named):
        dli_magic.wait_for("20261130T101500-0123456789ab", **arguments)
    assert slow_env.request_log() == []


def test_a_terminal_shows_the_handle_once(shell, slow_env, capsys):
    """A terminal cannot update a printed line: the handle is printed once, not once per round."""
    job = slow_env.create_job(name="terminal")
    shell.run_cell(f"h = %dli_run {job} --background\nh")
    shell.user_ns["h"].result(timeout=30)
    time.sleep(0.3)
    shown = capsys.readouterr().out
    assert shown.count("<RunHandle") == 1
