"""The main job: run notebooks/quickstart.ipynb headless against DLI (the local emulator by default).

Prints the result DataFrame (the cell tagged `result`) and where the executed notebook was written.
Exits non-zero when any cell fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_emulator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default=str(ROOT / "notebooks" / "quickstart.ipynb"))
    parser.add_argument("--output", default=str(ROOT / "artifacts" / "quickstart.executed.ipynb"))
    parser.add_argument("--use-configured", action="store_true",
                        help="run against the DLI configured in the environment instead of an emulator")
    args = parser.parse_args()

    proc = None
    if not args.use_configured:
        for name in [n for n in os.environ if n.startswith("DLI_")]:
            del os.environ[name]  # the emulator's settings win over a stray configuration
        proc, settings = local_emulator.start()
        os.environ.update(settings)
        print(f"Started the DLI emulator with demo jobs at {settings['DLI_ENDPOINT']}")
    try:
        nb = nbformat.read(args.notebook, as_version=4)
        client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(Path(args.notebook).parent)}})
        failed = None
        try:
            client.execute()
        except CellExecutionError as exc:
            failed = exc
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
        if failed is not None:
            print(f"A cell failed; executed notebook written to {out}\n{failed}", file=sys.stderr)
            return 1
        for cell in nb.cells:
            if "result" in cell.get("metadata", {}).get("tags", []):
                for output in cell.get("outputs", []):
                    text = output.get("data", {}).get("text/plain")
                    if text:
                        print("\nResult DataFrame:\n" + text)
        print(f"\nExecuted notebook written to {out}")
        return 0
    finally:
        if proc is not None:
            local_emulator.stop(proc)


if __name__ == "__main__":
    sys.exit(main())
