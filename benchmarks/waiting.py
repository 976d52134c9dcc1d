"""Section 5, waiting: ``dli_magic.run_jobs(ids, wait=True)`` (the code path of ``%dli_run --wait``) on
1,000 jobs spread over a 5,000-job project (every 5th job, so the oldest waited-for job is on the last
list page), the emulator adding 50 ms per call (``--latency-ms 50``) and keeping a run in
``job_submitting`` for 2 s (``--speed 1``); ``poll_interval`` 0.5 s.

The rounds are read from the emulator's request log, not from the client: the list requests are
grouped wherever two arrivals are further apart than 0.8 x ``poll_interval`` (the client sleeps that
long between rounds). The group that starts with the run calls is the first fill (names and
statuses); the others are poll rounds. A round's wall time is from its first request's arrival to its
last one's, plus one round trip (the last answer); it is expressed in round trips of one list page
(a raw signed ``GET jobs?limit=100``, measured just before, at the same latency).
"""

from __future__ import annotations

import math
import os
import tempfile

import requests

from .common import (
    CLOUD_LATENCY_MS, EmulatorProcess, Row, arrival, bench_env, is_list_call, is_run_call, median, ms, signed_headers,
    timed,
)

SECTION = "5 waiting"
POLL_INTERVAL = 0.5
SPREAD = 5  # every 5th job of the project is waited for


def _list_round_trip(emu: EmulatorProcess, samples: int) -> float:
    url = emu.api_url("jobs") + "?limit=100&offset=0"
    with requests.Session() as session:
        times = []
        for _ in range(samples + 1):
            elapsed, response = timed(lambda: session.get(url, headers=signed_headers("GET", url, b"")))
            response.raise_for_status()
            times.append(elapsed)
    return median(times[1:])  # the first opened the connection


def _rounds(log: list[dict]) -> tuple[list[list[float]], list[list[float]]]:
    """(fill groups, poll rounds): arrival times of the list requests, grouped by the poll gap."""
    lists = sorted(arrival(e) for e in log if is_list_call(e))
    last_run = max((arrival(e) for e in log if is_run_call(e)), default=0.0)
    groups: list[list[float]] = []
    for t in lists:
        if groups and t - groups[-1][-1] < 0.8 * POLL_INTERVAL:
            groups[-1].append(t)
        else:
            groups.append([t])
    fill = [g for g in groups if g[0] < last_run + 0.8 * POLL_INTERVAL]
    return fill, [g for g in groups if g not in fill]


def run(quick: bool) -> list[Row]:
    import dli_magic

    project = 1000 if quick else 5000
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="dli-bench-wait-") as tmp, \
            EmulatorProcess(jobs=project, speed=1.0, latency_ms=CLOUD_LATENCY_MS) as emu:
        waited = emu.job_ids[::SPREAD]
        os.environ.update(bench_env(tmp))
        try:
            rtt = _list_round_trip(emu, 5 if quick else 15)
            client = dli_magic.connect(**emu.client_settings(poll_interval=POLL_INTERVAL))
            emu.clear_request_log()
            elapsed, frame = timed(lambda: dli_magic.run_jobs(waited, wait=True, timeout=120, client=client))
            log = emu.request_log()
            client.close()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    fill, polls = _rounds(log)
    walls = [g[-1] - g[0] + rtt for g in polls]
    per_round = [len(g) for g in fill + polls]
    one_pass = math.ceil(project / 100)
    settled = bool((frame["status"] == "job_running").all())
    attr_rounds = frame.attrs.get("wait_rounds")
    at = f"{len(waited):,} of {project:,} jobs, {CLOUD_LATENCY_MS} ms/call"
    slowest = max(walls) if walls else None
    return [
        Row(SECTION, f"{at}: run_jobs(wait=True) wall time", elapsed, "s"),
        Row(SECTION, f"{at}: one round trip (raw signed list page)", ms(rtt), "ms"),
        Row(SECTION, f"{at}: poll rounds (after the first fill)", float(len(polls))),
        Row(SECTION, f"{at}: slowest poll round", ms(slowest) if slowest is not None else "no poll round", "ms"),
        Row(SECTION, f"{at}: slowest poll round in round trips", slowest / rtt if slowest is not None else "n/a",
            "x", "wait_round"),
        Row(SECTION, f"{at}: list requests, total / busiest round", f"{sum(per_round)} / {max(per_round, default=0)}"),
        Row(SECTION, f"list requests in any round <= one full pass ({one_pass})",
            "yes" if 0 < max(per_round, default=0) <= one_pass else "no", "", "wait_one_pass"),
        Row(SECTION, f"wait_rounds in df.attrs ({attr_rounds}) = rounds in the log ({len(fill) + len(polls)})",
            "yes" if attr_rounds == len(fill) + len(polls) else "no", "", "wait_rounds_attr"),
        Row(SECTION, "every job job_running when the wait ended", "yes" if settled else "no", "", "wait_settled"),
    ]
