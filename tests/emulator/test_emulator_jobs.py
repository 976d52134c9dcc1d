"""The DLI job routes: run/stop/list/detail/delete/create, shapes as in shared/dli-api.md."""

from __future__ import annotations

import re
import time

import pytest
import requests

from dli_magic.contract import JOB_STATUSES, RUNNABLE_STATUSES

RUN_OK = "The request for submitting DLI jobs is delivered successfully."


def test_list_default_page_and_total_count(api):
    r = api.get("jobs")
    assert r.status_code == 200
    body = r.json()
    assert body["is_success"] == "true"
    assert body["job_list"]["total_count"] == 12
    jobs = body["job_list"]["jobs"]
    assert len(jobs) == 10  # default limit
    created = [j["create_time"] for j in jobs]
    assert created == sorted(created, reverse=True)  # default order desc
    assert {"job_id", "name", "status", "has_savepoint", "queue_name", "create_time"} <= set(jobs[0])
    assert "sql_body" not in jobs[0]  # a detail-only field


def test_list_pagination_order_and_limit_cap(api):
    seen = []
    for offset in range(0, 12, 5):
        r = api.get("jobs", params={"limit": 5, "offset": offset, "order": "asc"})
        page = r.json()["job_list"]
        assert page["total_count"] == 12
        seen += [j["job_id"] for j in page["jobs"]]
    assert len(seen) == 12 and len(set(seen)) == 12
    times = [api.emu.get_job(i)["create_time"] for i in seen]
    assert times == sorted(times)
    assert len(api.get("jobs", params={"limit": 100}).json()["job_list"]["jobs"]) == 12
    r = api.get("jobs", params={"limit": 101})
    assert r.status_code == 400
    assert r.json()["error_code"] == "DLI.0001" and "limit" in r.json()["error_msg"]


@pytest.mark.parametrize(
    "params, error_field",
    [({"limit": "x"}, "limit"), ({"offset": -1}, "offset"), ({"order": "up"}, "order"),
     ({"status": "running"}, "status"), ({"show_detail": "yes"}, "show_detail"), ({"tags": "novalue"}, "tags")],
)
def test_list_bad_parameters_are_400_naming_the_field(api, params, error_field):
    r = api.get("jobs", params=params)
    assert r.status_code == 400
    assert r.json()["error_code"] == "DLI.0001"
    assert error_field in r.json()["error_msg"]


@pytest.mark.parametrize(
    "query, field",
    [("limit=%C2%B2", "limit"), ("limit=--5", "limit"), ("limit=5-", "limit"), ("limit=%EF%BC%95", "limit"),
     ("offset=99999999999999999999", "offset"), ("offset=9223372036854775808", "offset"),
     ("offset=" + "9" * 5000, "offset"), ("limit=-99999999999999999999", "limit")],
)
def test_list_non_ascii_or_huge_integers_are_400_not_500(api, query, field):
    r = api.get("jobs?" + query)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "DLI.0001" and field in r.json()["error_msg"]


def test_list_offset_up_to_int64_max_is_an_empty_page(api):
    r = api.get("jobs?offset=9223372036854775807")
    assert r.status_code == 200 and r.json()["job_list"]["jobs"] == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("job_id", ["%C2%B2", "%EF%BC%91", "99999999999999999999", "9" * 5000, "0", "-1"])
def test_bad_or_huge_path_job_id_is_400_not_500(api, method, job_id):
    r = api.call(method, f"jobs/{job_id}")
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "DLI.0001"
    assert "job_id is not a valid job id" in r.json()["error_msg"]


def test_list_filters(api):
    def ids(**params):
        body = api.get("jobs", params={"limit": 100, **params}).json()["job_list"]
        assert body["total_count"] == len(body["jobs"])
        return {j["job_id"] for j in body["jobs"]}

    assert ids(status="job_running") == {130, 137}
    assert ids(job_type="flink_jar_job") == {137, 160, 219}
    assert ids(queue_name="dli_dev") == {138, 142, 160, 188, 219}
    assert ids(name="SYNC") == {138}  # substring, case-insensitive
    assert ids(user_name="dev_kai") == {160, 188}
    assert ids(tags="env=dev,team=platform") == {138, 142, 160, 188}
    assert ids(tags="env=dev") == {138, 142, 160, 188, 219}
    assert ids(status="job_running", queue_name="dli_dev") == set()
    page = api.get("jobs", params={"queue_name": "dli_prod", "limit": 2}).json()["job_list"]
    assert page["total_count"] == 7 and len(page["jobs"]) == 2


def test_list_name_filter_is_unicode_case_insensitive(api):
    def names(name):
        return {j["name"] for j in api.get("jobs", params={"name": name, "limit": 100}).json()["job_list"]["jobs"]}

    api.emu.create_job(name="Élan_vital")
    api.emu.create_job(name="STRASSE_ÖL")
    assert names("Élan") == {"Élan_vital"}
    assert names("élan") == {"Élan_vital"}
    assert names("ÉLAN_VITAL") == {"Élan_vital"}
    assert names("straße_öl") == {"STRASSE_ÖL"}  # full case folding: ß ~ ss


def test_list_tags_filter_matches_exact_pairs_only(api):
    tricky = api.emu.create_job(name="tricky", tags=[{"key": "a", "value": "1,b=2"}, {"key": "k", "value": "x=y"}])
    plain = api.emu.create_job(name="plain", tags=[{"key": "b", "value": "2"}, {"key": "n", "value": 7}])

    def ids(tags):
        return {j["job_id"] for j in api.get("jobs", params={"tags": tags, "limit": 100}).json()["job_list"]["jobs"]}

    assert ids("b=2") == {plain}
    assert ids("k=x=y") == {tricky}
    assert ids("k=x") == set() and ids("a=1") == set()
    assert ids("n=7,b=2") == {plain}
    assert ids("b=2,a=1") == set()


def test_filters_of_an_older_database_are_migrated(emulator_factory, make_api, tmp_path):
    import sqlite3

    db = str(tmp_path / "old.sqlite")
    emu = emulator_factory(token="t", db=db)
    job = emu.create_job(name="Straße_job", tags=[{"key": "env", "value": "prod"}])
    emu.create_job(name="other", tags=[{"key": "env", "value": "dev"}])
    emu.close()
    with sqlite3.connect(db) as conn:  # the database as the emulator stored it before the filter columns
        conn.execute("DROP TABLE job_tags")
        conn.execute("DELETE FROM meta WHERE key='job_tags'")
        conn.execute("ALTER TABLE jobs DROP COLUMN name_key")
    emu = emulator_factory(token="t", db=db)
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    by_tag = api.get("jobs", params={"tags": "env=prod"}).json()["job_list"]["jobs"]
    by_name = api.get("jobs", params={"name": "STRASSE"}).json()["job_list"]["jobs"]
    assert [j["job_id"] for j in by_tag] == [j["job_id"] for j in by_name] == [job]


def test_list_show_detail_adds_detail_fields(api):
    jobs = api.get("jobs", params={"show_detail": "true", "limit": 1}).json()["job_list"]["jobs"]
    assert {"sql_body", "project_id", "job_config", "user_id", "update_time"} <= set(jobs[0])


def test_detail_shape_and_unknown_id(api):
    r = api.get("jobs/137")
    assert r.status_code == 200
    body = r.json()
    assert body["is_success"] == "true" and body["message"]
    job = body["job_detail"]
    assert job["job_id"] == 137 and job["name"] == "payments_fraud_score"
    assert job["project_id"] == api.emu.project_id
    assert job["has_savepoint"] is True and job["savepoint_path"].startswith("obs://")
    assert job["duration"] > 0 and job["start_time"] > 0  # running: duration grows with the clock
    for missing in ("jobs/999999", "jobs/1"):
        r = api.get(missing)
        assert r.status_code == 400
        assert r.json()["error_code"] == "DLI.16001"
        assert missing.split("/")[1] in r.json()["error_msg"]
    r = api.get("jobs/abc")
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.0001"


def test_run_per_item_results_in_request_order(api):
    r = api.post("jobs/run", json={"job_ids": [138, 130, 424242], "resume_savepoint": False})
    assert r.status_code == 200
    items = r.json()
    assert [i["is_success"] for i in items] == ["true", "false", "false"]
    assert items[0]["message"] == RUN_OK
    assert "130" in items[1]["message"] and "job_running" in items[1]["message"]
    assert "424242" in items[2]["message"]
    assert api.status(138) == "job_submitting"


def test_run_transitions_with_advance_clock(emulator_factory, make_api):
    emu = emulator_factory(token="t", speed=1.0)
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    ok = emu.create_job(name="good")
    bad = emu.create_job(name="will_FAIL_soon")
    items = api.post("jobs/run", json={"job_ids": [ok, bad]}).json()
    assert [i["is_success"] for i in items] == ["true", "true"]
    assert api.status(ok) == api.status(bad) == "job_submitting"
    emu.advance_clock(1.0)
    assert api.status(ok) == "job_submitting"
    emu.advance_clock(1.5)
    assert api.status(ok) == "job_running"
    assert api.status(bad) == "job_submit_fail"
    detail = api.get(f"jobs/{ok}").json()["job_detail"]
    assert detail["status"] == "job_running" and detail["start_time"] > 0
    # listing sees the settled status too (the status filter runs in SQL)
    listed = api.get("jobs", params={"status": "job_running"}).json()["job_list"]["jobs"]
    assert [j["job_id"] for j in listed] == [ok]
    # a failed submission may be run again
    assert api.post("jobs/run", json={"job_ids": [bad]}).json()[0]["is_success"] == "true"


def test_running_twice_is_refused_per_item(api):
    first = api.post("jobs/run", json={"job_ids": [204]}).json()
    second = api.post("jobs/run", json={"job_ids": [204]}).json()
    assert first[0]["is_success"] == "true"
    assert second[0]["is_success"] == "false" and "204" in second[0]["message"]


def test_stop_with_savepoint_then_resume(emulator_factory, make_api):
    emu = emulator_factory(token="t")
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    job = emu.create_job(name="stream", status="job_running", start_time=emu.now_ms() - 5000)
    items = api.post("jobs/stop", json={"job_ids": [job], "trigger_savepoint": True}).json()
    assert items == [{"is_success": "true", "message": "The request for stopping DLI jobs is delivered successfully."}]
    assert api.status(job) == "job_savepointing"
    emu.advance_clock(1.01)
    assert api.status(job) == "job_canceling"
    assert emu.get_job(job)["has_savepoint"] is True
    emu.advance_clock(1.01)
    stopped = emu.get_job(job)
    assert stopped["status"] == "job_cancel_success"
    assert stopped["duration"] >= 5000
    assert stopped["status"] in RUNNABLE_STATUSES
    # stopping a stopped job is refused per item
    again = api.post("jobs/stop", json={"job_ids": [job]}).json()[0]
    assert again["is_success"] == "false" and str(job) in again["message"]
    # resume from the savepoint: the answer is the documented one only, the path stays on the job
    items = api.post("jobs/run", json={"job_ids": [job], "resume_savepoint": True}).json()
    assert items == [{"is_success": "true", "message": RUN_OK}]
    assert emu.get_job(job)["savepoint_path"] == stopped["savepoint_path"]


def test_stop_without_savepoint_cancels(emulator_factory, make_api):
    emu = emulator_factory(token="t", speed=10)
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    job = emu.create_job(name="s", status="job_running", start_time=emu.now_ms())
    api.post("jobs/stop", json={"job_ids": [job], "trigger_savepoint": False})
    assert api.status(job) == "job_canceling"
    emu.advance_clock(0.11)
    assert api.status(job) == "job_cancel_success"
    assert emu.get_job(job)["has_savepoint"] is False


def test_unknown_ids_error_mode(emulator_factory, make_api):
    emu = emulator_factory(token="t", unknown_ids="error")
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    job = emu.create_job(name="a")
    r = api.post("jobs/run", json={"job_ids": [job, 777777]})
    assert r.status_code == 400
    assert r.json()["error_code"] == "DLI.16001" and "777777" in r.json()["error_msg"]
    assert api.status(job) == "job_init"  # nothing processed
    r = api.post("jobs/stop", json={"job_ids": [777777]})
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.16001"


@pytest.mark.parametrize(
    "body, field",
    [
        (b"not json", "body"),
        (b"[1,2]", "body"),
        (b"{}", "job_ids"),
        (b'{"job_ids": 131}', "job_ids"),
        (b'{"job_ids": []}', "job_ids"),
        (b'{"job_ids": [131, "x"]}', "job_ids[1]"),
        (b'{"job_ids": [131, 1.5]}', "job_ids[1]"),
        (b'{"job_ids": [true]}', "job_ids[0]"),
        (b'{"job_ids": [131], "resume_savepoint": "yes"}', "resume_savepoint"),
    ],
)
def test_malformed_run_bodies_are_400_naming_the_field(api, body, field):
    before = api.status(138)
    r = api.post("jobs/run", data=body, headers={**api.headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "DLI.0001"
    assert field in r.json()["error_msg"]
    assert api.status(138) == before


def test_stop_bad_trigger_savepoint(api):
    r = api.post("jobs/stop", json={"job_ids": [130], "trigger_savepoint": 1})
    assert r.status_code == 400 and "trigger_savepoint" in r.json()["error_msg"]
    assert api.status(130) == "job_running"


def test_create_sql_and_jar_jobs(api):
    r = api.post("sql-jobs", json={"name": "my_sql", "sql_body": "SELECT 1", "queue_name": "q1",
                                   "tags": [{"key": "k", "value": "v"}], "cu_number": 4})
    assert r.status_code == 200
    body = r.json()
    assert body["is_success"] == "true"
    job = body["job"]
    assert job["status_name"] == "job_init" and isinstance(job["job_id"], int)
    detail = api.get(f"jobs/{job['job_id']}").json()["job_detail"]
    assert detail["name"] == "my_sql" and detail["sql_body"] == "SELECT 1" and detail["queue_name"] == "q1"
    assert detail["job_type"] == "flink_sql_job" and detail["job_config"]["cu_number"] == 4
    assert detail["user_name"]
    assert {j["job_id"] for j in api.get("jobs", params={"tags": "k=v"}).json()["job_list"]["jobs"]} == {job["job_id"]}
    r = api.post("flink-jobs", json={"name": "my_jar", "main_class": "a.B", "entrypoint": "obs://b/x.jar"})
    jar = r.json()["job"]["job_id"]
    assert jar > job["job_id"]
    detail = api.get(f"jobs/{jar}").json()["job_detail"]
    assert detail["job_type"] == "flink_jar_job" and detail["job_config"]["entrypoint"] == "obs://b/x.jar"
    for bad, field in (({}, "name"), ({"name": "x" * 58}, "name"), ({"name": "a", "tags": "k=v"}, "tags"),
                       ({"name": "a", "job_type": "spark"}, "job_type")):
        r = api.post("sql-jobs", json=bad)
        assert r.status_code == 400 and field in r.json()["error_msg"], bad


def test_delete_one_and_batch(api):
    r = api.delete("jobs/138")
    assert r.status_code == 200 and r.json()["is_success"] == "true"
    assert api.get("jobs/138").status_code == 400
    assert api.delete("jobs/138").json()["error_code"] == "DLI.16001"
    items = api.post("jobs/delete", json={"job_ids": [142, 138]}).json()
    assert [i["is_success"] for i in items] == ["true", "false"]
    assert "138" in items[1]["message"]
    assert api.get("jobs").json()["job_list"]["total_count"] == 10


def test_job_ids_are_never_reused_after_delete_even_across_a_restart(emulator_factory, make_api, tmp_path):
    db = str(tmp_path / "ids.sqlite")
    emu = emulator_factory(token="t", db=db)
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    first = api.post("sql-jobs", json={"name": "a"}).json()["job"]["job_id"]
    assert first == 1001
    assert api.delete(f"jobs/{first}").status_code == 200
    second = api.post("sql-jobs", json={"name": "b"}).json()["job"]["job_id"]
    assert second == first + 1
    assert api.delete(f"jobs/{second}").status_code == 200
    assert emu.create_job(name="seeded", job_id=5000) == 5000  # a seeded id above the counter moves it on
    emu.close()
    emu = emulator_factory(token="t", db=db)  # restart: the counter survives, the jobs table is empty
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    api.delete("jobs/5000")
    third = api.post("sql-jobs", json={"name": "c"}).json()["job"]["job_id"]
    assert third == 5001


def test_clock_offset_survives_a_restart_with_the_same_db(emulator_factory, tmp_path):
    db = str(tmp_path / "clock.sqlite")
    emu = emulator_factory(token="t", db=db, speed=1.0)
    emu.advance_clock(3 * 86400)
    created = emu.create_job(name="late")
    before = emu.get_job(created)["create_time"]
    requests.post(f"{emu.url}/v1.0/{emu.project_id}/streaming/jobs/run", json={"job_ids": [created]},
                  headers={"X-Auth-Token": "t"}, timeout=5)
    emu.close()
    emu = emulator_factory(token="t", db=db, speed=1.0)
    assert emu.now_ms() >= before  # the clock did not jump back three days
    assert emu.get_job(created)["status"] == "job_submitting"  # the 2 s submit plan is still pending
    emu.advance_clock(3)
    job = emu.get_job(created)
    assert job["status"] == "job_running" and job["start_time"] >= before
    assert requests.post(f"{emu.url}/_emulator/clock", data=b'{"advance": NaN}', timeout=5).status_code == 400


def test_demo_jobs_that_never_started_have_no_start_time(api):
    jobs = api.get("jobs", params={"limit": 100}).json()["job_list"]["jobs"]
    never = [j for j in jobs if j["status"] in ("job_init", "job_submit_fail")]
    assert {j["job_id"] for j in never} == {138, 142, 204}
    for job in never:
        assert job["start_time"] is None and job["duration"] == 0, job
    for job in jobs:
        if job["status"] not in ("job_init", "job_submit_fail"):
            assert job["start_time"] > job["create_time"]


def test_every_status_is_valid_and_is_success_is_a_string(api):
    jobs = api.get("jobs", params={"limit": 100}).json()["job_list"]["jobs"]
    assert all(j["status"] in JOB_STATUSES for j in jobs)
    assert all(isinstance(i["is_success"], str) for i in api.post("jobs/run", json={"job_ids": [138]}).json())


def test_project_isolation(api, emulator):
    other = "f" * 32
    job = emulator.create_job(name="theirs", project_id=other)
    assert api.get(f"jobs/{job}").status_code == 400  # invisible from the default project
    assert api.get(f"jobs/{job}", project_id=other).json()["job_detail"]["project_id"] == other
    listing = api.get("jobs", project_id=other).json()["job_list"]
    assert listing["total_count"] == 1 and listing["jobs"][0]["job_id"] == job
    item = api.post("jobs/run", project_id=other, json={"job_ids": [130]}).json()[0]
    assert item["is_success"] == "false"  # a default-project job is unknown in the other project
    assert api.status(130) == "job_running"


def test_unknown_route_and_wrong_method_are_gateway_404(api):
    for method, tail in (("GET", "nope"), ("PUT", "jobs/run"), ("GET", "jobs/run/x")):
        r = api.call(method, tail)
        assert r.status_code == 404
        assert r.json()["error_code"] == "APIGW.0101"
        assert re.fullmatch(r"[0-9a-f]{32}", r.json()["request_id"])


def test_malformed_project_id_is_400(api):
    r = api.get("jobs", project_id="bad%20id")
    assert r.status_code == 400 and "project_id" in r.json()["error_msg"]


def test_due_transitions_are_applied_when_due_without_a_read(emulator_factory, make_api):
    """As on the service, a job changes status when its transition falls due, not when the next
    request reads it: a read then pays for no one else's change."""
    emu = emulator_factory(token="t", speed=10, jobs=3)  # submitting lasts 200 ms
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    ids = [job["job_id"] for job in api.get("jobs").json()["job_list"]["jobs"]]
    run = api.post("jobs/run", json={"job_ids": ids})
    assert [item["is_success"] for item in run.json()] == ["true"] * 3
    planned = emu.store.next_change_at()
    assert planned is not None  # submitting -> running
    deadline = time.monotonic() + 10
    while emu.store.next_change_at() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert emu.store.next_change_at() is None
    assert [e["method"] for e in emu.request_log()] == ["GET", "POST"]  # no read since the run
    jobs = {job["job_id"]: job for job in api.get("jobs").json()["job_list"]["jobs"]}
    assert {jobs[i]["status"] for i in ids} == {"job_running"}
    assert {emu.get_job(i)["update_time"] for i in ids} == {planned}  # the planned time, not the read's


def test_a_crash_loop_is_not_a_due_change_but_reads_count_its_restarts(emulator_factory):
    """A crash loop's next restart is always due at a high speed: the emulator leaves it to the
    reads (closed form) instead of rewriting the job in the background all the time."""
    emu = emulator_factory(token="t", speed=1_000_000)
    job_id = emu.create_job("looping", status="job_running_exception",
                            behaviour={"kind": "crash_loop", "every": 5})
    assert emu.store.next_change_at() is None
    first = emu.get_job(job_id)["restart_times"]
    time.sleep(0.05)
    assert emu.get_job(job_id)["restart_times"] > first


def test_the_settler_outlives_a_locked_database_file(emulator_factory, make_api, tmp_path, capsys):
    """Another process holding the --db file's write lock past the busy timeout fails an attempt,
    said once on stderr; the due change is applied once the file is free, still without a read."""
    import sqlite3

    path = tmp_path / "jobs.sqlite"
    emu = emulator_factory(token="t", speed=10, jobs=1, db=str(path))
    api = make_api(emu, headers={"X-Auth-Token": "t"})
    (job_id,) = [job["job_id"] for job in api.get("jobs").json()["job_list"]["jobs"]]
    assert api.post("jobs/run", json={"job_ids": [job_id]}).json()[0]["is_success"] == "true"
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the change falls due (200 ms) while the file is locked
    time.sleep(5.6)  # past the store's 5 s busy timeout
    assert emu.store.next_change_at() is not None
    holder.execute("ROLLBACK")
    holder.close()
    deadline = time.monotonic() + 10
    while emu.store.next_change_at() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emu.store.next_change_at() is None
    assert [e["method"] for e in emu.request_log()] == ["GET", "POST"]
    assert capsys.readouterr().err.count("applying due status changes failed, trying again") == 1
