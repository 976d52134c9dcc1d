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
HISTORY_VAR = "DLI_HISTORY_PATH"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default=str(ROOT / "notebooks" / "quickstart.ipynb"))
    parser.add_argument("--output", default=str(ROOT / "artifacts" / "quickstart.executed.ipynb"))
    parser.add_argument("--use-configured", action="store_true",
                        help="run against the DLI configured in the environment instead of an emulator")
    args = parser.parse_args()

    proc = None
    if args.use_configured:
        from dli_magic.local import configured_service

        if configured_service() is None:
            # Without this the notebook would quietly start its own emulator.
            print("--use-configured: no DLI settings found (DLI_ENDPOINT / DLI_REGION / profile file)",
                  file=sys.stderr)
            return 2
    else:
        for name in [n for n in os.environ if n.startswith("DLI_") and n != HISTORY_VAR]:
            del os.environ[name]  # the emulator's settings win over a stray configuration
        # Demo runs are recorded here unless the user chose a history file: never in the real history.
        if not os.environ.get(HISTORY_VAR):
            os.environ[HISTORY_VAR] = str(ROOT / "artifacts" / "demo-history.sqlite")
        proc, settings = local_emulator.start()
        os.environ.update(settings)
        print(f"Started the DLI emulator with demo jobs at {settings['DLI_ENDPOINT']}")
        print(f"Runs are recorded in {os.environ[HISTORY_VAR]}")
    try:
        nb = nbformat.read(args.notebook, as_version=4)
        # A quiet kernel: no "Kernel is running over TCP without encryption" warning (it listens on loopback).
        client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],
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
