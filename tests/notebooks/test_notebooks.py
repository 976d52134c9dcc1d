"""Every example notebook runs top to bottom with a real kernel (nbclient), with no error output,
and no secret ends up in the executed notebook (outputs and widget state)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from dli_magic import runlog
from dli_magic.results import OUTCOME_COLUMNS, JobOutcome

from dli_magic.emulator.testing import SENTINEL_TOKEN

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if ".executed" not in p.name)


def execute(name: str, tmp_path: Path, first: str | None = None) -> tuple[dict, str]:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    if first is not None:
        nb.cells.insert(0, nbformat.v4.new_code_cell(first))
    client = NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    text = nbformat.writes(nb)
    (tmp_path / name).write_text(text)  # kept for inspection when a later assertion fails
    return nb, text


def error_outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def test_the_notebooks_exist():
    assert {"quickstart.ipynb", "panel.ipynb", "run-analysis.ipynb"} <= set(NOTEBOOKS)


# What each notebook must visibly show beyond running cleanly.
def _check_quickstart(nb, text):
    assert "999999" in text  # the failure row of an unknown id
    assert "dry run" in text.lower()
    # The health check caught the demo job that fails a while after it started, and said why.
    assert "unhealthy: left job_running after" in text and "healthy: running for the 30 s window" in text
    assert "Flink state" in text  # the one-job view
    # Whole messages (not cut at pandas' 50 characters), and the result frame in one block.
    assert "The request for submitting DLI jobs is delivered successfully." in text  # 62 characters, whole
    result = [c for c in nb.cells if "result" in c.metadata.get("tags", [])][0]
    table = result.outputs[0]["data"]["text/plain"]
    assert "..." not in table and "\\" not in table
    assert re.match(r"\s+" + r"\s+".join(name for name, _ in OUTCOME_COLUMNS) + r"\n", table), table


FOREIGN_JOB = "someone_elses_job"


def _prepare_run_analysis():
    # A run against another endpoint and project: the analysis must leave it out.
    runlog.record_outcomes([JobOutcome(4242, False, "DLI.0999: elsewhere", request_id="r1", name=FOREIGN_JOB)],
                           {"action": "run", "endpoint": "https://dli.eu-de.otc.t-systems.com", "project_id": "other",
                            "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:00:01+00:00"},
                           path=os.environ["DLI_HISTORY_PATH"])


def _check_run_analysis(nb, text):
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the analysis notebook should draw at least one plot"
    assert FOREIGN_JOB not in text and "elsewhere" not in text
    assert re.search(r"iot_window_agg \(219\)", text)  # jobs labelled "name (id)", not tuples
    assert "(219, " not in text
    assert "DLI.16001" in text and "DLI.N" not in text  # error codes survive the id normalisation
    assert "does not exist (DLI.16001)" in text and "The job N does not exist" in text


def _check_panel(nb, text):
    assert "application/vnd.jupyter.widget-view+json" in text


CHECKS = {"quickstart.ipynb": _check_quickstart, "run-analysis.ipynb": _check_run_analysis,
          "panel.ipynb": _check_panel}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_a_fresh_machine(name, tmp_path):
    # No DLI settings at all (the autouse fixture cleared them): the notebook starts its own emulator.
    if name == "run-analysis.ipynb":
        _prepare_run_analysis()
    nb, text = execute(name, tmp_path)
    assert not error_outputs(nb)
    assert "started a local DLI emulator" in text
    assert f"its runs are recorded in {os.environ['DLI_HISTORY_PATH']} (DLI_HISTORY_PATH)" in text
    CHECKS.get(name, lambda nb, text: None)(nb, text)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "panel.ipynb"])
def test_notebook_against_a_configured_service_leaks_no_secret(name, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    nb, text = execute(name, tmp_path)
    assert not error_outputs(nb)
    assert f"Using the local DLI emulator at {emulator.url} (configured by environment variable DLI_ENDPOINT)" in text
    assert SENTINEL_TOKEN not in text
    assert SENTINEL_TOKEN not in json.dumps(nb.metadata.get("widgets", {}))
    # The kernel really talked to this emulator with that token.
    assert any(entry["auth"] == "token" for entry in emulator.request_log())


def test_quickstart_off_the_local_emulator_picks_no_jobs(emulator, monkeypatch, tmp_path):
    # A DLI that is not the local emulator (a real account): the quickstart must not choose jobs to
    # start and stop. The service here is the emulator, made to look remote to is_local_emulator.
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    remote = "import dli_magic.local\ndli_magic.local.is_local_emulator = lambda *args, **kwargs: False"
    with pytest.raises(CellExecutionError) as failed:
        execute("quickstart.ipynb", tmp_path, first=remote)
    message = str(failed.value)
    assert "AssertionError" in message
    assert "starts and stops jobs, so it picks them itself only on the local DLI emulator" in message
    assert "batch = []" in message and "put job ids you own here" in message
    sent = [(e["method"], e["path"]) for e in emulator.request_log()]
    assert any(path.endswith("/jobs") for _, path in sent)  # it did list the jobs
    assert not [p for m, p in sent if m == "POST"], sent  # but started and stopped nothing
