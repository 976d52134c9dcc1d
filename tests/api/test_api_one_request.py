"""A run or stop is one request on the critical path: names the session does not know are read
concurrently (never before the POST, never making it twice), and a status that was not read is
<NA>: the row never claims what the service did not say."""

from __future__ import annotations

import time

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


def test_a_known_batch_costs_one_request_and_reads_no_status(shell, slow_env, api_requests):
    shell.run_cell("jobs = %dli_jobs")  # the session's client now knows every name
    slow_env.clear_request_log()
    shell.run_cell("df = %dli_run 138 204 130")
    df = shell.user_ns["df"]
    calls = api_requests(slow_env)
    assert [(c["method"], c["path"].rsplit("/", 2)[-2:]) for c in calls] == [("POST", ["jobs", "run"])]
    assert df["name"].tolist() == ["inventory_cdc_sync", "billing_events_dedup", "orders_enrichment"]
    assert df["is_success"].tolist() == [True, True, False]  # 130 is already running
    assert df["status"].isna().all() and df["status_desc"].isna().all()  # not read: not guessed
    assert df.attrs["status_read"] is False


def test_a_stop_row_says_only_what_was_read(shell, slow_env):
    """Issue 10: after a stop with savepoint the row said job_savepointing while the service had
    the job job_canceling. Without --wait the status is <NA>; with it, the service's own."""
    shell.run_cell("%dli_jobs --out jobs")
    shell.run_cell("a = %dli_stop 130 --trigger-savepoint")
    assert shell.user_ns["a"]["status"].isna().all()
    shell.run_cell("b = %dli_stop 137 --wait --timeout 30")
    b = shell.user_ns["b"]
    assert b["status"].tolist() == [slow_env.get_job(137)["status"]] == ["job_cancel_success"]
    assert b.attrs["status_read"] is True


def test_unknown_names_are_read_beside_the_post_never_before_it(shell, dli_env, api_requests):
    # The name lookup is slow; the run request must not wait for it.
    dli_env.set_faults({"latency_ms": {"ms": 600, "path": "/streaming/jobs/138"}})
    shell.run_cell("df = %dli_run 138")  # fresh session: the name is not known yet
    df = shell.user_ns["df"]
    calls = api_requests(dli_env)
    assert sorted(c["method"] for c in calls) == ["GET", "POST"]  # one lookup, the POST once
    post = next(c for c in calls if c["method"] == "POST")
    get = next(c for c in calls if c["method"] == "GET")
    assert abs(post["wall_time"] - get["wall_time"]) < 0.5  # in flight together, not one after the other
    assert pd.isna(df["name"].iloc[0])  # not there when the request was answered: not waited for
    assert pd.isna(df["status"].iloc[0])  # read before the run was processed: not shown as its status
    from dli_magic.magics import _LOADED

    client = _LOADED[id(shell)].client()
    for _ in range(50):  # the lookup finishes on its own and teaches the session the name
        if 138 in client.job_names:
            break
        time.sleep(0.1)
    dli_env.set_faults({})
    dli_env.clear_request_log()
    shell.run_cell("df2 = %dli_run 138")  # known now
    assert [c["method"] for c in api_requests(dli_env)] == ["POST"]
    assert shell.user_ns["df2"]["name"].tolist() == ["inventory_cdc_sync"]


def test_a_lookup_as_fast_as_the_request_fills_the_names(shell, dli_env, api_requests):
    shell.run_cell("df = %dli_run 138 204")
    assert shell.user_ns["df"]["name"].tolist() == ["inventory_cdc_sync", "billing_events_dedup"]


def test_a_failing_name_lookup_keeps_the_rows(shell, dli_env, api_requests):
    dli_env.set_faults({"error": {"status": 503, "count": 50, "method": "GET"}})
    shell.run_cell("df = %dli_run 138")
    df = shell.user_ns["df"]
    assert df["is_success"].tolist() == [True] and pd.isna(df["name"].iloc[0])
    assert [c["method"] for c in api_requests(dli_env)].count("POST") == 1
