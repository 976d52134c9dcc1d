"""In a real kernel (nbclient): --wait draws ONE display updated in place; how errors come out."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from dli_magic.emulator.testing import SENTINEL_TOKEN


def _run(cells, cwd):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_wait_status_is_one_display_updated_in_place(emulator_factory, monkeypatch, tmp_path):
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=2.0)  # ~1 s to submit
    job = emu.create_job(name="kernel_job")
    monkeypatch.setenv("DLI_ENDPOINT", emu.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emu.project_id)
    monkeypatch.setenv("DLI_POLL_INTERVAL", "0.1")
    nb = _run(
        [
            "%load_ext dli_magic",
            f"df = %dli_run {job} --wait --timeout 30\ndf.status.tolist()",
            "%dli_run 1 --token nope",
            "%dli_run 99999 --strict",
        ],
        tmp_path,
    )
    outputs = nb.cells[1].outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1  # updates replaced it in place, no pile of status lines
    final = displays[0]
    assert "settled" in final.data["text/plain"] and "job_running" in final.data["text/html"]
    result = [o for o in outputs if o.output_type == "execute_result"][0]
    assert "job_running" in result.data["text/plain"]
    # A UsageError is IPython's one-line stderr message (the execute reply is still an error, so
    # nbclient fails the cell); the refused value is not echoed.
    usage = nb.cells[2].outputs[0]
    assert usage.name == "stderr" and usage.text.startswith("UsageError: --token") and "nope" not in usage.text
    # A --strict failure is a real, short `error` output.
    strict = [o for o in nb.cells[3].outputs if o.output_type == "error"][0]
    assert strict.ename == "JobsFailedError"
    assert len(strict.traceback) <= 3 and "99999" in "\n".join(strict.traceback)
    assert SENTINEL_TOKEN not in nbformat.writes(nb)
