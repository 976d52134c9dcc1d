"""Section 3, scale: N job ids in one ``DliClient.run_jobs`` call against the same chunks sent one by
one with raw requests, with the emulator adding 50 ms per call (``--latency-ms 50``), and on bare
loopback. Plus a max_workers sweep, the busiest second of calls in the emulator's request log, result
order, and memory at 1k/5k/10k ids.

Between repetitions (untimed, latency off) every job is stopped and the emulator clock advanced past
the cancel, so each timed call starts the same number of runnable jobs.
"""

from __future__ import annotations

import json
import subprocess

import requests

from .common import (
    CLOUD_LATENCY_MS, PYTHON, EmulatorProcess, Row, arrival, chunks, is_run_call, median, peak_per_second, rotated,
    run_body, signed_headers, timed,
)

SECTION = "3 scale"
CHUNK = 100  # the client's default chunk_size
RATE_CHUNK = 20  # the rate-limit probe: 5x more calls than the default chunking
RATE_WORKERS = 16

_MEMORY_PROBE = r"""
import json, resource, sys, tracemalloc
import dli_magic
settings = json.loads(sys.argv[1]); ids = json.loads(sys.argv[2])
client = dli_magic.connect(**settings)
client.run_jobs(ids[:100])  # warm: connections, imports
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
result = client.run_jobs(ids)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ordered = [o.job_id for o in result.outcomes] == ids
print(json.dumps({"peak": peak, "rss_kb": rss1 - rss0, "ordered": ordered, "n": len(result.outcomes)}))
"""


def _raw_sequential(session: requests.Session, url: str, ids: list[int]) -> list[int]:
    out: list[int] = []
    for chunk in chunks(ids, CHUNK):
        body = run_body(chunk)
        response = session.post(url, data=body, headers=signed_headers("POST", url, body))
        response.raise_for_status()
        if len(response.json()) != len(chunk):
            raise RuntimeError("short answer")
        out.extend(chunk)
    return out


def _reset(emu: EmulatorProcess, client, ids: list[int], latency: bool) -> None:
    emu.latency(False)
    client.stop_jobs(ids, max_workers=8)
    emu.advance_clock(0.05)  # speed 1000: the cancel took 1 ms
    emu.clear_request_log()
    emu.latency(latency)


def _peak(emu: EmulatorProcess) -> int:
    return peak_per_second([arrival(e) for e in emu.request_log() if is_run_call(e)])


def _compare(emu, client, session, ids: list[int], reps: int, latency: bool, workers: tuple[int, ...]):
    """Median seconds per contender (raw sequential, run_jobs at each max_workers), peak calls/s, checks."""
    url = emu.api_url("jobs/run")
    times: dict[str, list[float]] = {"raw": [], **{f"w{w}": [] for w in workers}}
    peaks: dict[str, int] = {name: 0 for name in times}
    ordered = accepted = True
    for rep in range(reps):
        for name in rotated(list(times), rep):
            _reset(emu, client, ids, latency)
            if name == "raw":
                elapsed, _ = timed(lambda: _raw_sequential(session, url, ids))
            else:
                elapsed, result = timed(lambda: client.run_jobs(ids, max_workers=int(name[1:])))
                ordered &= [o.job_id for o in result.outcomes] == ids
                accepted &= all(o.is_success is True for o in result.outcomes)
            times[name].append(elapsed)
            peaks[name] = max(peaks[name], _peak(emu))
    emu.latency(False)
    return {name: median(v) for name, v in times.items()}, peaks, ordered, accepted


def _rate_probe(emu, client, ids: list[int]) -> tuple[int, int, bool]:
    """One call with small chunks and many workers: (calls made, busiest second, all accepted)."""
    _reset(emu, client, ids, latency=True)
    result = client.run_jobs(ids, chunk_size=RATE_CHUNK, max_workers=RATE_WORKERS)
    log = [e for e in emu.request_log() if is_run_call(e)]
    emu.latency(False)
    return len(log), peak_per_second([arrival(e) for e in log]), all(o.is_success is True for o in result.outcomes)


def _memory(emu: EmulatorProcess, client, sizes: list[int]) -> dict[int, dict]:
    out = {}
    for size in sizes:
        _reset(emu, client, emu.job_ids, latency=False)
        args = [json.dumps(emu.client_settings()), json.dumps(emu.job_ids[:size])]
        done = subprocess.run([PYTHON, "-c", _MEMORY_PROBE, *args], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"memory probe failed: {done.stderr.strip()[-500:]}")
        out[size] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def run(quick: bool) -> list[Row]:
    import dli_magic

    n = 1000 if quick else 10_000
    reps = 1 if quick else 3
    sizes = [100, 500, 1000] if quick else [1000, 5000, 10_000]
    workers = (4, 8) if quick else (4, 8, 16)
    with EmulatorProcess(jobs=n, latency_ms=CLOUD_LATENCY_MS) as emu:
        ids = emu.job_ids
        client = dli_magic.connect(**emu.client_settings(retry_deadline=60.0))
        session = requests.Session()
        default_w = client.settings.max_workers
        if default_w not in workers:
            workers = (default_w, *workers)
        try:
            slow, peaks, ordered_slow, ok_slow = _compare(emu, client, session, ids, reps, True, workers)
            bare, _, ordered_bare, ok_bare = _compare(emu, client, session, ids, reps, False, (default_w,))
            rate_calls, rate_peak, ok_rate = _rate_probe(emu, client, ids)
            memory = _memory(emu, client, sizes)
        finally:
            client.close()
            session.close()

    at = f"{n:,} ids, {CLOUD_LATENCY_MS} ms/call"
    speedup = slow["raw"] / slow[f"w{default_w}"]
    rows = [Row(SECTION, f"{at}: raw sequential chunks of {CHUNK}, median of {reps}", slow["raw"], "s")]
    for w in workers:
        rows.append(Row(SECTION, f"{at}: run_jobs max_workers={w}", slow[f"w{w}"], "s"))
    rows.append(Row(SECTION, f"{at}: speed-up over sequential, default max_workers={default_w}", speedup, "x",
                    "scale_speedup"))
    for w in workers:
        if w != default_w:
            rows.append(Row(SECTION, f"{at}: speed-up with max_workers={w}", slow["raw"] / slow[f"w{w}"], "x"))
    rows.append(Row(SECTION, f"{at}: busiest second in the emulator's log, default max_workers={default_w} "
                             f"({n // CHUNK} calls in all)", float(peaks[f"w{default_w}"]), "calls", "scale_rate"))
    rows.append(Row(SECTION, f"{at}: busiest second, chunk_size={RATE_CHUNK} max_workers={RATE_WORKERS} "
                             f"({rate_calls} calls in all)", float(rate_peak), "calls", "scale_rate"))
    bare_speedup = bare["raw"] / bare[f"w{default_w}"]
    rows.append(Row(SECTION, f"bare loopback, {n:,} ids: raw sequential", bare["raw"], "s"))
    rows.append(Row(SECTION, f"bare loopback, {n:,} ids: run_jobs max_workers={default_w}", bare[f"w{default_w}"], "s"))
    rows.append(Row(SECTION, "bare loopback speed-up", bare_speedup, "x"))
    in_order = ordered_slow and ordered_bare and all(m["ordered"] and m["n"] == s for s, m in memory.items())
    rows.append(Row(SECTION, "results in request order (every call)", "yes" if in_order else "no", "", "in_order"))
    every = ok_slow and ok_bare and ok_rate
    rows.append(Row(SECTION, "every job accepted (every call)", "yes" if every else "no", "", "all_accepted"))
    for size in sizes:
        m = memory[size]
        rows.append(Row(SECTION, f"memory at {size:,} ids: tracemalloc peak / RSS growth",
                        f"{m['peak'] / 1e6:.2f} MB / {m['rss_kb'] / 1024:.1f} MB"))
    # Linear: the cost per extra id between the two larger sizes is close to that between the smaller.
    a, b, c = sizes
    slope_low = (memory[b]["peak"] - memory[a]["peak"]) / (b - a)
    slope_high = (memory[c]["peak"] - memory[b]["peak"]) / (c - b)
    ratio = slope_high / slope_low if slope_low > 0 else float("inf")
    rows.append(Row(SECTION, f"memory per id {b:,}->{c:,} vs {a:,}->{b:,} ({slope_high:.0f} vs {slope_low:.0f} B)",
                    ratio, "x", "memory_linear"))
    return rows
