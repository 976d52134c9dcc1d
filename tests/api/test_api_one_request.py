"""Once a session's client knows the jobs' names, a run or stop is one request, not two: the
accepted jobs' status is the one the state machine gives them, a refused job's is not guessed."""

from __future__ import annotations

import pandas as pd
import pytest

from dli_magic.emulator.testing import SENTINEL_TOKEN


@pytest.fixture
def slow_env(emulator_factory, monkeypatch):
    """Demo jobs at real speed (a savepoint takes a second): the state right after a call stays
    observable on a loaded machine."""
    emu = emulator_factory(token=SENTINEL_TOKEN, demo=True, speed=1.0)
    monkeypatch.setenv("DLI_ENDPOINT", emu.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emu.project_id)
    return emu


def test_a_known_batch_costs_one_request(shell, slow_env, api_requests):
    shell.run_cell("jobs = %dli_jobs")  # the session's client now knows every name
    slow_env.clear_request_log()
    shell.run_cell("df = %dli_run 138 204 130")
    df = shell.user_ns["df"]
    calls = api_requests(slow_env)
    assert [(c["method"], c["path"].rsplit("/", 2)[-2:]) for c in calls] == [("POST", ["jobs", "run"])]
    assert df["name"].tolist() == ["inventory_cdc_sync", "billing_events_dedup", "orders_enrichment"]
    assert df["is_success"].tolist() == [True, True, False]  # 130 is already running
    assert df["status"].tolist()[:2] == ["job_submitting", "job_submitting"]
    assert pd.isna(df["status"].iloc[2])
    assert df.attrs["status_source"] == "inferred"
    # The inference matches what the service says right after the call.
    assert slow_env.get_job(138)["status"] == "job_submitting"


def test_stop_infers_savepointing_or_canceling(shell, slow_env):
    shell.run_cell("%dli_jobs --out jobs")
    shell.run_cell("a = %dli_stop 130 --trigger-savepoint")
    shell.run_cell("b = %dli_stop 137")
    assert shell.user_ns["a"]["status"].tolist() == ["job_savepointing"]
    assert shell.user_ns["b"]["status"].tolist() == ["job_canceling"]
    assert slow_env.get_job(130)["status"] == "job_savepointing"
    assert slow_env.get_job(137)["status"] == "job_canceling"


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
