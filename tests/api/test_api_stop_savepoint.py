"""A stop with savepoint shows a savepoint_path only when it is new compared with the job as read
before the stop took effect (the read beside the request); an older one is never passed off as
this stop's, and --strict does not count a stop without a known new savepoint as done."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from requests.adapters import HTTPAdapter

import dli_magic
from dli_magic import api

OLD = "obs://dli-emulator/7/savepoint/savepoint-OLD"


def _post_arrives_late(client, url, seconds=0.3):
    """The stop reaches the service after the read that went out beside it (a slow way in)."""
    original = client.http.session.get_adapter(url)

    class Late(HTTPAdapter):
        def send(self, request, **kwargs):
            if request.method == "POST":
                time.sleep(seconds)
            return original.send(request, **kwargs)

    client.session.mount(url, Late())


def test_a_stop_that_took_no_savepoint_does_not_show_the_old_one(dli_env):
    """A job still submitting is cancelled without a savepoint: its older savepoint stays."""
    job = dli_env.create_job(name="orders", status="job_submitting", has_savepoint=True, savepoint_path=OLD)
    with dli_magic.connect() as client:
        _post_arrives_late(client, dli_env.url)
        frame = dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30, client=client)
        row = frame.iloc[0]
        assert row["status"] == "job_cancel_success" and dli_env.get_job(job)["savepoint_path"] == OLD
        assert pd.isna(row["savepoint_path"])
        assert f"stopped, but no new savepoint was recorded; it still has the older {OLD}" in row["message"]
        history = dli_magic.history()
        assert history[history.job_id == job]["savepoint_path"].isna().all()


def test_strict_fails_a_stop_without_a_new_savepoint(dli_env):
    job = dli_env.create_job(name="orders", status="job_submitting", has_savepoint=True, savepoint_path=OLD)
    with dli_magic.connect() as client:
        _post_arrives_late(client, dli_env.url)
        with pytest.raises(api.JobsFailedError) as info:
            dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30, strict=True, client=client)
    assert info.value.job_ids == [job]
    assert f"{job}: stopped, but no new savepoint was recorded" in info.value.message


def test_a_stop_that_took_a_savepoint_shows_it_as_new(dli_env):
    job = dli_env.create_job(name="runs", status="job_running", has_savepoint=True, savepoint_path=OLD)
    with dli_magic.connect() as client:
        _post_arrives_late(client, dli_env.url)
        row = dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30, strict=True,
                                  client=client).iloc[0]
    assert row["status"] == "job_cancel_success"
    assert row["savepoint_path"] == dli_env.get_job(job)["savepoint_path"] != OLD
    assert "savepoint" not in row["message"]


def test_without_a_read_before_the_stop_the_path_is_only_the_jobs_latest(dli_env):
    """Re-attached later, nothing was read before the stop: the path is not claimed as its own."""
    job = dli_env.create_job(name="orders", status="job_submitting", has_savepoint=True, savepoint_path=OLD)
    run_id = dli_magic.stop_jobs([job], trigger_savepoint=True).attrs["history_run_id"]
    frame = dli_magic.wait_for(run_id, timeout=30)
    row = frame.iloc[0]
    assert row["status"] == "job_cancel_success" and row["savepoint_path"] == OLD
    assert "savepoint_path is the job's latest savepoint (not read before the stop: it may be older)" in row["message"]
    with pytest.raises(api.JobsFailedError, match="not read before the stop"):
        dli_magic.wait_for(run_id, timeout=30, strict=True)
    assert dli_magic.wait_for(run_id, timeout=30)["message"].iloc[0].count("latest savepoint") == 1
