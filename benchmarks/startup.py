"""Section 1, start-up: fresh processes, interleaved, medians.

Three kinds of process, each timed inside itself with perf_counter (what the user waits for) and
from outside (the whole process's wall time):
- ``ipython``: import IPython and create an InteractiveShell (the baseline every notebook pays);
- ``dli``: the same, then ``import dli_magic`` and ``%load_ext dli_magic`` in that real shell;
- ``sdk``: ``import huaweicloudsdkdli.v1`` (the official SDK).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from .common import PYTHON, Row, bench_env, median, ms

SECTION = "1 start-up"
HEAVY = ("pandas", "ipywidgets", "requests")

_PROBE = r"""
import json, sys, time
kind = sys.argv[1]
out = {}
t0 = time.perf_counter()
if kind in ("ipython", "dli"):
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    t1 = time.perf_counter()
    out["ipython_ms"] = (t1 - t0) * 1000
    if kind == "dli":
        import dli_magic
        t2 = time.perf_counter()
        shell.run_line_magic("load_ext", "dli_magic")
        t3 = time.perf_counter()
        out["import_ms"] = (t2 - t1) * 1000
        out["load_ext_ms"] = (t3 - t2) * 1000
        out["magics"] = sorted(n for n in shell.magics_manager.magics["line"] if n.startswith("dli_"))
        out["heavy"] = [m for m in %(heavy)r if m in sys.modules]
elif kind == "sdk":
    import huaweicloudsdkdli.v1
    out["sdk_ms"] = (time.perf_counter() - t0) * 1000
print(json.dumps(out))
""" % {"heavy": HEAVY}


def _probe(kind: str, env: dict[str, str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run([PYTHON, "-c", _PROBE, kind], capture_output=True, text=True, env=env, timeout=120)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"start-up probe {kind!r} failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_ms"] = ms(wall)
    return result


def run(quick: bool) -> list[Row]:
    reps = 3 if quick else 21
    samples: dict[str, list[dict]] = {"ipython": [], "dli": [], "sdk": []}
    with tempfile.TemporaryDirectory(prefix="dli-bench-start-") as tmp:
        env = bench_env(tmp)
        # Byte-code caching on, as after `pip install` (which compiles .pyc), for every contender
        # alike; the cache lives in a temporary prefix so the work tree stays clean.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for kind in samples:  # warm the OS file cache once, untimed
            _probe(kind, env)
        for rep in range(reps):
            kinds = list(samples)
            for kind in kinds[rep % 3 :] + kinds[: rep % 3]:  # rotate the order every repetition
                samples[kind].append(_probe(kind, env))

    dli = samples["dli"]
    load_ms = median(s["import_ms"] + s["load_ext_ms"] for s in dli)
    wall_delta = median(s["wall_ms"] for s in dli) - median(s["wall_ms"] for s in samples["ipython"])
    sdk_ms = median(s["sdk_ms"] for s in samples["sdk"])
    heavy = sorted({m for s in dli for m in s["heavy"]})
    magics_ok = all("dli_run" in s["magics"] for s in dli)
    return [
        Row(SECTION, "IPython import + InteractiveShell (baseline)", median(s["ipython_ms"] for s in dli), "ms"),
        Row(SECTION, "import dli_magic", median(s["import_ms"] for s in dli), "ms"),
        Row(SECTION, "%load_ext dli_magic (real InteractiveShell)", median(s["load_ext_ms"] for s in dli), "ms"),
        Row(SECTION, "extension adds (import + %load_ext)", load_ms, "ms", "< 20 ms", load_ms < 20 and magics_ok),
        Row(SECTION, "whole-process wall time, dli minus ipython-only", wall_delta, "ms"),
        Row(SECTION, "import huaweicloudsdkdli.v1 (official SDK)", sdk_ms, "ms"),
        Row(SECTION, "SDK import / extension load", sdk_ms / load_ms if load_ms else float("inf"), "x"),
        Row(SECTION, "heavy modules imported by the extension", ", ".join(heavy) or "none", "",
            "none of pandas, ipywidgets, requests", not heavy),
    ]
