"""Section 6, the emulator itself, on bare loopback (no added latency).

Load: the emulator is a subprocess; the load comes from 4 other processes with 2 client threads each
(8 clients), each on one keep-alive ``http.client`` connection with a token, alternating
``POST jobs/run`` (4 ids) and ``GET jobs?limit=10`` (the API's default page). The load generator
shares the machine's cores with the emulator, so the figures are a floor, not the emulator alone.

List page: one keep-alive ``http.client`` connection from this process asks a 5,000-job project for
``GET jobs?limit=100&offset=k`` pages, k cycling over every page, one request at a time.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from urllib.parse import urlsplit

from .common import BENCH_TOKEN, PYTHON, EmulatorProcess, Row, ms, percentile

SECTION = "6 emulator"
LIST_PROJECT = 5000
PROCESSES = 4
THREADS = 2

_LOADGEN = r"""
import http.client, json, sys, threading, time
from urllib.parse import urlsplit
url, prefix, token, start, warm, end, ids = sys.argv[1:8]
start, warm, end = float(start), float(warm), float(end)
ids = json.loads(ids)
target = urlsplit(url)
results = []
errors = []

def client(k):
    conn = http.client.HTTPConnection(target.hostname, target.port)
    run_body = json.dumps({"job_ids": ids[k % len(ids)]}).encode()
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    mine = []
    i = k
    while time.time() < start:
        time.sleep(0.001)
    while True:
        now = time.time()
        if now >= end:
            break
        t0 = time.perf_counter()
        if i % 2:
            conn.request("POST", prefix + "/jobs/run", body=run_body, headers=headers)
        else:
            conn.request("GET", prefix + "/jobs?limit=10&offset=0", headers=headers)
        response = conn.getresponse()
        response.read()
        t1 = time.perf_counter()
        if response.status != 200:
            errors.append(response.status)
        if now >= warm:
            mine.append(t1 - t0)
        i += 1
    conn.close()
    results.extend(mine)

threads = [threading.Thread(target=client, args=(int(sys.argv[8]) * 100 + k,)) for k in range(int(sys.argv[9]))]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"latencies": results, "errors": errors[:20], "error_count": len(errors)}))
"""


def _list_pages(quick: bool) -> tuple[list[float], int]:
    """Seconds per list page over a LIST_PROJECT-job project, and the non-200 answers."""
    count = 100 if quick else 1000
    with EmulatorProcess(jobs=LIST_PROJECT) as emu:
        target = urlsplit(emu.url)
        prefix = f"/v1.0/{emu.project_id}/streaming/jobs?limit=100&offset="
        conn = http.client.HTTPConnection(target.hostname, target.port)
        headers = {"X-Auth-Token": BENCH_TOKEN}
        latencies: list[float] = []
        errors = 0
        try:
            for k in range(count + 10):  # the first 10 warm the connection and the emulator, untimed
                t0 = time.perf_counter()
                conn.request("GET", prefix + str((k % (LIST_PROJECT // 100)) * 100), headers=headers)
                response = conn.getresponse()
                response.read()
                if k >= 10:
                    latencies.append(time.perf_counter() - t0)
                errors += response.status != 200
        finally:
            conn.close()
    return latencies, errors


def run(quick: bool) -> list[Row]:
    duration = 1.5 if quick else 10.0
    warmup = 0.5 if quick else 1.0
    with EmulatorProcess(jobs=200) as emu:
        prefix = f"/v1.0/{emu.project_id}/streaming"
        groups = [emu.job_ids[i : i + 4] for i in range(0, len(emu.job_ids), 4)]
        start = time.time() + 1.0  # every generator process is up and connected before this
        warm, end = start + warmup, start + warmup + duration
        procs = [
            subprocess.Popen(
                [PYTHON, "-c", _LOADGEN, emu.url, prefix, BENCH_TOKEN, str(start), str(warm), str(end),
                 json.dumps(groups), str(p), str(THREADS)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for p in range(PROCESSES)
        ]
        outputs = [p.communicate(timeout=duration + 60) for p in procs]
    latencies: list[float] = []
    error_count = 0
    for (out, err), proc in zip(outputs, procs):
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.strip()[-500:]}")
        data = json.loads(out.strip().splitlines()[-1])
        latencies.extend(data["latencies"])
        error_count += data["error_count"]
    rps = len(latencies) / duration
    p50, p99 = ms(percentile(latencies, 50)), ms(percentile(latencies, 99))
    clients = PROCESSES * THREADS
    pages, page_errors = _list_pages(quick)
    return [
        Row(SECTION, f"requests/s, {clients} keep-alive clients, run/list mixed, {duration:g} s", rps, "req/s",
            "emulator_rps"),
        Row(SECTION, "mixed load: latency p50", p50, "ms"),
        Row(SECTION, "mixed load: latency p99", p99, "ms", "emulator_mixed_p99"),
        Row(SECTION, f"list page of 100 over {LIST_PROJECT:,} jobs, one client: p50 of {len(pages)}",
            ms(percentile(pages, 50)), "ms"),
        Row(SECTION, f"list page of 100 over {LIST_PROJECT:,} jobs, one client: p99", ms(percentile(pages, 99)), "ms",
            "emulator_list_p99"),
        Row(SECTION, "non-200 answers", float(error_count + page_errors), "", "no_errors"),
    ]
