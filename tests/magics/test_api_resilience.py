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
