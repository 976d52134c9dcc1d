"""Many clients at once: no lost update, every job in a valid status, SQLite intact, files too."""

from __future__ import annotations

import concurrent.futures
import random
import sqlite3
import threading
import time

import requests

from dli_magic.contract import JOB_STATUSES


def _hammer(emu, job_ids, rounds=40, threads=8):
    base = f"{emu.url}/v1.0/{emu.project_id}/streaming"
    headers = {"X-Auth-Token": "t"}
    accepted = {"run": 0, "stop": 0}

    def worker(seed):
        rng = random.Random(seed)
        session = requests.Session()
        mine = {"run": 0, "stop": 0}
        for _ in range(rounds):
            op = rng.choice(["run", "stop", "list"])
            if op == "list":
                r = session.get(f"{base}/jobs", params={"limit": 100}, headers=headers, timeout=10)
                assert r.status_code == 200
                continue
            ids = rng.sample(job_ids, 3)
            r = session.post(f"{base}/jobs/{op}", json={"job_ids": ids}, headers=headers, timeout=10)
            assert r.status_code == 200
            items = r.json()
            assert len(items) == 3
            mine[op] += sum(i["is_success"] == "true" for i in items)
        return mine

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for result in pool.map(worker, range(threads)):
            accepted["run"] += result["run"]
            accepted["stop"] += result["stop"]
    return accepted


def test_concurrent_run_stop_is_consistent(emulator_factory):
    emu = emulator_factory(token="t", speed=1.0)
    job_ids = [emu.create_job(name=f"job{i}") for i in range(10)]
    done = threading.Event()

    def tick():  # jobs keep moving (submitting → running, canceling → cancelled) while clients hammer
        while not done.is_set():
            emu.advance_clock(0.5)
            time.sleep(0.003)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        accepted = _hammer(emu, job_ids, rounds=60)
    finally:
        done.set()
        ticker.join()
    statuses = {j: emu.get_job(j)["status"] for j in job_ids}
    assert set(statuses.values()) <= {"job_init", "job_submitting", "job_running", "job_canceling",
                                      "job_cancel_success"}
    # Per job, accepted runs and stops strictly alternate (run only from a stopped state, stop only
    # from submitting/running), so runs - stops == jobs now on their way up. A lost update breaks it.
    up = sum(s in ("job_submitting", "job_running") for s in statuses.values())
    assert accepted["run"] - accepted["stop"] == up
    assert accepted["run"] > 10 and accepted["stop"] > 0  # jobs went round more than once
    emu.advance_clock(3600)
    assert all(emu.get_job(j)["status"] in JOB_STATUSES for j in job_ids)
    assert emu.store.integrity_ok()


def test_concurrent_requests_on_a_file_db(emulator_factory, tmp_path):
    db = tmp_path / "jobs.sqlite"
    emu = emulator_factory(token="t", db=str(db), speed=50)
    job_ids = [emu.create_job(name=f"job{i}") for i in range(10)]

    def create(i):
        return emu.create_job(name=f"from-thread-{i}")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        created = list(pool.map(create, range(40)))
    assert len(set(created)) == 40  # no id handed out twice
    _hammer(emu, job_ids, rounds=20)
    emu.advance_clock(60)
    assert all(emu.get_job(j)["status"] in JOB_STATUSES for j in job_ids + created)
    emu.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 50
