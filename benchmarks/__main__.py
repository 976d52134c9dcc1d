"""``python -m benchmarks`` (or ``benchmarks/run``): every section, a table, ``benchmarks/RESULTS.md``.

Exit status: 0 every target met, 1 a target missed, 2 the suite itself failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from . import load, one_call, scale, startup, waiting
from .common import ROOT, Row
from .machine import describe

SECTIONS = {
    "startup": startup,
    "one_call": one_call,
    "scale": scale,
    "waiting": waiting,
    "emulator": load,
}
DEFAULT_OUT = ROOT / "benchmarks" / "RESULTS.md"


def table(rows: list[Row]) -> str:
    header = ("section", "metric", "value", "unit", "target", "result")
    body = [(r.section, r.metric, r.shown_value(), r.unit, r.target, r.verdict()) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in [header, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def markdown(rows: list[Row], machine: list[tuple[str, str]], quick: bool, seconds: float, failed: list[str]) -> str:
    missed = [r for r in rows if r.ok is False]
    parts = [
        "# dli-magic benchmarks",
        "",
        "Written by `benchmarks/run` (`.venv/bin/python -m benchmarks`); see `docs/benchmarks.md` for what each "
        "figure means. Every ratio compares contenders measured side by side, interleaved, in this one run "
        "against the emulator on 127.0.0.1.",
        "",
        f"Mode: {'quick (tiny sizes, not representative)' if quick else 'full'}; took {seconds:.0f} s. "
        f"Targets missed: {len(missed)}" + (f" ({'; '.join(r.metric for r in missed)})" if missed else "") + ".",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine],
        "",
        "## Results",
        "",
        table(rows),
        "",
    ]
    if failed:
        parts += ["## Sections that failed to run", "", *[f"- {name}" for name in failed], ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (smoke test)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results file (default {DEFAULT_OUT})")
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only this section")
    args = parser.parse_args(argv)

    started = time.monotonic()
    rows: list[Row] = []
    failed: list[str] = []
    for name, module in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"running {module.SECTION} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(module.run(args.quick))
        except Exception:
            traceback.print_exc()
            failed.append(name)
            rows.append(Row(module.SECTION, "section failed to run (see stderr)", "error", "", "runs", False))
    seconds = time.monotonic() - started
    print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(rows, describe(), args.quick, seconds, failed), encoding="utf-8")
    print(f"\nwritten to {args.out}", file=sys.stderr)
    if failed:
        return 2
    return 1 if any(r.ok is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
