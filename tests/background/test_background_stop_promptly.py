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
