"""Every example notebook runs top to bottom with a real kernel (nbclient), with no error output,
and no secret ends up in the executed notebook (outputs and widget state)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dli_magic.emulator.testing import SENTINEL_TOKEN

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if ".executed" not in p.name)


def execute(name: str, tmp_path: Path) -> tuple[dict, str]:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
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


def _check_run_analysis(nb, text):
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the analysis notebook should draw at least one plot"


def _check_panel(nb, text):
    assert "application/vnd.jupyter.widget-view+json" in text


CHECKS = {"quickstart.ipynb": _check_quickstart, "run-analysis.ipynb": _check_run_analysis,
          "panel.ipynb": _check_panel}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_a_fresh_machine(name, tmp_path):
    # No DLI settings at all (the autouse fixture cleared them): the notebook starts its own emulator.
    nb, text = execute(name, tmp_path)
    assert not error_outputs(nb)
    assert "started a local DLI emulator" in text
    CHECKS.get(name, lambda nb, text: None)(nb, text)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "panel.ipynb"])
def test_notebook_against_a_configured_service_leaks_no_secret(name, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    nb, text = execute(name, tmp_path)
    assert not error_outputs(nb)
    assert "Using the DLI service configured by environment variable DLI_ENDPOINT" in text
    assert SENTINEL_TOKEN not in text
    assert SENTINEL_TOKEN not in json.dumps(nb.metadata.get("widgets", {}))
    # The kernel really talked to this emulator with that token.
    assert any(entry["auth"] == "token" for entry in emulator.request_log())
