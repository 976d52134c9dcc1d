"""The Python API keeps a call's result when what follows it fails, and refuses ambiguous flags."""

from __future__ import annotations

import pytest

import dli_magic
from dli_magic.errors import BadInputError


@pytest.mark.parametrize("flag", ["wait", "strict", "dry_run"])
def test_a_string_for_a_flag_is_refused_and_nothing_is_sent(dli_env, flag):
    with pytest.raises(BadInputError, match=flag):
        dli_magic.run_jobs([138], **{flag: "false"})
    assert not dli_env.request_log()


def test_a_failed_status_read_is_tried_again_next_round(dli_env, capsys):
    # The name lookup beside the run and the first read after it answer 500 (a GET is retried only
    # on 502-504); waiting goes on.
    dli_env.set_faults({"error": {"status": 500, "count": 2, "method": "GET", "path": "/streaming/jobs"}})
    frame = dli_magic.run_jobs([138], wait=True, timeout=30)
    assert frame["is_success"].tolist() == [True]
    assert frame["status"].tolist() == ["job_running"]
    assert len(frame.attrs["status_errors"]) == 1 and "ServiceError" in frame.attrs["status_errors"][0]
    err = capsys.readouterr().err
    assert "Could not read the job names: ServiceError" in err
    assert "Could not read job statuses in 1 round(s)" in err
    gets = [r for r in dli_env.request_log() if r["method"] == "GET"]
    assert [g["status"] for g in gets[:2]] == [500, 500] and gets[-1]["status"] == 200


def test_reads_failing_round_after_round_end_the_wait_and_keep_the_rows(dli_env, capsys):
    dli_env.set_faults({"error": {"status": 500, "count": 1000, "method": "GET", "path": "/streaming/jobs"}})
    frame = dli_magic.run_jobs([138], wait=True, timeout=60, poll_interval=0.05)
    assert frame["is_success"].tolist() == [True] and frame["status"].isna().all()
    assert "ServiceError" in frame.attrs["wait_error"]
    assert "Stopped waiting" in capsys.readouterr().err
    reads = [r for r in dli_env.request_log() if r["method"] == "GET" and "/streaming/jobs" in r["path"]]
    assert len(reads) == 1 + 3  # the name lookup, three rounds, then it gave up (a 500 is not retried)


def test_ctrl_c_during_a_chunked_run_returns_every_row(dli_env, capsys):
    import _thread
    import threading

    ids = [dli_env.create_job(name=f"chunked-{i}") for i in range(6)]
    dli_env.set_faults({"latency_ms": {"ms": 300, "path": "jobs/run"}})
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        frame = dli_magic.run_jobs(ids, chunk_size=1, max_workers=1, wait=True)
    finally:
        timer.cancel()
    assert frame["job_id"].tolist() == ids
    assert frame.attrs["interrupted"] is True
    sent = frame["is_success"].notna().sum()
    assert 1 <= sent < len(ids)
    assert (frame["message"] == "not sent (interrupted)").sum() == len(ids) - sent
    assert "Interrupted (Ctrl-C)" in capsys.readouterr().err
    runs = [r for r in dli_env.request_log() if r["path"].endswith("/jobs/run")]
    assert len(runs) == sent  # nothing sent after the interrupt
