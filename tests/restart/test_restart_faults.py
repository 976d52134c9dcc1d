"""Faults between the steps of a restart: throttling, 5xx, a dropped connection. A POST that may
have been processed is never sent again, and a job left stopped has a row that says so."""

from __future__ import annotations

import re
import sys

from dli_magic import api
from restart_helpers import posts, running

SAVEPOINT = re.compile(r"obs://dli-emulator/\d+/savepoint/savepoint-\d+")


def test_a_429_burst_on_the_stop_and_on_the_run_is_waited_out(emu, client):
    job = running(emu)
    emu.set_faults({"throttle": {"count": 2, "retry_after": 0, "method": "POST"}})
    df = api.restart_jobs([job], client=client)
    assert df["is_success"].tolist() == [True] and df.loc[0, "status"] == "job_running"
    stops = posts(emu, "/jobs/stop")
    assert [s["status"] for s in stops] == [429, 429, 200]  # refused unprocessed, then sent again
    assert [r["status"] for r in posts(emu, "/jobs/run")] == [200]
    emu.set_faults({"throttle": {"count": 2, "retry_after": 0, "path": "jobs/run"}})
    emu.clear_request_log()
    df = api.restart_jobs([job], client=client)
    assert df["is_success"].tolist() == [True]
    assert [r["status"] for r in posts(emu, "/jobs/run")] == [429, 429, 200]


def test_a_5xx_on_the_stop_changes_nothing_and_nothing_is_started(emu, client):
    job = running(emu)
    emu.set_faults({"error": {"status": 503, "count": 1, "path": "jobs/stop"}})
    df = api.restart_jobs([job], client=client)
    row = df.iloc[0]
    assert [s["status"] for s in posts(emu, "/jobs/stop")] == [503]  # a POST is not sent again after a 5xx
    assert not posts(emu, "/jobs/run")
    assert row["is_success"] is not True and row["status"] == "job_running"
    assert "stop with savepoint: outcome unknown (ServiceError" in row["message"]
    # read unchanged up to the end: never called a savepoint failure, nor "not stopped" for good
    assert row["message"].endswith(
        "no sign of the stop with savepoint yet: still job_running, as before it, when last read (the stop request's "
        f"outcome was unknown); not restarted: it may still stop — check `%dli_job {job}`, and once it is "
        f"job_cancel_success, resume it with `%dli_run {job} --resume-savepoint`")
    assert emu.get_job(job)["status"] == "job_running"


def test_a_5xx_on_the_run_after_the_stop_leaves_a_row_with_the_savepoint_to_resume_from(emu, client):
    job = running(emu)
    emu.set_faults({"error": {"status": 500, "count": 1, "path": "jobs/run"}})
    df = api.restart_jobs([job], client=client)
    row = df.iloc[0]
    path = row["savepoint_path"]
    assert SAVEPOINT.fullmatch(path)
    assert [r["status"] for r in posts(emu, "/jobs/run")] == [500]  # never replayed
    assert row["status"] == "job_cancel_success" and row["is_success"] is not True
    assert row["message"].startswith(f"stopped with savepoint {path}; run: outcome unknown (ServiceError")
    assert row["message"].endswith(
        "stopped, not restarted: the run request failed and the job was job_cancel_success when read after it; "
        f"savepoint {path} — resume it with `%dli_run {job} --resume-savepoint`")
    assert emu.get_job(job)["status"] == "job_cancel_success"


def test_a_dropped_connection_on_the_run_is_never_replayed_and_the_row_says_what_was_read(emu, client):
    job = running(emu)
    emu.set_faults({"drop": {"count": 1, "path": "jobs/run"}})
    df = api.restart_jobs([job], client=client)
    row = df.iloc[0]
    path = row["savepoint_path"]
    runs = posts(emu, "/jobs/run")
    assert [r["status"] for r in runs] == [0]  # dropped, and not sent again
    # the emulator processed the dropped request (as a real service may have): the read says it started
    assert row["status"] == "job_running"
    assert row["message"] == (
        f"stopped with savepoint {path}; run: outcome unknown (TransportError: The connection to "
        f"{emu.url.split('//')[1]} was closed before an answer to the run request arrived.; may have taken effect "
        "— check %dli_jobs); the run's answer was lost, but the job was read starting afterwards; resumed from it; "
        "job_running")


def test_reads_failing_between_the_steps_are_read_again(emu, client):
    job = running(emu)
    armed = []

    def on_step(label):  # the reads of the stop's wait answer 500 twice, then work
        if label.startswith("waiting for the stop") and not armed:
            armed.append(label)
            emu.set_faults({"error": {"status": 500, "count": 2, "method": "GET"}})

    df = api.restart_jobs([job], client=client, on_step=on_step, notify=None)
    assert armed and df["is_success"].tolist() == [True] and df.loc[0, "status"] == "job_running"
    assert [g["status"] for g in emu.request_log() if g["method"] == "GET" and g["status"] == 500] == [500, 500]


def test_reads_that_keep_failing_stop_the_restart_and_say_where_the_jobs_are(emu, settings, capsys):
    import dli_magic

    job = running(emu)
    client = dli_magic.connect(**{**settings, "poll_interval": 0.3})  # stopped when reading gives up

    def on_step(label):
        if label.startswith("waiting for the stop"):  # every read fails until the wait gives up
            emu.set_faults({"error": {"status": 500, "count": 1000, "method": "GET"}})

    def notify(text):
        if text.startswith("Stopped waiting"):
            emu.clear_faults()  # the read after the failure works
        print(text, file=sys.stderr)

    df = api.restart_jobs([job], client=client, on_step=on_step, notify=notify)
    assert not posts(emu, "/jobs/run")
    row = df.iloc[0]
    assert row["is_success"] is not True
    assert "ServiceError" in df.attrs["errors"][0]
    assert "Stopped waiting: ServiceError" in capsys.readouterr().err
    # one more read after the failure found it stopped with its savepoint
    assert row["status"] == "job_cancel_success" and SAVEPOINT.fullmatch(row["savepoint_path"])
    assert row["message"].endswith(f"stopped with savepoint {row['savepoint_path']} (read afterwards), not "
                                   f"restarted — resume it with `%dli_run {job} --resume-savepoint`")
