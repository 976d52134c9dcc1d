"""restart_jobs over real HTTP: each path of the restart, what each row says, and what was sent."""

from __future__ import annotations

import json
import re

import pytest

import dli_magic
from dli_magic import api
from restart_helpers import posts, running

SAVEPOINT = re.compile(r"obs://[a-z0-9.-]+/(\d+)/savepoint/savepoint-\d+")


def body(entry):
    return entry["body"]


def test_running_jobs_are_stopped_with_a_savepoint_and_resumed_from_it(emu, client):
    old = "obs://dli-emulator/older/savepoint-1"
    a = running(emu, "orders", has_savepoint=True, savepoint_path=old)
    b = running(emu, "payments")
    df = api.restart_jobs([a, b], client=client)
    assert df.attrs["action"] == "restart"
    assert df["job_id"].tolist() == [a, b]
    assert df["is_success"].tolist() == [True, True]
    assert df["status"].tolist() == ["job_running", "job_running"]
    assert df["name"].tolist() == ["orders", "payments"]
    assert df["healthy"].isna().all()  # no --stable: health was not checked
    for job_id, path, message in zip(df["job_id"], df["savepoint_path"], df["message"]):
        assert SAVEPOINT.fullmatch(path) and SAVEPOINT.fullmatch(path).group(1) == str(job_id)
        assert path != old
        assert message == f"stopped with savepoint {path}; resumed from it; job_running"
        stored = emu.get_job(job_id)
        assert stored["status"] == "job_running" and stored["savepoint_path"] == path
    # one stop with a savepoint, then one run resuming, for both jobs
    stop, run = posts(emu, "/jobs/stop"), posts(emu, "/jobs/run")
    assert [body(s) for s in stop] == [{"job_ids": [a, b], "trigger_savepoint": True}]
    assert [body(r) for r in run] == [{"job_ids": [a, b], "resume_savepoint": True}]
    assert stop[0]["seq"] < run[0]["seq"]
    # the run went out only after a read showed both stopped
    between = [r for r in emu.request_log() if stop[0]["seq"] < r["seq"] < run[0]["seq"]]
    assert between and all(r["method"] == "GET" for r in between)
    assert df.attrs["requests"] == 2
    steps = df.attrs["steps"]
    json.dumps(steps)  # JSON-able, as it is stored in the history
    assert [s["step"] for s in steps[a]] == ["read", "stop", "after stop", "run", "after run"]
    assert steps[a][0]["savepoint_path"] == old
    assert steps[a][2]["status"] == "job_cancel_success" and steps[a][2]["new_savepoint"] is True
    assert steps[a][3]["resume_savepoint"] is True and steps[a][3]["is_success"] is True


def test_the_official_sdk_sees_the_savepoint_the_row_names(emu, client):
    sdk = pytest.importorskip("huaweicloudsdkdli.v1")
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig

    from dli_magic.emulator.testing import SENTINEL_AK, SENTINEL_SK

    job = running(emu)
    df = api.restart_jobs([job], client=client)
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    sdk_client = (sdk.DliClient.new_builder().with_http_config(config)
                  .with_credentials(BasicCredentials(SENTINEL_AK, SENTINEL_SK, emu.project_id))
                  .with_endpoint(emu.url).build())
    detail = sdk_client.show_flink_job(sdk.ShowFlinkJobRequest(job_id=job)).job_detail
    assert detail.status == "job_running" and detail.has_savepoint is True
    assert detail.savepoint_path == df.loc[0, "savepoint_path"]


def test_a_failed_savepoint_leaves_the_job_running_and_it_is_not_started_again(emu, client):
    good = running(emu, "good")
    bad = running(emu, "bad")
    emu.set_behaviour(bad, {"kind": "savepoint_fail", "reason": "Savepoint failed: OBS bucket not writable."})
    df = api.restart_jobs([good, bad], client=client).set_index("job_id")
    assert df.loc[good, "is_success"] == True  # noqa: E712 -- a pandas boolean
    row = df.loc[bad]
    assert row["is_success"] == False  # noqa: E712
    assert row["status"] == "job_running" and row["status_desc"] == "Savepoint failed: OBS bucket not writable."
    assert pd_na(row["savepoint_path"])
    assert row["message"] == ("the stop with savepoint did not happen (Savepoint failed: OBS bucket not writable.); "
                              "not restarted: the job is still job_running")
    runs = posts(emu, "/jobs/run")
    assert [body(r)["job_ids"] for r in runs] == [[good]]  # never the job whose savepoint failed
    assert emu.get_job(bad)["status"] == "job_running"


def pd_na(value):
    import pandas as pd

    return value is pd.NA


def test_allow_no_savepoint_stops_it_plainly_and_starts_it_afresh(emu, client):
    job = running(emu)
    emu.set_behaviour(job, "savepoint_fail")
    df = api.restart_jobs([job], client=client, allow_no_savepoint=True)
    row = df.iloc[0]
    assert row["is_success"] == True and row["status"] == "job_running"  # noqa: E712
    assert pd_na(row["savepoint_path"])
    assert "the stop with savepoint did not happen" in row["message"]
    assert row["message"].endswith("stopped without a savepoint (--allow-no-savepoint); started without a savepoint; "
                                   "job_running")
    assert [body(s)["trigger_savepoint"] for s in posts(emu, "/jobs/stop")] == [True, False]
    assert [body(r) for r in posts(emu, "/jobs/run")] == [{"job_ids": [job], "resume_savepoint": False}]
    assert df.attrs["allow_no_savepoint"] is True


def test_a_job_that_does_not_come_back_says_so_and_keeps_the_savepoint_to_resume_from(emu, client):
    job = running(emu, has_savepoint=True, savepoint_path="obs://dli-emulator/x/savepoint-1")
    emu.set_behaviour(job, {"kind": "resume_fail", "reason": "Resume failed: cannot read {savepoint_path}."})
    with pytest.raises(api.JobsFailedError) as info:
        api.restart_jobs([job], client=client, strict=True)
    err = info.value
    assert err.job_ids == [job] and "restart: 1 of 1 jobs failed" in str(err)
    row = err.frame.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path)
    assert row["is_success"] == False and row["status"] == "job_submit_fail"  # noqa: E712
    assert row["status_desc"] == f"Resume failed: cannot read {path}."
    assert row["message"] == (f"stopped with savepoint {path}; resumed from it; then job_submit_fail "
                              f"(Resume failed: cannot read {path}.); it can be resumed again from {path}")
    assert err.frame.attrs["history_run_id"]  # recorded before raising


def test_stable_finds_a_restarted_job_that_crash_loops(emu, client):
    calm, loops = running(emu, "calm"), running(emu, "loops")
    emu.set_behaviour(loops, {"kind": "crash_loop", "after": 4, "every": 2})  # 0.2 s after it runs again
    df = api.restart_jobs([calm, loops], client=client, stable=1.0).set_index("job_id")
    assert df.loc[calm, "healthy"] == True  # noqa: E712
    assert df.loc[calm, "message"].endswith("job_running; healthy: running for the 1 s window, Flink state RUNNING")
    assert df.loc[loops, "healthy"] == False and df.loc[loops, "is_success"] == True  # noqa: E712
    assert "; unhealthy: " in df.loc[loops, "message"]
    assert df.attrs["stable"] == 1.0
    assert [s["step"] for s in df.attrs["steps"][loops]][-1] == "health"
    with pytest.raises(api.JobsFailedError) as info:  # --strict: an unhealthy job fails the call
        api.restart_jobs([calm, loops], client=client, stable=1.0, strict=True)
    assert info.value.job_ids == [loops] and "unhealthy" in str(info.value)


def test_jobs_not_running_are_left_alone_or_started_with_start_stopped(emu, client):
    stopped = emu.create_job(name="stopped", status="job_cancel_success", has_savepoint=True,
                             savepoint_path="obs://dli-emulator/s/savepoint-7")
    fresh = emu.create_job(name="fresh", status="job_init")
    busy = emu.create_job(name="busy", status="job_submitting")
    live = running(emu, "live")
    df = api.restart_jobs([stopped, fresh, busy, live], client=client).set_index("job_id")
    assert df.loc[stopped, "message"] == "not running (job_cancel_success): left alone; --start-stopped starts it"
    assert df.loc[busy, "message"] == "busy (job_submitting): left alone; restart it once it has settled"
    assert df.loc[[stopped, fresh, busy], "is_success"].isna().all()
    assert df.loc[stopped, "status"] == "job_cancel_success"  # what was read
    assert df.loc[live, "is_success"] == True  # noqa: E712
    assert [body(s)["job_ids"] for s in posts(emu, "/jobs/stop")] == [[live]]
    assert [body(r)["job_ids"] for r in posts(emu, "/jobs/run")] == [[live]]
    # --strict does not count jobs that were left alone
    api.restart_jobs([stopped, fresh], client=client, strict=True)

    emu.clear_request_log()
    df = api.restart_jobs([stopped, fresh], client=client, start_stopped=True).set_index("job_id")
    assert df["is_success"].tolist() == [True, True] and (df["status"] == "job_running").all()
    assert df.loc[stopped, "savepoint_path"] == "obs://dli-emulator/s/savepoint-7"
    assert df.loc[stopped, "message"] == ("started (it was job_cancel_success) from its savepoint "
                                          "obs://dli-emulator/s/savepoint-7; job_running")
    assert df.loc[fresh, "message"] == "started (it was job_init) without a savepoint; job_running"
    assert pd_na(df.loc[fresh, "savepoint_path"])
    assert [body(r) for r in posts(emu, "/jobs/run")] == [
        {"job_ids": [stopped], "resume_savepoint": True}, {"job_ids": [fresh], "resume_savepoint": False}]
    assert not posts(emu, "/jobs/stop")


def test_restart_is_in_the_history_with_its_steps_and_savepoints_after_a_kernel_restart(emu, client, tmp_path):
    import os
    import subprocess
    import sys

    job = running(emu, "orders")
    df = api.restart_jobs([job], client=client, source="panel")
    path = df.loc[0, "savepoint_path"]
    code = (
        "import json, dli_magic\n"
        "h = dli_magic.history()\n"
        "r = h[h['action'] == 'restart'].iloc[-1]\n"
        "print(json.dumps({'job_id': int(r['job_id']), 'savepoint_path': r['savepoint_path'],"
        " 'source': r['source'], 'message': r['message'], 'options': json.loads(r['options'])}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=120, check=True).stdout
    row = json.loads(out)
    assert row["job_id"] == job and row["savepoint_path"] == path and row["source"] == "panel"
    assert row["message"] == f"stopped with savepoint {path}; resumed from it; job_running"
    steps = row["options"]["steps"][str(job)]
    assert [s["step"] for s in steps] == ["read", "stop", "after stop", "run", "after run"]
    assert steps[2]["savepoint_path"] == path


def test_dry_run_reads_the_jobs_prints_the_plan_and_sends_no_stop_or_run(emu, client, capsys):
    live = running(emu, "live")
    stopped = emu.create_job(name="stopped", status="job_cancel_success")
    df = api.restart_jobs([live, stopped], client=client, dry_run=True, stable=30)
    out = capsys.readouterr().out
    assert not posts(emu)
    assert all(r["method"] == "GET" for r in emu.request_log())
    assert df.attrs["dry_run"] is True and df.attrs["plan"] == {live: "restart", stopped: "leave"}
    assert "history_run_id" not in df.attrs
    assert df["is_success"].isna().all()
    assert df["status"].tolist() == ["job_running", "job_cancel_success"]  # read, so known
    assert f"  {live} live [job_running]: stop with savepoint → wait for job_cancel_success and a new " \
           "savepoint_path → run resuming from it → wait until job_running, then the 30 s health window" in out
    assert f"  {stopped} stopped: not running (job_cancel_success): left alone" in out
    assert f'stop: POST {emu.url}/v1.0/{emu.project_id}/streaming/jobs/stop {{"job_ids":[{live}],' \
           '"trigger_savepoint":true}' in out
    assert f'run resuming: POST {emu.url}/v1.0/{emu.project_id}/streaming/jobs/run {{"job_ids":[{live}],' \
           '"resume_savepoint":true}' in out
    assert dli_magic.history().empty


def test_many_jobs_go_in_chunks_and_the_reads_stay_within_the_listing_budget(emu, client):
    """150 running jobs, chunks of 100: two stop and two run requests; statuses come from listings."""
    ids = [running(emu, f"job{i}") for i in range(150)]
    df = api.restart_jobs(ids, client=client, chunk_size=100)
    assert df["is_success"].all() and (df["status"] == "job_running").all()
    assert df["savepoint_path"].notna().all()
    stops, runs = posts(emu, "/jobs/stop"), posts(emu, "/jobs/run")
    assert sorted(len(body(s)["job_ids"]) for s in stops) == [50, 100]
    assert sorted(len(body(r)["job_ids"]) for r in runs) == [50, 100]
    gets = [r for r in emu.request_log() if r["method"] == "GET"]
    singles = [g for g in gets if re.search(r"/jobs/\d+$", g["path"])]
    assert not singles  # 150 jobs changing status at once are read with listings, never one by one
    assert len(gets) <= 2 + df.attrs["read_rounds"] * 4  # 2 pages first, then at most 2 statuses x 2 pages
    assert df.attrs["requests"] == 4
