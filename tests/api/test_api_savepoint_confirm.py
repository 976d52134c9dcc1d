"""savepoint_jobs sends one request per job: more than 300 need yes=True, as run/stop/restart do."""

from __future__ import annotations

import pytest

from dli_magic import api
from dli_magic.errors import BadInputError


def test_more_than_300_savepoints_need_yes_and_nothing_is_sent_without(project_at):
    emu = project_at(speed=50.0, poll_interval=0.02)
    with pytest.raises(BadInputError, match="301 requests .* pass yes=True"):
        api.savepoint_jobs(range(1, 302), "obs://bucket/sp/", notify=None)
    assert emu.request_log() == []  # not even the reads


def test_yes_sends_them(project_at):
    emu = project_at(speed=50.0, poll_interval=0.02)
    ids = [emu.create_job(name=f"j{i}", status="job_running") for i in range(301)]
    frame = api.savepoint_jobs(ids, "obs://bucket/sp/", yes=True, notify=None, timeout=60)
    assert frame["is_success"].tolist() == [True] * 301
    assert sum(1 for r in emu.request_log() if r["method"] == "POST" and r["path"].endswith("/savepoint")) == 301


def test_a_dry_run_needs_no_confirmation(project_at):
    emu = project_at(speed=50.0, poll_interval=0.02)
    ids = [emu.create_job(name=f"j{i}", status="job_running") for i in range(301)]
    frame = api.savepoint_jobs(ids, "obs://bucket/sp/", dry_run=True, notify=None, echo=None)
    assert len(frame) == 301
    assert not [r for r in emu.request_log() if r["method"] == "POST"]
