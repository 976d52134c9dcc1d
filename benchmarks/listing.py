"""Section 4, listing: ``%dli_jobs`` over a 5,000-job project against the same pages fetched one after
another with raw requests, the emulator adding 50 ms per call (``--latency-ms 50``), interleaved.

raw: signed ``GET jobs?limit=100&offset=…`` pages (the API maximum page) until ``total_count`` is
reached, one at a time; magic: ``%dli_jobs`` in a real InteractiveShell (settings from the
environment). Both must return every job, in the same order.
"""

from __future__ import annotations

import os
import tempfile

import requests

from .common import (
    CLOUD_LATENCY_MS, EmulatorProcess, Row, bench_env, is_list_call, median, rotated, signed_headers, timed,
)

SECTION = "4 listing"
PAGE = 100


def _raw_sequential(session: requests.Session, base: str) -> list[int]:
    ids: list[int] = []
    offset = 0
    while True:
        url = f"{base}?limit={PAGE}&offset={offset}"
        response = session.get(url, headers=signed_headers("GET", url, b""))
        response.raise_for_status()
        listing = response.json()["job_list"]
        ids += [job["job_id"] for job in listing["jobs"]]
        offset += PAGE
        if offset >= listing["total_count"] or not listing["jobs"]:
            return ids


def run(quick: bool) -> list[Row]:
    n = 500 if quick else 5000
    reps = 1 if quick else 3
    saved = dict(os.environ)
    times: dict[str, list[float]] = {"raw": [], "magic": []}
    requests_made: dict[str, int] = {}
    complete = True
    with tempfile.TemporaryDirectory(prefix="dli-bench-list-") as tmp, \
            EmulatorProcess(jobs=n, latency_ms=CLOUD_LATENCY_MS) as emu:
        from IPython.core.interactiveshell import InteractiveShell

        os.environ.clear()
        os.environ.update(bench_env(tmp))
        os.environ.update(emu.client_env())
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "dli_magic")
        session = requests.Session()
        base = emu.api_url("jobs")
        calls = {
            "raw": lambda: _raw_sequential(session, base),
            "magic": lambda: [int(i) for i in shell.run_line_magic("dli_jobs", "")["job_id"]],
        }
        try:
            for name in calls:  # warm connections and imports, untimed
                calls[name]()
            for rep in range(reps):
                answers = {}
                for name in rotated(list(calls), rep):
                    emu.clear_request_log()
                    elapsed, answers[name] = timed(calls[name])
                    times[name].append(elapsed)
                    requests_made[name] = sum(map(is_list_call, emu.request_log()))
                complete &= len(answers["raw"]) == n and answers["magic"] == answers["raw"]
        finally:
            session.close()
            shell.run_line_magic("unload_ext", "dli_magic")
            os.environ.clear()
            os.environ.update(saved)

    raw, magic = median(times["raw"]), median(times["magic"])
    at = f"{n:,} jobs, {CLOUD_LATENCY_MS} ms/call"
    return [
        Row(SECTION, f"{at}: raw sequential pages of {PAGE}, median of {reps}", raw, "s"),
        Row(SECTION, f"{at}: %dli_jobs", magic, "s"),
        Row(SECTION, f"{at}: %dli_jobs speed-up over sequential pages", raw / magic, "x", "listing_speedup"),
        Row(SECTION, f"{at}: list requests, raw / %dli_jobs",
            f"{requests_made.get('raw', 0)} / {requests_made.get('magic', 0)}"),
        Row(SECTION, "%dli_jobs returned every job in the API's order", "yes" if complete else "no", "",
            "listing_complete"),
    ]
