"""stop_waiting() ends a background wait promptly, also while a read is in flight (the names read
beside the request, a status round): the read is abandoned as Ctrl-C abandons it in the foreground."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import dli_magic

SLOW_MS = 4000


@pytest.fixture
def env(project_at):
    return project_at(speed=50.0, poll_interval=0.05)


def _stopped_promptly(handle):
    handle.stop_waiting()
    started = time.monotonic()
    frame = handle.result(timeout=SLOW_MS / 1000 * 2)
    assert time.monotonic() - started < 1.0, "result() waited for the slow read"
    assert frame.attrs["wait_interrupted"] is True
    return frame


def test_stop_waiting_abandons_the_names_read_beside_the_request(env):
    job = env.create_job(name="steady")
    env.set_faults({"latency_ms": {"ms": SLOW_MS, "path": f"/streaming/jobs/{job}", "method": "GET"}})
    handle = dli_magic.run_jobs([job], background=True)
    frame = _stopped_promptly(handle)
    row = frame.iloc[0]
    assert row["is_success"] == True and pd.isna(row["status"])  # noqa: E712 -- kept; not read: not claimed
    assert "when waiting was interrupted" in row["message"]
    history = dli_magic.history()
    assert history[history.run_id == handle.run_id]["wait"].iloc[0] == "stopped waiting"


def test_stop_waiting_abandons_a_status_round_in_flight(env):
    job = env.create_job(name="steady")
    with dli_magic.connect() as client:
        dli_magic.list_jobs(client=client)  # the names are known: no lookup beside the request
        env.set_faults({"latency_ms": {"ms": SLOW_MS, "path": "/streaming/jobs", "method": "GET"}})
        handle = dli_magic.run_jobs([job], background=True, stable=5, client=client)
        time.sleep(0.2)  # the first status round is out
        frame = _stopped_promptly(handle)
    row = frame.iloc[0]
    assert row["is_success"] == True and pd.isna(row["healthy"])  # noqa: E712
    assert "health not checked: waiting was interrupted" in row["message"]


def test_stop_waiting_ends_the_retry_wait_of_the_abandoned_read(env):
    """A status read waiting to be retried (after a 503) when stop_waiting() is called is not
    retried: on a client that stays open it would otherwise send after the handle ended."""
    job = env.create_job(name="steady")
    with dli_magic.connect(backoff_base=1, retry_deadline=30) as client:
        dli_magic.list_jobs(client=client)  # the names are known: no lookup beside the request
        env.set_faults({"error": {"status": 503, "count": 1, "method": "GET"}})
        notices: list[str] = []
        handle = dli_magic.run_jobs([job], background=True, client=client, notify=notices.append)
        deadline = time.monotonic() + 5
        while not [r for r in env.request_log() if r["status"] == 503] and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped = time.time()
        _stopped_promptly(handle)
        time.sleep(2.0)  # past the longest back-off of the first retry
        after = [(r["method"], r["path"]) for r in env.request_log()
                 if "/streaming/" in r["path"] and r["wall_time"] >= stopped]
        assert after == [], "the abandoned read was retried after stop_waiting()"
    assert any(n.startswith("Stopped waiting (stop_waiting())") for n in notices), notices
