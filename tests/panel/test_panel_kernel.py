"""The panel in a real ipykernel (the installed 7.x): worker-thread updates reach the frontend.

ipykernel 7 stopped routing output printed from threads (ipywidgets #4020), so the panel's worker
only sets traits. This test plays the frontend: it starts a kernel, drives the panel with
execute requests and checks the ``comm_msg`` updates on IOPub carry the result table and summary,
and that nothing from the worker leaked into a cell's stream output.
"""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest

from dli_magic.emulator.testing import SENTINEL_TOKEN

jupyter_client = pytest.importorskip("jupyter_client")

ROOT = Path(__file__).resolve().parents[2]


def _kernel_env(emulator, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HUAWEICLOUD_SDK_"))}
    env.update(
        DLI_ENDPOINT=emulator.url,
        DLI_AUTH_TOKEN=SENTINEL_TOKEN,
        DLI_PROJECT_ID=emulator.project_id,
        DLI_POLL_INTERVAL="0.02",
        DLI_HISTORY_PATH=str(tmp_path / "history.sqlite"),
        # The kernel must import this checkout even where the venv lacks the editable install.
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    return env


def _execute(kc, code, messages, timeout=60):
    """Run ``code``; collect every IOPub message until the kernel is idle again for this request."""
    msg_id = kc.execute(code)
    deadline = time.monotonic() + timeout
    reply = None
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timeout running {code!r}"
        try:
            msg = kc.get_iopub_msg(timeout=remaining)
        except queue.Empty:
            continue
        messages.append(msg)
        if (
            msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
            and msg["parent_header"].get("msg_id") == msg_id
        ):
            break
    reply = kc.get_shell_msg(timeout=timeout)
    assert reply["content"]["status"] == "ok", reply["content"]
    return msg_id


def test_worker_updates_reach_the_frontend_in_ipykernel(emulator, tmp_path, assert_no_secrets):
    job = emulator.create_job(name="panel-in-kernel", status="job_cancel_success", has_savepoint=True)
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=_kernel_env(emulator, tmp_path), cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    messages: list[dict] = []
    try:
        kc.wait_for_ready(timeout=60)
        _execute(kc, "import dli_magic, threading\np = dli_magic.panel()\ndisplay(p)\nassert p.wait_idle(30)\n"
            "print('IDS', p.summary.model_id, p.run_button.model_id, p.output.model_id, p.table.model_id)", messages)
        _execute(
            kc,
            f"p.select([{job}])\np.savepoint_box.value = True\n"
            "p.run_button.click()\nassert p.busy",
            messages,
        )
        _execute(
            kc,
            "assert p.wait_idle(30)\nassert p.last_worker_thread is not threading.main_thread()\n"
            "print('RESULT', p.result['job_id'].tolist(), p.result['is_success'].tolist())",
            messages,
        )
        time.sleep(0.2)  # any straggling IOPub message of the worker
        while True:
            try:
                messages.append(kc.get_iopub_msg(timeout=0.2))
            except queue.Empty:
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    streams = [m for m in messages if m["msg_type"] == "stream"]
    printed = "".join(m["content"]["text"] for m in streams)
    assert f"RESULT [{job}] [True]" in printed
    # Nothing of the worker spilled into a cell's output (errors go to the panel's Output widget).
    assert all("Traceback" not in m["content"]["text"] for m in streams)
    assert not [m for m in messages if m["msg_type"] == "error"]

    ids_line = next(line for line in printed.splitlines() if line.startswith("IDS "))
    summary_id, run_id, output_id, table_id = ids_line.split()[1:]
    updates: dict[str, list[dict]] = {}
    for m in messages:
        if m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "update":
            updates.setdefault(m["content"]["comm_id"], []).append(m["content"]["data"]["state"])
    tables = [
        o["data"]["text/html"]
        for state in updates.get(output_id, [])
        for o in state.get("outputs", [])
        if o.get("output_type") == "display_data" and "text/html" in o.get("data", {})
    ]
    assert any("<table" in t and str(job) in t for t in tables), "the result table never reached the frontend"
    summaries = [s["value"] for s in updates.get(summary_id, []) if "value" in s]
    assert any("1 job — 1 ok, 0 failed" in v for v in summaries), summaries
    # Run was disabled while busy; afterwards the job runs, so it stays disabled and says so.
    disabled = [s["disabled"] for s in updates.get(run_id, []) if "disabled" in s]
    assert disabled[-2:] == [False, True], disabled
    labels = [s["description"] for s in updates.get(run_id, []) if "description" in s]
    assert labels[0] == "Run 1 job" and labels[-1] == "Run", labels
    # The table's data went to the frontend from the worker, twice (the load, the reload after the run).
    tables = [s["_dt_args"]["data_json"] for s in updates.get(table_id, []) if "_dt_args" in s]
    tables = [t for t in tables if t != "[]"]  # the empty table the panel opens with
    assert len(tables) >= 2 and all(f'"panel-in-kernel", {job}' in t for t in tables), len(tables)
    assert "job_cancel_success" in tables[0] and "job_running" in tables[-1]
    assert_no_secrets(str(messages))
