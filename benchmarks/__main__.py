"""``python -m benchmarks`` (or ``benchmarks/run``): every section, a table, ``benchmarks/RESULTS.md``.

Exit status: 0 every enforced target met, 1 an enforced target missed, 2 the suite itself failed.
Targets that are not enforced yet are measured and shown (``met`` / ``not met``) but never decide it.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from . import listing, load, one_call, scale, startup, waiting
from .common import CLOUD_LATENCY_MS, ONE_CALL_LATENCY_MS, ROOT, Row
from .machine import describe
from .targets import TARGETS

SECTIONS = {
    "startup": startup,
    "one_call": one_call,
    "scale": scale,
    "listing": listing,
    "waiting": waiting,
    "emulator": load,
}
DEFAULT_OUT = Path(ROOT) / "benchmarks" / "RESULTS.md"


def table(rows: list[Row]) -> str:
    header = ("section", "metric", "value", "unit", "target", "result")
    body = [(r.section, r.metric, r.shown_value(), r.unit, r.target_text(), r.verdict()) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in [header, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def targets_table() -> str:
    lines = ["| target | enforced | source | not enforced until |", "|---|---|---|---|"]
    for key, t in TARGETS.items():
        lines.append(f"| `{key}` {t.text} | {'yes' if t.enforced else 'no'} | {t.source} | {t.pending} |")
    return "\n".join(lines)


def markdown(rows: list[Row], machine: list[tuple[str, str]], quick: bool, seconds: float, failed: list[str]) -> str:
    missed = [r for r in rows if r.ok is False]
    pending = [r for r in rows if r.target and r.ok is None and r.verdict().startswith("not met")]
    parts = [
        "# dli-magic benchmarks",
        "",
        "Written by `benchmarks/run` (`.venv/bin/python -m benchmarks`); see `docs/benchmarks.md` for what each "
        "figure means and how to reproduce it. Every ratio compares contenders measured side by side, "
        "interleaved, in this one run, against the emulator as its own process on 127.0.0.1 adding "
        f"{ONE_CALL_LATENCY_MS} ms (one call) or {CLOUD_LATENCY_MS} ms (scale, listing, waiting, first call) "
        "per DLI call; `bare loopback` rows add none.",
        "",
        f"Mode: {'quick (tiny sizes, not representative)' if quick else 'full'}; took {seconds:.0f} s. "
        f"Enforced targets missed: {len(missed)}" + (f" ({'; '.join(r.metric for r in missed)})" if missed else "")
        + f". Targets not enforced yet and not met: {len(pending)}"
        + (f" ({'; '.join(r.metric for r in pending)})" if pending else "") + ".",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine],
        "",
        "## Results",
        "",
        table(rows),
        "",
        "## Targets",
        "",
        targets_table(),
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
            rows.append(Row(module.SECTION, "section failed to run (see stderr)", "error"))
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
