"""Once a session's client knows the jobs' names, a run or stop is one request, not two: the
accepted jobs' status is the one the state machine gives them, a refused job's is not guessed."""

from __future__ import annotations

import pandas as pd


def test_a_known_batch_costs_one_request(shell, dli_env, api_requests):
    shell.run_cell("jobs = %dli_jobs")  # the session's client now knows every name
    dli_env.clear_request_log()
    shell.run_cell("df = %dli_run 138 204 130")
    df = shell.user_ns["df"]
    calls = api_requests(dli_env)
    assert [(c["method"], c["path"].rsplit("/", 2)[-2:]) for c in calls] == [("POST", ["jobs", "run"])]
    assert df["name"].tolist() == ["inventory_cdc_sync", "billing_events_dedup", "orders_enrichment"]
    assert df["is_success"].tolist() == [True, True, False]  # 130 is already running
    assert df["status"].tolist()[:2] == ["job_submitting", "job_submitting"]
    assert pd.isna(df["status"].iloc[2])
    assert df.attrs["status_source"] == "inferred"
    # The inference matches what the service says right after the call.
    assert dli_env.get_job(138)["status"] == "job_submitting"


def test_stop_infers_savepointing_or_canceling(shell, dli_env, api_requests):
    shell.run_cell("%dli_jobs --out jobs")
    shell.run_cell("a = %dli_stop 130 --trigger-savepoint")
    shell.run_cell("b = %dli_stop 137")
    assert shell.user_ns["a"]["status"].tolist() == ["job_savepointing"]
    assert shell.user_ns["b"]["status"].tolist() == ["job_canceling"]
    assert dli_env.get_job(130)["status"] == "job_savepointing"
    assert dli_env.get_job(137)["status"] == "job_canceling"


def test_an_unknown_name_costs_one_listing_with_observed_statuses(shell, dli_env, api_requests):
    shell.run_cell("df = %dli_run 138")  # fresh session: the name is not known yet
    df = shell.user_ns["df"]
    methods = [c["method"] for c in api_requests(dli_env)]
    assert methods == ["POST", "GET"]
    assert df.attrs["status_source"] == "listed"
    assert df["name"].tolist() == ["inventory_cdc_sync"]
    dli_env.clear_request_log()
    shell.run_cell("df2 = %dli_run 204 138")  # 204 was listed by the first pass too
    assert [c["method"] for c in api_requests(dli_env)] == ["POST"]
