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


def test_a_failed_first_status_read_still_waits(dli_env, capsys):
    # The first listing after the run answers 500 (not retried); waiting must still poll.
    dli_env.set_faults({"error": {"status": 500, "count": 1, "method": "GET", "path": "/streaming/jobs"}})
    frame = dli_magic.run_jobs([138], wait=True, timeout=30)
    assert frame["is_success"].tolist() == [True]
    assert frame["status"].tolist() == ["job_running"]
    assert "status_error" in frame.attrs
    assert "Could not read job statuses" in capsys.readouterr().err
    gets = [r for r in dli_env.request_log() if r["method"] == "GET"]
    assert gets[0]["status"] == 500 and gets[-1]["status"] == 200


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
