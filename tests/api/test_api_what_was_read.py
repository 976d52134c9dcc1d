"""A row claims only what the service said: a stop whose savepoint failed shows no savepoint and
counts as failed; a job the first read finds untouched (a service that queues the request) is read
again before its status is believed."""

from __future__ import annotations

import io
import threading
import time

import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter

import dli_magic
from dli_magic import api


def test_a_stop_whose_savepoint_failed_claims_no_savepoint_and_fails_strict(dli_env):
    job = dli_env.create_job(name="keeps-running", status="job_running", has_savepoint=True,
                             savepoint_path="obs://old/sp-1", behaviour="savepoint_fail")
    frame = dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30)
    row = frame.iloc[0]
    assert row["status"] == "job_running" and pd.isna(row["savepoint_path"])  # the old one is not this stop's
    assert "not stopped: still job_running" in row["message"]
    with pytest.raises(api.JobsFailedError) as info:
        dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30, strict=True)
    assert info.value.job_ids == [job]
    history = dli_magic.history()
    assert history[history.job_id == job]["savepoint_path"].isna().all()


def test_a_stop_that_took_a_savepoint_shows_it(dli_env):
    job = dli_env.create_job(name="stops-fine", status="job_running")
    row = dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30).iloc[0]
    assert row["status"] == "job_cancel_success"
    assert row["savepoint_path"] == dli_env.get_job(job)["savepoint_path"] and row["savepoint_path"]


def test_a_job_the_first_read_finds_untouched_is_read_again(dli_env):
    """The run request is held back 0.5 s by the network; the first read right after the answer
    finds the job as it was. The wait reads it again instead of reporting job_cancel_success."""
    job = dli_env.create_job(name="queued", status="job_cancel_success")
    with dli_magic.connect() as client:
        original = client.http.session.get_adapter(dli_env.url)

        class HeldBack(HTTPAdapter):
            def send(self, request, **kwargs):
                if request.method == "POST" and request.url.endswith("/jobs/run"):
                    # The service answers "delivered" now and processes the run later.
                    threading.Timer(0.5, original.send, args=(request,), kwargs=kwargs).start()
                    answer = requests.Response()
                    answer.status_code = 200
                    answer.raw = io.BytesIO(b'[{"is_success": "true", "message": "delivered"}]')
                    answer.headers["Content-Type"] = "application/json"
                    answer.request, answer.url = request, request.url
                    return answer
                return original.send(request, **kwargs)

        client.session.mount(dli_env.url, HeldBack())
        frame = dli_magic.run_jobs([job], wait=True, timeout=30, client=client)
    time.sleep(0.6)
    assert frame["status"].tolist() == ["job_running"], frame.iloc[0].to_dict()
    assert frame.attrs["wait_rounds"] >= 2


def test_reattaching_to_a_failed_stop_says_it_once_and_reads_at_once(dli_env):
    job = dli_env.create_job(name="still-running", status="job_running", behaviour="savepoint_fail")
    run_id = dli_magic.stop_jobs([job], trigger_savepoint=True, wait=True, timeout=30).attrs["history_run_id"]
    started = time.monotonic()
    again = dli_magic.wait_for(run_id)
    assert time.monotonic() - started < 2  # no grace for a request answered long ago
    assert again["message"].iloc[0].count("not stopped: still job_running") == 1


def test_the_lookup_beside_a_request_is_never_cancelled_under_it(dli_env, capsys):
    """Each call has a new client, so every call looks its names up beside the request."""
    for _ in range(40):
        with dli_magic.connect() as client:
            dli_magic.stop_jobs([130, 131], client=client)
    assert "Could not read the job names" not in capsys.readouterr().err
