"""A request that provably never left this machine (the connection was refused) is "not sent": its
job was not touched, so a restart neither waits for it nor says it may still stop. Real HTTP: the
refused request goes to a closed loopback port (``restart_helpers.Unreachable``), the rest to the
emulator."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import dli_magic
from dli_magic import api
from restart_helpers import Unreachable, posts, running

SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")


@pytest.fixture
def unreachable(settings, closed_port):
    """``unreachable(job_id, path)``: a client whose POSTs to ``path`` for ``job_id`` are refused at connect."""
    made = []

    def make(job_id, path="/jobs/stop"):
        client = dli_magic.connect(**{**settings, "max_workers": 1, "max_retries": 0})
        made.append(client)
        return client, Unreachable(closed_port, job_id, path).mount(client)

    yield make
    for client in made:
        client.close()


def refused(emu, what):
    """The error's text: it names the endpoint the client was given."""
    return (f"TransportError: Could not connect to {emu.url.split('//')[1]} for the {what} (connection refused); "
            "nothing was sent.")


def test_a_stop_chunk_refused_at_connect_is_not_sent_and_not_waited_for(emu, unreachable):
    first, second = running(emu, "first"), running(emu, "second")
    client, route = unreachable(second)
    df = api.restart_jobs([first, second], client=client, chunk_size=1, notify=None)
    assert route.refused == 1
    assert [r["body"]["job_ids"] for r in posts(emu, "/jobs/stop")] == [[first]]  # the second never arrived
    assert df["is_success"].tolist()[0] == True  # noqa: E712
    row = df.iloc[1]
    assert row["is_success"] is pd.NA and row["status"] == "job_running" and row["savepoint_path"] is pd.NA
    assert row["message"] == (f"stop with savepoint not sent: {refused(emu, 'stop request')}; not restarted: "
                              "nothing changed (job_running when read before)")
    # no read after the stop (nor its grace): nothing was sent for it
    assert [step["step"] for step in df.attrs["steps"][second]] == ["read", "stop"]
    assert emu.get_job(second)["status"] == "job_running"


def test_a_single_stop_refused_at_connect_is_not_sent_rather_than_refused_by_the_service(emu, unreachable):
    job = running(emu)
    client, _ = unreachable(job)
    df = api.restart_jobs([job], client=client, notify=None)
    assert not posts(emu, "/jobs/stop")
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] == "job_running"
    assert row["message"] == (f"stop with savepoint not sent: {refused(emu, 'stop request')}; not restarted: "
                              "nothing changed (job_running when read before)")


def test_a_run_chunk_refused_at_connect_leaves_the_job_stopped_with_its_savepoint(emu, unreachable):
    first, second = running(emu, "first"), running(emu, "second")
    client, _ = unreachable(second, "/jobs/run")
    df = api.restart_jobs([first, second], client=client, chunk_size=1, notify=None)
    assert [r["body"]["job_ids"] for r in posts(emu, "/jobs/run")] == [[first]]
    assert df["is_success"].tolist()[0] == True  # noqa: E712
    row = df.iloc[1]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path) and row["is_success"] is pd.NA and row["status"] == "job_cancel_success"
    assert row["message"] == (f"stopped with savepoint {path}; stopped, not restarted: the run was not sent: "
                              f"{refused(emu, 'run request')}; savepoint {path} — resume it with "
                              f"`%dli_run {second} --resume-savepoint`")
    assert [step["step"] for step in df.attrs["steps"][second]] == ["read", "stop", "after stop", "run"]


def test_plain_stop_rows_of_a_chunk_refused_at_connect_say_not_sent(emu, unreachable):
    first, second = running(emu, "first"), running(emu, "second")
    client, _ = unreachable(second)
    rows = client.stop_jobs([first, second], chunk_size=1).outcomes
    assert [o.is_success for o in rows] == [True, None]  # None, as the other "not sent" rows
    assert rows[1].message == f"not sent: {refused(emu, 'stop request')}"


def test_a_savepoint_request_refused_at_connect_is_not_sent(emu, unreachable):
    job = running(emu, job_config={"obs_bucket": "bucket"})
    client, route = unreachable(job, "/savepoint")
    df = api.savepoint_jobs([job], client=client, notify=None)
    assert route.refused == 1 and not posts(emu, "/savepoint")
    row = df.iloc[0]
    assert row["is_success"] is pd.NA and row["status"] == "job_running"
    assert row["message"] == f"savepoint not sent: {refused(emu, 'savepoint request')}"
