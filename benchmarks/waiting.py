"""Section 5, waiting: ``dli_magic.run_jobs(ids, wait=True)`` (the code path of ``%dli_run --wait``) on
1,000 jobs spread over a 5,000-job project (every 5th job, so the oldest waited-for job is on the last
list page), the emulator adding 50 ms per call (``--latency-ms 50``) and keeping a run in
``job_submitting`` for 2 s (``--speed 1``); ``poll_interval`` 0.5 s.

The rounds are read from the emulator's request log, not from the client: the read requests (list
pages, job details) are grouped wherever two arrivals are further apart than 0.8 x ``poll_interval``
(the client sleeps that long between rounds). The group that starts with the run calls holds the reads
made beside and right after them (names, first statuses); the others are poll rounds. A round's wall time is from its first request's arrival to its
last one's, plus one round trip (the last answer); it is expressed in round trips of one list page
(a raw signed ``GET jobs?limit=100``, measured just before, at the same latency).
"""

from __future__ import annotations

import os
import tempfile

import requests

from .common import (
    CLOUD_LATENCY_MS, EmulatorProcess, Row, arrival, bench_env, is_detail_call, is_list_call, is_read_call,
    is_run_call, median, ms, signed_headers, timed,
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


def _rounds(log: list[dict]) -> tuple[list[list[dict]], list[list[dict]]]:
    """(first groups, poll rounds): the read requests (list pages, job details) grouped by the poll gap."""
    reads = sorted((e for e in log if is_read_call(e)), key=arrival)
    last_run = max((arrival(e) for e in log if is_run_call(e)), default=0.0)
    groups: list[list[dict]] = []
    for entry in reads:
        if groups and arrival(entry) - arrival(groups[-1][-1]) < 0.8 * POLL_INTERVAL:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    first = [g for g in groups if arrival(g[0]) < last_run + 0.8 * POLL_INTERVAL]
    return first, [g for g in groups if not any(g is f for f in first)]


def _kinds(group: list[dict]) -> str:
    """What a round read: filtered list pages, unfiltered list pages, job details."""
    filtered = sum(1 for e in group if is_list_call(e) and "status=" in e["query"])
    unfiltered = sum(1 for e in group if is_list_call(e)) - filtered
    details = sum(1 for e in group if is_detail_call(e))
    return f"{filtered} filtered list + {unfiltered} unfiltered list + {details} detail"


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

    first, polls = _rounds(log)
    walls = [arrival(g[-1]) - arrival(g[0]) + rtt for g in polls]
    settled = bool((frame["status"] == "job_running").all())
    attr_rounds = frame.attrs.get("wait_rounds")
    at = f"{len(waited):,} of {project:,} jobs, {CLOUD_LATENCY_MS} ms/call"
    rows = [
        Row(SECTION, f"{at}: run_jobs(wait=True) wall time", elapsed, "s"),
        Row(SECTION, f"{at}: one round trip (raw signed list page)", ms(rtt), "ms"),
        Row(SECTION, f"{at}: reads beside/right after the run calls", _kinds([e for g in first for e in g])),
        Row(SECTION, f"{at}: poll rounds after those", float(len(polls))),
    ]
    if walls:
        slowest = max(range(len(walls)), key=walls.__getitem__)
        rows += [
            Row(SECTION, f"{at}: median poll round in round trips", median(walls) / rtt, "x"),
            Row(SECTION, f"{at}: slowest poll round", ms(walls[slowest]), "ms"),
            Row(SECTION, f"{at}: slowest poll round in round trips", walls[slowest] / rtt, "x", "wait_round"),
            Row(SECTION, f"{at}: slowest poll round read", _kinds(polls[slowest])),
        ]
    else:
        rows.append(Row(SECTION, f"{at}: slowest poll round in round trips", "no poll round", "", "wait_round"))
    rows += [
        Row(SECTION, f"wait_rounds in df.attrs ({attr_rounds}) = rounds in the log ({len(first) + len(polls)})",
            "yes" if attr_rounds == len(first) + len(polls) else "no", "", "wait_rounds_attr"),
        Row(SECTION, "every job job_running when the wait ended", "yes" if settled else "no", "", "wait_settled"),
    ]
    return rows
