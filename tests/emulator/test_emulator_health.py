"""Job health over real HTTP: execute-graph, per-job behaviours, the fields that say why a job is unwell."""

from __future__ import annotations

import re

import pytest
import requests

from dli_magic.contract import FLINK_JOB_STATES, JOB_STATUSES
from dli_magic.emulator.store import FLINK_STATE_OF_STATUS

RUN_OK = "The request for submitting DLI jobs is delivered successfully."
STOP_OK = "The request for stopping DLI jobs is delivered successfully."
GRAPH_OK = "Querying the job execution graph succeeds."


def graph(emu_api, job_id):
    r = emu_api.get(f"jobs/{job_id}/execute-graph")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["is_success"] == "true" and body["message"] == GRAPH_OK
    return body["execute_graph"]


def set_behaviour(emu, job_id, behaviour):
    return requests.put(f"{emu.url}/_emulator/jobs/{job_id}/behaviour", json=behaviour, timeout=5)


def run(emu_api, *ids, **options):
    items = emu_api.post("jobs/run", json={"job_ids": list(ids), **options}).json()
    assert items == [{"is_success": "true", "message": RUN_OK}] * len(ids)


def test_every_status_has_a_documented_flink_state():
    assert set(FLINK_STATE_OF_STATUS) == set(JOB_STATUSES)
    assert set(FLINK_STATE_OF_STATUS.values()) <= set(FLINK_JOB_STATES)


def test_execute_graph_follows_a_healthy_job_through_run_and_stop(emu, emu_api):
    job = emu.create_job(name="orders")
    created = graph(emu_api, job)
    assert set(created) == {"jid", "name", "isStoppable", "state", "start-time", "end-time", "duration"}
    assert created["state"] == "CREATED" and created["start-time"] == -1 and created["end-time"] == -1
    run(emu_api, job)
    assert graph(emu_api, job)["state"] == "INITIALIZING"
    emu.advance_clock(2.5)
    running = graph(emu_api, job)
    detail = emu.get_job(job)
    assert running["state"] == "RUNNING" and running["name"] == "orders" and running["end-time"] == -1
    assert running["start-time"] == detail["start_time"] > 0
    assert re.fullmatch("[0-9a-f]{32}", running["jid"]), running["jid"]
    emu.advance_clock(100)  # healthy: still running much later, no restarts
    later = graph(emu_api, job)
    assert later["state"] == "RUNNING" and later["duration"] >= 100_000
    assert emu.get_job(job)["restart_times"] == 0 and emu.get_job(job)["status"] == "job_running"
    stopped = emu_api.post("jobs/stop", json={"job_ids": [job]}).json()
    assert stopped == [{"is_success": "true", "message": STOP_OK}]
    assert graph(emu_api, job)["state"] == "CANCELLING"
    emu.advance_clock(1.5)
    stopped = graph(emu_api, job)
    assert stopped["state"] == "CANCELED" and stopped["end-time"] > stopped["start-time"]
    assert stopped["duration"] == emu.get_job(job)["duration"] == stopped["end-time"] - stopped["start-time"]
    emu.advance_clock(50)  # a stopped job's duration is frozen
    assert graph(emu_api, job)["duration"] == stopped["duration"]


def test_execute_graph_unknown_or_bad_job_id(emu_api):
    r = emu_api.get("jobs/987654/execute-graph")
    assert r.status_code == 400
    assert r.json()["error_code"] == "DLI.16001" and "987654" in r.json()["error_msg"]
    r = emu_api.get("jobs/abc/execute-graph")
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.0001"


def test_crash_loop_counts_restarts_on_the_clock(emu, emu_api):
    job = emu.create_job(name="sessions")
    r = set_behaviour(emu, job, {"kind": "crash_loop", "after": 10, "every": 4, "reason": "TaskManager lost"})
    assert r.status_code == 200 and r.json()["kind"] == "crash_loop"
    run(emu_api, job)
    emu.advance_clock(2.5)
    assert emu.get_job(job)["status"] == "job_running"
    emu.advance_clock(10)  # 10 s after it started running (at 2 s)
    crashed = emu.get_job(job)
    assert crashed["status"] == "job_running_exception" and crashed["restart_times"] == 1
    assert crashed["status_desc"] == "TaskManager lost"
    assert graph(emu_api, job)["state"] == "RESTARTING"
    emu.advance_clock(4 * 10)  # ten more periods in one advance
    assert emu.get_job(job)["restart_times"] == 11
    listed = emu_api.get("jobs", params={"status": "job_running_exception"}).json()["job_list"]["jobs"]
    assert [(j["job_id"], j["restart_times"], j["status_desc"]) for j in listed] == [(job, 11, "TaskManager lost")]
    # a crash-looping job keeps running: its duration grows
    before = emu.get_job(job)["duration"]
    emu.advance_clock(5)
    assert emu.get_job(job)["duration"] >= before + 5000


def test_fail_after_t_seconds_freezes_the_job(emu, emu_api):
    job = emu.create_job(name="rollup", behaviour={"kind": "fail", "after": 3})
    run(emu_api, job)
    emu.advance_clock(2.5)
    assert graph(emu_api, job)["state"] == "RUNNING"
    emu.advance_clock(3)
    failed = emu.get_job(job)
    assert failed["status"] == "job_running_exception" and failed["restart_times"] == 0
    assert "OutOfMemoryError" in failed["status_desc"]
    flink = graph(emu_api, job)
    assert flink["state"] == "FAILED" and flink["end-time"] == flink["start-time"] + 3000
    assert failed["duration"] == 3000
    emu.advance_clock(60)
    assert emu.get_job(job)["duration"] == 3000 and emu.get_job(job)["restart_times"] == 0
    # a failed job may be run again: it starts afresh
    run(emu_api, job)
    emu.advance_clock(2.5)
    assert emu.get_job(job)["status"] == "job_running" and emu.get_job(job)["status_desc"] == ""
    assert graph(emu_api, job)["state"] == "RUNNING"


def test_submit_fail_reason_in_list_and_detail(emu, emu_api):
    job = emu.create_job(name="cdc")
    assert set_behaviour(emu, job, {"kind": "submit_fail", "reason": "No free CUs in queue q1."}).status_code == 200
    run(emu_api, job)
    assert emu_api.get(f"jobs/{job}").json()["job_detail"]["status_desc"] == ""
    emu.advance_clock(2.5)
    listed = emu_api.get("jobs", params={"status": "job_submit_fail"}).json()["job_list"]["jobs"]
    rows = [(j["job_id"], j["status_desc"], j["start_time"]) for j in listed]
    assert rows == [(job, "No free CUs in queue q1.", None)]
    assert graph(emu_api, job)["state"] == "FAILED"


def test_behaviours_are_timed_by_speed(emulator_factory, make_api):
    emu = emulator_factory(token="t", speed=10.0)
    emu_api = make_api(emu, headers={"X-Auth-Token": "t"})
    job = emu.create_job(name="fast", behaviour={"kind": "crash_loop", "after": 10, "every": 5})
    run(emu_api, job)
    emu.advance_clock(0.2 + 0.9)  # submitting lasts 0.2 s at speed 10, then 1 s to the crash
    assert emu.get_job(job)["status"] == "job_running"
    emu.advance_clock(0.2)
    assert emu.get_job(job)["restart_times"] == 1
    emu.advance_clock(1.0)  # two periods of 0.5 s
    assert emu.get_job(job)["restart_times"] == 3


def test_behaviour_set_on_a_running_job_applies_from_now(emu, emu_api):
    job = emu.create_job(name="live", status="job_running", start_time=emu.now_ms() - 60_000)
    assert set_behaviour(emu, job, {"kind": "fail", "after": 2}).status_code == 200
    emu.advance_clock(1)
    assert emu.get_job(job)["status"] == "job_running"
    emu.advance_clock(1.5)
    assert emu.get_job(job)["status"] == "job_running_exception"
    assert graph(emu_api, job)["state"] == "FAILED"


def test_behaviour_admin_route_reads_and_refuses_bad_documents(emu):
    job = emu.create_job(name="b")
    url = f"{emu.url}/_emulator/jobs/{job}/behaviour"
    assert requests.get(url, timeout=5).json()["kind"] == "healthy"
    for bad, word in (({"kind": "sometimes"}, "kind"), ({"kind": "fail", "after": -1}, "after"),
                      ({"kind": "crash_loop", "every": 0}, "every"), ({"kind": "fail", "after": "soon"}, "after"),
                      ({"kind": "fail", "bogus": 1}, "bogus"), ([1], "behaviour")):
        r = requests.put(url, json=bad, timeout=5)
        assert r.status_code == 400 and word in r.json()["error_msg"], (bad, r.text)
    assert requests.get(url, timeout=5).json()["kind"] == "healthy"  # nothing changed
    assert requests.put(url, json="crash_loop", timeout=5).json()["kind"] == "crash_loop"
    assert requests.get(url, timeout=5).json() == {"kind": "crash_loop", "after": 10.0, "every": 5.0,
                                                   "reason": "", "ends_in": "job_submit_fail"}
    assert requests.get(f"{emu.url}/_emulator/jobs/99999/behaviour", timeout=5).status_code == 404


def test_behaviour_as_a_create_option(emu, emu_api):
    r = requests.post(f"{emu.url}/_emulator/jobs", json={"name": "seeded", "behaviour": "submit_fail"}, timeout=5)
    assert r.status_code == 200
    job = r.json()["job_id"]
    run(emu_api, job)
    emu.advance_clock(2.5)
    assert emu.get_job(job)["status"] == "job_submit_fail" and emu.get_job(job)["status_desc"]
    r = requests.post(f"{emu.url}/_emulator/jobs", json={"name": "x", "behaviour": {"kind": "nope"}}, timeout=5)
    assert r.status_code == 400 and "kind" in r.json()["error_msg"]
    with pytest.raises(ValueError, match="kind"):
        emu.create_job(name="y", behaviour="nope")


def test_an_explicit_healthy_behaviour_overrides_the_fail_in_the_name_rule(emu, emu_api):
    job = emu.create_job(name="failover_router", behaviour="healthy")
    run(emu_api, job)
    emu.advance_clock(2.5)
    assert emu.get_job(job)["status"] == "job_running"


def test_job_fields_in_list_and_detail(emu, emu_api):
    job = emu.create_job(name="fields", job_config={"obs_bucket": "my-bucket", "cu_number": 8})
    listed = emu_api.get("jobs", params={"name": "fields"}).json()["job_list"]["jobs"][0]
    for field in ("status_desc", "restart_times", "duration", "start_time", "has_savepoint", "savepoint_path"):
        assert field in listed
    assert "job_config" not in listed  # a detail field (dli-api.md section 1)
    config = emu_api.get(f"jobs/{job}").json()["job_detail"]["job_config"]
    assert config["obs_bucket"] == "my-bucket" and config["cu_number"] == 8
    for key in ("checkpoint_enabled", "checkpoint_interval", "parallel_number"):
        assert key in config
    created = emu_api.post("sql-jobs", json={"name": "api_job", "obs_bucket": "b2", "checkpoint_enabled": True})
    config = emu_api.get(f"jobs/{created.json()['job']['job_id']}").json()["job_detail"]["job_config"]
    assert config["obs_bucket"] == "b2" and config["checkpoint_enabled"] is True and config["cu_number"] == 2


def test_demo_jobs_act_up(emulator_factory, make_api):
    emu = emulator_factory(token="t", demo=True, speed=1.0)
    emu_api = make_api(emu, headers={"X-Auth-Token": "t"})
    before = emu.get_job(171)["restart_times"]
    emu.advance_clock(31)  # the seeded crash loop restarts every 15 s
    assert emu.get_job(171)["restart_times"] == before + 2
    assert graph(emu_api, 171)["state"] == "RESTARTING"
    run(emu_api, 142, 230)
    emu.advance_clock(2.5)
    assert emu.get_job(142)["status"] == "job_submit_fail"
    assert emu.get_job(142)["status_desc"] == "Submit failed: the queue dli_dev has no free CUs."
    assert emu.get_job(230)["status"] == "job_running"
    emu.advance_clock(30)
    assert emu.get_job(230)["status"] == "job_running_exception" and graph(emu_api, 230)["state"] == "FAILED"
    assert emu.get_job(138)["job_config"]["obs_bucket"] == "dli-demo"
