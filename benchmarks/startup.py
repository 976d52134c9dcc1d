"""Section 1, start-up: fresh processes, interleaved, medians; byte-code caches on (as after ``pip install``).

Five kinds of process, each timed inside itself with perf_counter (what the user waits for):
- ``bare``: ``import dli_magic`` alone (which heavy modules it pulls in);
- ``ipython``: import IPython and create an InteractiveShell (the baseline every notebook pays);
- ``dli``: the same, then ``import dli_magic`` and ``%load_ext dli_magic`` in that real shell, then the
  kernel's first ``%dli_run`` of 4 ids (names unknown) against the emulator adding 50 ms per call;
- ``floor``: the same shell, then ``import pandas`` and ``import requests`` (what a first call must load);
- ``sdk``: ``import huaweicloudsdkdli.v1`` (the official SDK).

One round trip (for the first-call target) is a raw signed ``requests`` POST of 4 fresh ids from
this process to the same emulator, one per repetition, interleaved with the probes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import requests

from .common import (
    CLOUD_LATENCY_MS, PYTHON, EmulatorProcess, Row, bench_env, is_detail_call, is_list_call, is_run_call, median,
    ms, rotated, run_body, signed_headers, timed,
)

SECTION = "1 start-up"
KINDS = ("bare", "ipython", "dli", "floor", "sdk")
LIGHT_IMPORT = ("pandas", "requests", "IPython", "ipywidgets")  # import dli_magic must not load these
LIGHT_LOAD = ("pandas", "ipywidgets", "requests")  # nor %load_ext dli_magic

_PROBE = r"""
import json, sys, time
kind = sys.argv[1]
out = {}
t0 = time.perf_counter()
if kind == "bare":
    import dli_magic
    out["import_ms"] = (time.perf_counter() - t0) * 1000
    out["heavy"] = [m for m in %(light_import)r if m in sys.modules]
elif kind in ("ipython", "dli", "floor"):
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
        out["heavy"] = [m for m in %(light_load)r if m in sys.modules]
        t4 = time.perf_counter()
        frame = shell.run_line_magic("dli_run", sys.argv[2])
        out["first_run_ms"] = (time.perf_counter() - t4) * 1000
        out["accepted"] = [bool(v) for v in frame["is_success"]]
    elif kind == "floor":
        import pandas
        t2 = time.perf_counter()
        import requests
        t3 = time.perf_counter()
        out["pandas_ms"] = (t2 - t1) * 1000
        out["requests_ms"] = (t3 - t2) * 1000
elif kind == "sdk":
    import huaweicloudsdkdli.v1
    out["sdk_ms"] = (time.perf_counter() - t0) * 1000
print(json.dumps(out))
""" % {"light_import": LIGHT_IMPORT, "light_load": LIGHT_LOAD}


def _probe(kind: str, env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([PYTHON, "-c", _PROBE, kind, *args], capture_output=True, text=True, env=env,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"start-up probe {kind!r} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Row]:
    reps = 2 if quick else 21
    samples: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    rtts: list[float] = []
    first_calls: list[tuple[int, int, int]] = []  # (run, list, detail) requests of each first %dli_run
    # Fresh job ids for every first run and every round trip: 4 each per repetition, plus a warm-up.
    with tempfile.TemporaryDirectory(prefix="dli-bench-start-") as tmp, \
            EmulatorProcess(jobs=8 * (reps + 1), latency_ms=CLOUD_LATENCY_MS) as emu:
        env = bench_env(tmp)
        env.update(emu.client_env())
        # Byte-code caching on, as after `pip install` (which compiles .pyc), for every contender
        # alike; the cache lives in a temporary prefix so the work tree stays clean.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        fresh = iter([emu.job_ids[i : i + 4] for i in range(0, len(emu.job_ids), 4)])
        session = requests.Session()
        url = emu.api_url("jobs/run")

        def round_trip() -> float:
            body = run_body(next(fresh))
            elapsed, response = timed(lambda: session.post(url, data=body, headers=signed_headers("POST", url, body)))
            response.raise_for_status()
            return elapsed

        try:
            # Warm the OS file cache and write the byte-code caches once, untimed.
            for kind in KINDS:
                _probe(kind, env, " ".join(map(str, next(fresh))) if kind == "dli" else "")
            round_trip()  # the session's connection
            for rep in range(reps):
                for kind in rotated(KINDS, rep):
                    if kind == "dli":
                        emu.clear_request_log()
                        samples[kind].append(_probe(kind, env, " ".join(map(str, next(fresh)))))
                        log = emu.request_log()
                        first_calls.append(tuple(sum(map(kind, log)) for kind in
                                                 (is_run_call, is_list_call, is_detail_call)))
                    else:
                        samples[kind].append(_probe(kind, env))
                rtts.append(round_trip())
        finally:
            session.close()

    dli = samples["dli"]
    load_ms = median(s["import_ms"] + s["load_ext_ms"] for s in dli)
    heavy_import = sorted({m for s in samples["bare"] for m in s["heavy"]})
    heavy_load = sorted({m for s in dli for m in s["heavy"]})
    magics_ok = all("dli_run" in s["magics"] for s in dli)
    first = median(s["first_run_ms"] for s in dli)
    pandas_ms = median(s["pandas_ms"] for s in samples["floor"])
    requests_ms = median(s["requests_ms"] for s in samples["floor"])
    rtt = ms(median(rtts))
    floor = pandas_ms + requests_ms + rtt
    accepted = all(s["accepted"] == [True] * 4 for s in dli)
    made = ", ".join(f"{'/'.join(map(str, sorted({c[k] for c in first_calls})))} {what}"
                     for k, what in enumerate(("run", "list", "detail")))
    at = f"{CLOUD_LATENCY_MS} ms/call"
    return [
        Row(SECTION, "IPython import + InteractiveShell (baseline)", median(s["ipython_ms"] for s in dli), "ms"),
        Row(SECTION, "import dli_magic (in the shell's process)", median(s["import_ms"] for s in dli), "ms"),
        Row(SECTION, "%load_ext dli_magic (real InteractiveShell)", median(s["load_ext_ms"] for s in dli), "ms"),
        Row(SECTION, f"extension adds (import + %load_ext), median of {reps}", load_ms if magics_ok else "no magics",
            "ms", "load_ext"),
        Row(SECTION, "modules `import dli_magic` alone loads", ", ".join(heavy_import) or "none", "", "import_light"),
        Row(SECTION, "modules %load_ext dli_magic loads", ", ".join(heavy_load) or "none", "", "load_ext_light"),
        Row(SECTION, "import huaweicloudsdkdli.v1 (official SDK)", median(s["sdk_ms"] for s in samples["sdk"]), "ms"),
        Row(SECTION, f"{at}: first %dli_run of 4 ids in a fresh kernel (names unknown)", first, "ms"),
        Row(SECTION, "import pandas (fresh kernel)", pandas_ms, "ms"),
        Row(SECTION, "import requests (fresh kernel, after pandas)", requests_ms, "ms"),
        Row(SECTION, f"{at}: one round trip (raw signed POST)", rtt, "ms"),
        Row(SECTION, "first %dli_run / (import pandas + import requests + one round trip)", first / floor, "x",
            "first_run"),
        Row(SECTION, "requests made by the first %dli_run (run POST, list GET, detail GET)", made),
        Row(SECTION, "every first %dli_run accepted all 4 jobs", "yes" if accepted else "no", "", "all_accepted"),
    ]
