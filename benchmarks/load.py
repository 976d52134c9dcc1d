"""Section 5, the emulator itself: requests/s and latency with 8 concurrent keep-alive clients.

The emulator is a subprocess; the load comes from 4 other processes with 2 client threads each
(8 clients), each on one keep-alive ``http.client`` connection with a token, alternating
``POST jobs/run`` (4 ids) and ``GET jobs?limit=10`` (the API's default page). The load generator
shares the machine's cores with the emulator, so the figures are a floor, not the emulator alone.
"""

from __future__ import annotations

import json
import subprocess
import time

from .common import BENCH_TOKEN, PYTHON, EmulatorProcess, Row, ms, percentile

SECTION = "5 emulator"
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
    return [
        Row(SECTION, f"requests/s, {clients} keep-alive clients, run/list mixed, {duration:g} s", rps, "req/s",
            ">= 1,000", rps >= 1000),
        Row(SECTION, "latency p50", p50, "ms"),
        Row(SECTION, "latency p99", p99, "ms", "< 50 ms", p99 < 50),
        Row(SECTION, "non-200 answers", float(error_count), "", "0", error_count == 0),
    ]
