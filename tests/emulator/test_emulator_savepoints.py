"""Savepoints over real HTTP: the trigger route, stop with a savepoint, resume, and their failures."""

from __future__ import annotations

import re

import pytest
import requests

RUN_OK = "The request for submitting DLI jobs is delivered successfully."
SAVEPOINT_OK = '{"is_success":"true","message":"api.msg.deal_savepoint_success"}'


def running_job(emu, **fields):
    return emu.create_job(name=fields.pop("name", "stream"), status="job_running",
                          start_time=emu.now_ms() - 10_000, **fields)


def trigger(emu_api, job_id, path="bucket-name/dir/savepoint/", **extra):
    body = {"action": "TRIGGER", **({} if path is None else {"savepoint_path": path}), **extra}
    return emu_api.post(f"jobs/{job_id}/savepoint", json=body)


def test_trigger_on_a_running_job_records_the_path_and_keeps_it_running(emu, emu_api):
    job = running_job(emu)
    started = emu.get_job(job)["start_time"]
    r = trigger(emu_api, job)
    assert r.status_code == 200 and r.json() == {"is_success": "true", "message": SAVEPOINT_OK}
    assert emu.get_job(job)["status"] == "job_savepointing"
    emu.advance_clock(1.5)
    done = emu.get_job(job)
    assert done["status"] == "job_running" and done["has_savepoint"] is True
    assert re.fullmatch(r"obs://bucket-name/dir/savepoint/savepoint-\d+", done["savepoint_path"])
    assert done["start_time"] == started and done["restart_times"] == 0
    # the documented form without obs:// and with it land in the same place
    trigger(emu_api, job, path="obs://bucket-name/other")
    emu.advance_clock(1.5)
    assert emu.get_job(job)["savepoint_path"].startswith("obs://bucket-name/other/savepoint-")


@pytest.mark.parametrize(
    "body, field",
    [({"action": "TRIGGER"}, "savepoint_path"), ({"action": "TRIGGER", "savepoint_path": ""}, "savepoint_path"),
     ({"action": "TRIGGER", "savepoint_path": 7}, "savepoint_path"),
     ({"action": "TRIGGER", "savepoint_path": "Bad_Bucket/x/"}, "savepoint_path"),
     ({"action": "TRIGGER", "savepoint_path": "s3://bucket/x/"}, "savepoint_path"),
     ({"action": "TRIGGER", "savepoint_path": "bucket/a/../b"}, "savepoint_path"),
     ({"action": "TRIGGER", "savepoint_path": "bucket/a b"}, "savepoint_path"),
     ({"action": "TRIGGER", "savepoint_path": "bucket/" + "d" * 1100}, "savepoint_path"),
     ({"action": "trigger", "savepoint_path": "bucket/x/"}, "action"), ({"savepoint_path": "bucket/x/"}, "action"),
     (["TRIGGER"], "body")],
)
def test_bad_trigger_requests_are_400_naming_the_field_and_change_nothing(emu, emu_api, body, field):
    job = running_job(emu)
    r = emu_api.post(f"jobs/{job}/savepoint", json=body)
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.0001", r.text
    assert field in r.json()["error_msg"]
    job_after = emu.get_job(job)
    assert job_after["status"] == "job_running" and job_after["has_savepoint"] is False


def test_trigger_needs_a_running_job(emu, emu_api):
    for status in ("job_init", "job_cancel_success", "job_running_exception", "job_submitting"):
        job = emu.create_job(name=status, status=status)
        r = trigger(emu_api, job)
        assert r.status_code == 400 and r.json()["error_code"] == "DLI.0007", r.text
        assert status in r.json()["error_msg"] and emu.get_job(job)["status"] == status
    r = trigger(emu_api, 987654)
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.16001"


def test_stop_with_savepoint_records_it_under_the_jobs_bucket(emu, emu_api):
    job = running_job(emu, job_config={"obs_bucket": "team-bucket"})
    stopped = emu_api.post("jobs/stop", json={"job_ids": [job], "trigger_savepoint": True}).json()
    assert stopped[0]["is_success"] == "true"
    assert emu.get_job(job)["status"] == "job_savepointing"
    emu.advance_clock(1.5)
    canceling = emu.get_job(job)
    assert canceling["status"] == "job_canceling" and canceling["has_savepoint"] is True
    assert re.fullmatch(rf"obs://team-bucket/{job}/savepoint/savepoint-\d+", canceling["savepoint_path"])
    emu.advance_clock(1.5)
    stopped = emu.get_job(job)
    assert stopped["status"] == "job_cancel_success" and stopped["savepoint_path"] == canceling["savepoint_path"]
    assert emu_api.get(f"jobs/{job}/execute-graph").json()["execute_graph"]["state"] == "CANCELED"


def test_a_failing_savepoint_on_stop_leaves_the_job_running_with_the_reason(emu, emu_api):
    job = running_job(emu, behaviour="savepoint_fail")
    emu_api.post("jobs/stop", json={"job_ids": [job], "trigger_savepoint": True})
    assert emu.get_job(job)["status"] == "job_savepointing"
    emu.advance_clock(1.5)
    kept = emu.get_job(job)
    assert kept["status"] == "job_running" and kept["has_savepoint"] is False and kept["savepoint_path"] is None
    assert "savepoint" in kept["status_desc"] and "keeps running" in kept["status_desc"]
    emu.advance_clock(60)
    assert emu.get_job(job)["status"] == "job_running"
    assert emu_api.get(f"jobs/{job}/execute-graph").json()["execute_graph"]["state"] == "RUNNING"
    # a stop without a savepoint still works
    emu_api.post("jobs/stop", json={"job_ids": [job]})
    emu.advance_clock(1.5)
    assert emu.get_job(job)["status"] == "job_cancel_success"


def test_a_failing_triggered_savepoint_keeps_the_previous_one(emu, emu_api):
    job = running_job(emu, behaviour={"kind": "savepoint_fail", "reason": "OBS said no."},
                      has_savepoint=True, savepoint_path="obs://b/old/savepoint-1")
    assert trigger(emu_api, job).status_code == 200
    emu.advance_clock(1.5)
    kept = emu.get_job(job)
    assert (kept["status"], kept["savepoint_path"], kept["status_desc"]) == (
        "job_running", "obs://b/old/savepoint-1", "OBS said no.")


def test_resume_from_a_savepoint_keeps_its_path(emu, emu_api):
    job = emu.create_job(name="resumable", status="job_cancel_success", has_savepoint=True,
                         savepoint_path="obs://b/1/savepoint/savepoint-5")
    items = emu_api.post("jobs/run", json={"job_ids": [job], "resume_savepoint": True}).json()
    assert items == [{"is_success": "true", "message": RUN_OK}]
    emu.advance_clock(2.5)
    resumed = emu.get_job(job)
    assert resumed["status"] == "job_running"
    assert (resumed["has_savepoint"], resumed["savepoint_path"]) == (True, "obs://b/1/savepoint/savepoint-5")


@pytest.mark.parametrize("ends_in, flink_state", [("job_submit_fail", "FAILED"), ("job_running_exception", "FAILED")])
def test_a_job_that_fails_to_come_back_after_a_resume(emu, emu_api, ends_in, flink_state):
    job = emu.create_job(name="fragile", status="job_cancel_success", has_savepoint=True,
                         savepoint_path="obs://b/2/savepoint/savepoint-9",
                         behaviour={"kind": "resume_fail", "ends_in": ends_in})
    emu_api.post("jobs/run", json={"job_ids": [job], "resume_savepoint": True})
    assert emu.get_job(job)["status"] == "job_submitting"
    emu.advance_clock(2.5)
    failed = emu.get_job(job)
    assert failed["status"] == ends_in
    assert "obs://b/2/savepoint/savepoint-9" in failed["status_desc"]
    assert emu_api.get(f"jobs/{job}/execute-graph").json()["execute_graph"]["state"] == flink_state
    emu.advance_clock(60)
    assert emu.get_job(job)["status"] == ends_in
    # started without resuming, the same job runs
    emu_api.post("jobs/run", json={"job_ids": [job], "resume_savepoint": False})
    emu.advance_clock(2.5)
    assert emu.get_job(job)["status"] == "job_running" and emu.get_job(job)["status_desc"] == ""


def test_a_planned_crash_waits_for_the_savepoint(emu, emu_api):
    job = running_job(emu)
    requests.put(f"{emu.url}/_emulator/jobs/{job}/behaviour", json={"kind": "fail", "after": 0.5},
                 timeout=5).raise_for_status()
    trigger(emu_api, job)
    emu.advance_clock(0.7)  # the failure was due, the savepoint is not done yet
    assert emu.get_job(job)["status"] == "job_savepointing"
    emu.advance_clock(0.5)
    done = emu.get_job(job)
    assert done["status"] == "job_running_exception" and done["has_savepoint"] is True


def test_without_the_savepoint_api_the_route_does_not_exist(emulator_factory, make_api):
    emu = emulator_factory(token="t", savepoint_api=False)
    emu_api = make_api(emu, headers={"X-Auth-Token": "t"})
    job = running_job(emu)
    r = trigger(emu_api, job)
    assert r.status_code == 404 and r.json()["error_code"] == "APIGW.0101" and "request_id" in r.json()
    assert emu.get_job(job)["status"] == "job_running"


def test_demo_jobs_with_savepoint_trouble(emulator_factory, make_api):
    emu = emulator_factory(token="t", demo=True, speed=1.0)
    emu_api = make_api(emu, headers={"X-Auth-Token": "t"})
    emu_api.post("jobs/run", json={"job_ids": [155, 219], "resume_savepoint": True})
    emu.advance_clock(2.5)
    assert emu.get_job(155)["status"] == "job_running"  # no savepoint to resume from: a plain start
    assert emu.get_job(219)["status"] == "job_submit_fail"
    assert emu.get_job(219)["savepoint_path"] in emu.get_job(219)["status_desc"]
    emu_api.post("jobs/stop", json={"job_ids": [155], "trigger_savepoint": True})
    emu.advance_clock(1.5)
    assert emu.get_job(155)["status"] == "job_running" and emu.get_job(155)["has_savepoint"] is False
