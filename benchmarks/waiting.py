"""Section 4, waiting: ``dli_magic.run_jobs(ids, wait=True)`` on 1,000 jobs (the project holds only
those), counting the list requests of every poll round in the emulator's request log.

A round is one listing pass; it starts with the page at offset 0, so the log's list requests are
split at each ``offset=0``. At most ceil(N/100) requests per round (page size 100, the API maximum).
"""

from __future__ import annotations

import math
import os
import tempfile
from urllib.parse import parse_qs

from .common import EmulatorProcess, Row, bench_env

SECTION = "4 waiting"


def run(quick: bool) -> list[Row]:
    import dli_magic

    n = 250 if quick else 1000
    saved = dict(os.environ)
    # Speed 2: a run stays in job_submitting for 1 s, so a 0.2 s poll interval sees several rounds.
    with tempfile.TemporaryDirectory(prefix="dli-bench-wait-") as tmp, EmulatorProcess(jobs=n, speed=2.0) as emu:
        os.environ.update(bench_env(tmp))
        try:
            client = dli_magic.DliClient(**emu.client_settings(poll_interval=0.2))
            emu.clear_request_log()
            frame = dli_magic.run_jobs(emu.job_ids, wait=True, timeout=60, client=client)
            log = emu.request_log()
            client.close()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    lists = [e for e in log if e["method"] == "GET" and e["path"].endswith("/streaming/jobs")]
    per_round: list[int] = []
    for entry in lists:
        offset = parse_qs(entry["query"]).get("offset", ["0"])[0]
        if offset == "0":
            per_round.append(0)
        per_round[-1] += 1
    bound = math.ceil(n / 100)
    worst = max(per_round) if per_round else 0
    settled = bool((frame["status"] == "job_running").all())
    rounds = frame.attrs.get("wait_rounds")
    return [
        Row(SECTION, f"{n:,} jobs: listing passes (first fill + poll rounds)", float(len(per_round))),
        Row(SECTION, "wait_rounds reported in df.attrs", float(rounds) if rounds is not None else "missing", "",
            "= passes counted in the log", rounds == len(per_round)),
        Row(SECTION, "list requests, total", float(len(lists))),
        Row(SECTION, "list requests in the busiest round", float(worst), "", f"<= ceil({n}/100) = {bound}",
            0 < worst <= bound),
        Row(SECTION, "every job job_running when the wait ended", "yes" if settled else "no", "", "yes", settled),
    ]
