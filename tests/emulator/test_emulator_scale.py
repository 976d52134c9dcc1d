"""Large projects: seeding N jobs, listing them with every filter, and a request log a benchmark can count."""

from __future__ import annotations

import time

import pytest
import requests

from dli_magic.emulator import Emulator

from cli_process import Running, assert_bad_option

N = 5000


@pytest.fixture(scope="module")
def big():
    # One emulator for the module: seeding is the expensive part, and these tests only read.
    with Emulator(token="t", jobs=N) as emu:
        yield emu


def page(emu, **params):
    r = requests.get(f"{emu.url}/v1.0/{emu.project_id}/streaming/jobs", params=params,
                     headers={"X-Auth-Token": "t"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["job_list"]


def test_seeded_jobs_are_complete_runnable_and_paged_in_order(big):
    ids = []
    for offset in range(0, N, 100):
        jobs = page(big, limit=100, offset=offset, order="asc")
        assert jobs["total_count"] == N
        ids += [j["job_id"] for j in jobs["jobs"]]
        assert {j["status"] for j in jobs["jobs"]} == {"job_init"}
    assert len(ids) == len(set(ids)) == N
    created = [big.get_job(i)["create_time"] for i in (ids[0], ids[1], ids[-1])]
    assert created[0] < created[1] < created[2]
    assert page(big, limit=1)["jobs"][0]["job_id"] == ids[-1]  # newest first by default


def test_filters_over_a_large_project(big):
    assert page(big, tags="shard=3", limit=1)["total_count"] == N // 10
    assert page(big, tags="shard=3,env=prod", limit=1)["total_count"] == N // 10  # shard 3 is odd: prod
    assert page(big, tags="shard=3,env=dev", limit=1)["total_count"] == 0
    assert page(big, queue_name="dli_batch", limit=1)["total_count"] == len(range(2, N, 3))
    named = page(big, name="LOAD_JOB_00049", limit=100)
    assert named["total_count"] == 10
    assert {j["name"] for j in named["jobs"]} == {f"load_job_00049{i}" for i in range(10)}
    assert page(big, status="job_running", limit=1)["total_count"] == 0


def test_seeding_runs_once_per_database_and_adds_to_the_demo(tmp_path):
    db = str(tmp_path / "load.sqlite")
    started = time.perf_counter()
    with Emulator(db=db, jobs=N, demo=True) as emu:
        seconds = time.perf_counter() - started
        assert emu.store.count_all() == N + 12
    assert seconds < 10  # one transaction; a row at a time would take far longer on a file database
    with Emulator(db=db, jobs=N) as emu:
        assert emu.store.count_all() == N + 12


@pytest.mark.parametrize("jobs", [-1, 1_000_001, 2.5, True, "10"])
def test_bad_job_counts_are_refused(jobs):
    with pytest.raises(ValueError, match="jobs"):
        Emulator(jobs=jobs)


def test_cli_seeds_jobs():
    run = Running("--token", "t", "--jobs", "250")
    try:
        r = requests.get(f"{run.url}/v1.0/{'0b6a1c2d3e4f40a1b2c3d4e5f6a7b8c9'}/streaming/jobs",
                         headers={"X-Auth-Token": "t"}, timeout=5)
        assert r.json()["job_list"]["total_count"] == 250
    finally:
        code, _, err = run.stop()
    assert code == 0 and "Traceback" not in err


@pytest.mark.parametrize("value", ["-1", "abc", "1000001", "1e3"])
def test_cli_bad_job_counts_exit_2(value):
    assert_bad_option(["--jobs", value])


def test_request_log_has_wall_clock_times_and_reads_incrementally(emulator_factory, make_api):
    emu = emulator_factory(token="t")
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    before = time.time()
    api.get("jobs")
    emu.advance_clock(3600)
    api.get("jobs")
    after = time.time()
    first, second = emu.request_log()
    assert before <= first["wall_time"] <= second["wall_time"] <= after  # the wall clock, not the emulator's
    assert second["time"] - first["time"] >= 3600
    url = f"{emu.url}/_emulator/requests"
    assert [e["seq"] for e in requests.get(url, params={"since": first["seq"]}, timeout=5).json()] == [second["seq"]]
    assert requests.get(url, params={"since": second["seq"]}, timeout=5).json() == []
    for bad in ("-1", "x", "9" * 30):
        r = requests.get(url, params={"since": bad}, timeout=5)
        assert r.status_code == 400 and "since" in r.json()["error_msg"]
