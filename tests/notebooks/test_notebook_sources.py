"""The committed notebooks are what notebooks/tools/make_notebooks.py writes (edit the script, not
the .ipynb files): regenerate in a temp dir and compare everything but the random cell ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def _content(path: Path) -> list[tuple]:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, dict(c.get("metadata", {}))) for c in nb.cells] + [dict(nb.metadata)]


def test_committed_notebooks_match_their_source(tmp_path):
    (tmp_path / "notebooks").mkdir()
    subprocess.run([sys.executable, str(ROOT / "notebooks" / "tools" / "make_notebooks.py")],
                   cwd=tmp_path, check=True, capture_output=True)
    written = sorted(p.name for p in (tmp_path / "notebooks").glob("*.ipynb"))
    assert written == ["panel.ipynb", "quickstart.ipynb", "run-analysis.ipynb"]
    for name in written:
        assert _content(tmp_path / "notebooks" / name) == _content(ROOT / "notebooks" / name), name
