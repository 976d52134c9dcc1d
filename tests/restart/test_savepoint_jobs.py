"""savepoint_jobs over real HTTP: savepoints of running jobs without stopping them."""

from __future__ import annotations

import re

import pytest

import dli_magic
from dli_magic import api
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.errors import BadInputError, NotFoundError
from restart_helpers import posts, running


def test_savepoints_go_under_each_jobs_bucket_and_the_new_paths_come_back(emu, client):
    a = running(emu, "orders", job_config={"obs_bucket": "orders-bucket"})
    b = running(emu, "payments")  # the emulator's default bucket
    stopped = emu.create_job(name="stopped", status="job_cancel_success")
    df = api.savepoint_jobs([a, b, stopped], client=client)
    assert df.attrs["action"] == "savepoint"
    rows = df.set_index("job_id")
    assert re.fullmatch(rf"obs://orders-bucket/{a}/savepoint/savepoint-\d+", rows.loc[a, "savepoint_path"])
    assert re.fullmatch(rf"obs://dli-emulator/{b}/savepoint/savepoint-\d+", rows.loc[b, "savepoint_path"])
    assert rows.loc[[a, b], "is_success"].tolist() == [True, True]
    assert rows.loc[[a, b], "status"].tolist() == ["job_running", "job_running"]  # never stopped
    assert rows.loc[a, "message"] == f"savepoint {rows.loc[a, 'savepoint_path']} recorded; job_running"
    assert rows.loc[stopped, "message"] == "not running (job_cancel_success): no savepoint triggered"
    assert rows["is_success"].isna().tolist() == [False, False, True]
    sent = posts(emu, "/savepoint")
    assert sorted((s["path"].split("/")[-2], s["body"]["savepoint_path"]) for s in sent) == sorted(
        [(str(a), f"orders-bucket/{a}/savepoint/"), (str(b), f"dli-emulator/{b}/savepoint/")])
    assert all(s["body"]["action"] == "TRIGGER" for s in sent)
    for job_id in (a, b):
        stored = emu.get_job(job_id)
        assert stored["status"] == "job_running" and stored["savepoint_path"] == rows.loc[job_id, "savepoint_path"]
    history = dli_magic.history()
    saved = history[history["action"] == "savepoint"].set_index("job_id")
    assert saved.loc[a, "savepoint_path"] == rows.loc[a, "savepoint_path"]


def test_a_given_path_is_used_as_documented_and_no_detail_is_read_for_it(emu, client):
    job = running(emu)
    emu.clear_request_log()
    df = api.savepoint_jobs(job, "obs://my-bucket/savepoints", client=client)
    assert re.fullmatch(r"obs://my-bucket/savepoints/savepoint-\d+", df.loc[0, "savepoint_path"])
    assert [s["body"] for s in posts(emu)] == [{"action": "TRIGGER", "savepoint_path": "my-bucket/savepoints/"}]
    first_post = posts(emu)[0]["seq"]
    before = [r for r in emu.request_log() if r["seq"] < first_post]
    assert before and all(r["path"].endswith("/streaming/jobs") for r in before)  # a listing, no detail
    assert df.attrs["savepoint_dir"] == "my-bucket/savepoints/"


def test_a_failed_savepoint_says_why_and_the_job_keeps_running(emu, client):
    job = running(emu, has_savepoint=True, savepoint_path="obs://dli-emulator/old/savepoint-1")
    emu.set_behaviour(job, {"kind": "savepoint_fail", "reason": "Savepoint failed: checkpoint timeout."})
    with pytest.raises(api.JobsFailedError) as info:
        api.savepoint_jobs([job], client=client, strict=True)
    row = info.value.frame.iloc[0]
    assert row["is_success"] == False and row["status"] == "job_running"  # noqa: E712
    assert row["savepoint_path"] is __import__("pandas").NA
    assert row["message"] == ("the savepoint failed: Savepoint failed: checkpoint timeout.; job_running "
                              "(the previous savepoint obs://dli-emulator/old/savepoint-1 is kept)")


@pytest.mark.parametrize("path", ["s3://bucket/dir/", "Bad_Bucket/x/", "bucket/a/../b", "", "   ",
                                  "obs://bucket/a b/", "/local/dir", "bucket//x", 42])
def test_a_path_that_is_not_obs_is_one_line_and_nothing_is_sent(emu, settings, path):
    job = running(emu)
    emu.clear_request_log()
    with pytest.raises(BadInputError) as info:
        api.savepoint_jobs([job], path, **settings)
    assert "\n" not in info.value.message and "obs://bucket/dir/" in info.value.message
    assert emu.request_log() == []


def test_a_region_without_the_savepoint_api_is_one_line_after_one_request(emulator_factory, client_settings):
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=20.0, savepoint_api=False)
    ids = [running(emu, f"j{i}") for i in range(3)]
    with pytest.raises(api.SavepointApiUnavailableError) as info:
        api.savepoint_jobs(ids, "obs://bucket/sp/", **client_settings(emu))
    err = info.value
    assert err.message.startswith("This region does not offer the savepoint API")
    assert err.error_code == "APIGW.0101" and err.status == 404 and "\n" not in err.message
    assert len(posts(emu, "/savepoint")) == 1  # the first answer says it for all: no other was sent
    assert isinstance(err, NotFoundError)


def test_a_job_without_a_bucket_needs_a_path_and_nothing_is_sent(emu, client):
    job = running(emu, job_config={"obs_bucket": ""})
    with pytest.raises(BadInputError) as info:
        api.savepoint_jobs([job], client=client)
    assert "--path obs://bucket/dir/" in info.value.message and str(job) in info.value.message
    assert not posts(emu)


def test_unknown_ids_and_no_ids_are_one_line_and_nothing_is_sent(emu, client, settings):
    job = running(emu)
    with pytest.raises(NotFoundError) as info:
        api.savepoint_jobs([job, 987654], client=client)
    assert info.value.message == ("Unknown job id 987654 (DLI.16001: not in this project); no savepoint was "
                                  "triggered.")
    assert not posts(emu)
    emu.clear_request_log()
    with pytest.raises(BadInputError, match="No job ids given"):
        api.savepoint_jobs([], **settings)
    assert emu.request_log() == []


def test_a_dry_run_shows_each_request_and_sends_none(emu, client, capsys):
    job = running(emu)
    df = api.savepoint_jobs([job], "obs://b-1/sp/", client=client, dry_run=True)
    out = capsys.readouterr().out
    assert not posts(emu) and df.attrs["dry_run"] is True
    assert (f'POST {emu.url}/v1.0/{emu.project_id}/streaming/jobs/{job}/savepoint '
            '{"action":"TRIGGER","savepoint_path":"b-1/sp/"}') in out
    assert df.loc[0, "message"] == "dry run: would trigger a savepoint into b-1/sp/"


def test_savepoints_go_out_concurrently_within_max_workers(emu, settings):
    ids = [running(emu, f"c{i}") for i in range(6)]
    emu.set_faults({"latency_ms": {"ms": 300, "path": "/savepoint"}})
    import time

    started = time.monotonic()
    df = api.savepoint_jobs(ids, "obs://bucket/sp/", **settings, max_workers=5)
    elapsed = time.monotonic() - started
    assert df["is_success"].all()
    # the first request alone, then the other five at once: two request times, not six
    assert elapsed < 6 * 0.3
    walls = sorted(r["wall_time"] for r in posts(emu, "/savepoint"))
    assert walls[-1] - walls[1] < 0.25  # the five after the first arrived together


def test_a_dropped_savepoint_request_is_not_sent_again_and_the_read_tells_the_outcome(emu, client):
    job = running(emu)
    emu.set_faults({"drop": {"count": 1, "path": "/savepoint"}})
    df = api.savepoint_jobs([job], "obs://bucket/sp/", client=client)
    assert [s["status"] for s in posts(emu, "/savepoint")] == [0]
    row = df.iloc[0]
    assert row["is_success"] == True  # noqa: E712 -- the emulator processed it; the read shows the new savepoint
    assert row["message"].startswith("the savepoint request's outcome was unknown (TransportError: ")
    assert row["message"].endswith(f"; savepoint {row['savepoint_path']} recorded; job_running")


def test_a_5xx_on_the_savepoint_request_is_not_sent_again_and_not_called_a_success(emu, client):
    job = running(emu)
    emu.set_faults({"error": {"status": 503, "count": 1, "path": "/savepoint"}})
    df = api.savepoint_jobs([job], "obs://bucket/sp/", client=client)
    assert [s["status"] for s in posts(emu, "/savepoint")] == [503]
    row = df.iloc[0]
    assert row["is_success"] is __import__("pandas").NA and row["savepoint_path"] is __import__("pandas").NA
    assert row["message"].endswith("no sign of it yet: still job_running, as before the request, when last read; "
                                   f"the service may still take it — check `%dli_job {job}`")


def test_ctrl_c_while_waiting_for_a_savepoint_returns_the_rows(emulator_factory, client_settings, capsys):
    from restart_helpers import CtrlC

    emu = emulator_factory(token=SENTINEL_TOKEN, demo=False, speed=2.0)
    job = running(emu)
    ctrl_c = CtrlC("waiting for the savepoints", on_update=True)
    df = api.savepoint_jobs([job], "obs://bucket/sp/", on_step=ctrl_c.on_step, on_state=ctrl_c.on_state,
                            **client_settings(emu))
    row = df.iloc[0]
    assert row["status"] == "job_savepointing" and row["is_success"] is __import__("pandas").NA
    assert row["message"] == "savepoint requested; still job_savepointing when waiting was interrupted"
    assert df.attrs["interrupted"] is True
    assert "Interrupted (Ctrl-C)" in capsys.readouterr().err


def test_ctrl_c_during_the_first_savepoint_request_sends_no_other(emu, settings, capsys):
    import _thread
    import threading

    ids = [running(emu, f"k{i}") for i in range(4)]
    emu.set_faults({"latency_ms": {"ms": 400, "path": "/savepoint"}})  # processed, answered late
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        df = api.savepoint_jobs(ids, "obs://bucket/sp/", **settings)
    finally:
        timer.cancel()
    assert len(posts(emu, "/savepoint")) == 1
    first, *rest = df.itertuples()
    assert first.message.startswith("the savepoint request's outcome was unknown (interrupted (Ctrl-C) during the "
                                    "savepoint request: it may have been sent); ")
    assert first.status in ("job_savepointing", "job_running")  # read once after the Ctrl-C
    assert [r.message for r in rest] == ["savepoint not sent (interrupted)"] * 3
    assert [r.status for r in rest] == ["job_running"] * 3  # as read before: nothing was sent for them
    assert "Interrupted (Ctrl-C)" in capsys.readouterr().err
