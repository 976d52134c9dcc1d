"""A background run in a real ipykernel: its view is one display that the worker updates in place
(update_display_data on IOPub) while another cell runs, ending with the summary; re-attach from a
fresh kernel sends no second run request."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest

from dli_magic.emulator.testing import SENTINEL_TOKEN

jupyter_client = pytest.importorskip("jupyter_client")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kernel_env(emulator_factory, tmp_path):
    emu = emulator_factory(token=SENTINEL_TOKEN, speed=1.0)  # a run takes ~2 s to submit
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HUAWEICLOUD_SDK_"))}
    env.update(
        DLI_ENDPOINT=emu.url, DLI_AUTH_TOKEN=SENTINEL_TOKEN, DLI_PROJECT_ID=emu.project_id,
        DLI_POLL_INTERVAL="0.2", DLI_HISTORY_PATH=str(tmp_path / "history.sqlite"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    return emu, env


class Kernel:
    def __init__(self, env, cwd):
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code, timeout=60):
        """Run ``code``; every IOPub message until the kernel is idle again for it."""
        msg_id = self.kc.execute(code)
        messages = []
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, f"timeout running {code!r}"
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            messages.append(msg)
            if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                    and msg["parent_header"].get("msg_id") == msg_id):
                break
        reply = self.kc.get_shell_msg(timeout=timeout)
        assert reply["content"]["status"] == "ok", reply["content"]
        return messages

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def test_the_view_updates_while_another_cell_runs(kernel_env, tmp_path):
    emu, env = kernel_env
    jobs = [emu.create_job(name=f"kernel-bg-{i}") for i in range(2)]
    kernel = Kernel(env, tmp_path)
    try:
        kernel.run("%load_ext dli_magic")
        first = kernel.run(f"h = %dli_run {jobs[0]} {jobs[1]} --background\nh")
        shown = [m for m in first if m["msg_type"] == "display_data" and m["content"].get("transient")]
        assert len(shown) == 1
        display_id = shown[0]["content"]["transient"]["display_id"]
        assert "waiting for" in shown[0]["content"]["data"]["text/plain"]
        # Another cell runs (the kernel is busy with it) while the worker updates the view.
        second = kernel.run("import time\nfor _ in range(60):\n    time.sleep(0.1)\n    if h.done(): break\n"
                            "time.sleep(0.5)\nprint('DONE', h.done(), h.result()['status'].tolist())")
        updates = [m for m in second if m["msg_type"] == "update_display_data"]
        assert updates and all(u["content"]["transient"]["display_id"] == display_id for u in updates)
        texts = [u["content"]["data"]["text/plain"] for u in updates]
        assert "done, 2 of 2 accepted" in texts[-1]  # the view ends with the summary
        printed = "".join(m["content"]["text"] for m in second if m["msg_type"] == "stream")
        assert "DONE True ['job_running', 'job_running']" in printed
        assert not [m for m in first + second if m["msg_type"] == "error"]
        run_id = kernel.run("print('RUN', h.run_id)")
        run_id = "".join(m["content"]["text"] for m in run_id if m["msg_type"] == "stream").split()[-1]
    finally:
        kernel.close()
    posts = [r for r in emu.request_log() if r["method"] == "POST"]
    assert len(posts) == 1

    # A new kernel re-attaches to the (finished) run by its id: statuses read again, nothing sent.
    kernel = Kernel(env, tmp_path)
    try:
        kernel.run("%load_ext dli_magic")
        again = kernel.run(f"df = %dli_wait {run_id}\nprint('AGAIN', df['status'].tolist(), df.attrs['reattached'])")
        printed = "".join(m["content"]["text"] for m in again if m["msg_type"] == "stream")
        assert "AGAIN ['job_running', 'job_running'] True" in printed
    finally:
        kernel.close()
    assert len([r for r in emu.request_log() if r["method"] == "POST"]) == 1
