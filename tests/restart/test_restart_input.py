"""Bad input to restart_jobs: one clear line, and no stop or run is sent."""

from __future__ import annotations

import pytest

from dli_magic import api
from dli_magic.errors import BadInputError, NotFoundError
from restart_helpers import posts, running


@pytest.mark.parametrize(
    "kwargs, words",
    [({"stable": -1}, "stable must be a number of seconds"), ({"stable": "30"}, "stable must be"),
     ({"allow_no_savepoint": "yes"}, "allow_no_savepoint must be True or False"),
     ({"start_stopped": 1}, "start_stopped must be True or False"), ({"timeout": 0}, "timeout must be a positive"),
     ({"chunk_size": 2.5}, "chunk_size must be a positive integer"), ({"dry_run": "false"}, "dry_run must be"),
     ({"chunk_size": 10_001}, "chunk_size must be an integer from 1 to 10000, not 10001."),
     ({"chunk_size": 20_000, "dry_run": True}, "chunk_size must be an integer from 1 to 10000, not 20000.")],
)
def test_bad_options_are_refused_before_anything_is_sent(emu, settings, kwargs, words):
    job = running(emu)
    with pytest.raises(BadInputError) as info:
        api.restart_jobs([job], **settings, **kwargs)
    assert words in info.value.message and "\n" not in info.value.message
    assert emu.request_log() == []


def test_a_chunk_size_beyond_the_limit_is_the_error_stop_jobs_gives(emu, client):
    job = running(emu)
    with pytest.raises(BadInputError) as stopping:
        client.stop_jobs([job], chunk_size=20_000)
    with pytest.raises(BadInputError) as restarting:
        api.restart_jobs([job], client=client, chunk_size=20_000)
    assert restarting.value.message == stopping.value.message
    assert emu.request_log() == []  # not even the read before the stop
    assert emu.get_job(job)["status"] == "job_running"


@pytest.mark.parametrize("ids", [[], "131", [1.5], [0], None])
def test_bad_ids_are_refused_before_anything_is_sent(emu, settings, ids):
    with pytest.raises(BadInputError) as info:
        api.restart_jobs(ids, **settings)
    assert "\n" not in info.value.message
    assert emu.request_log() == []


def test_unknown_ids_end_the_call_after_the_read_with_no_stop_or_run(emu, client):
    job = running(emu)
    with pytest.raises(NotFoundError) as info:
        api.restart_jobs([job, 987654, 987655], client=client)
    assert info.value.message == ("Unknown job ids 987654, 987655 (DLI.16001: not in this project); nothing was "
                                  "stopped or started.")
    assert info.value.job_ids == [987654, 987655] and info.value.error_code == "DLI.16001"
    assert not posts(emu)  # only reads went out
    assert emu.get_job(job)["status"] == "job_running"


def test_more_than_300_requests_need_yes_and_nothing_is_sent_without(emu, settings):
    with pytest.raises(BadInputError, match="301 requests .* pass yes=True"):
        api.restart_jobs(range(1, 302), chunk_size=1, **settings)
    assert emu.request_log() == []


def test_a_misspelt_keyword_is_named(emu, settings):
    with pytest.raises(BadInputError, match="Did you mean allow_no_savepoint"):
        api.restart_jobs([1], allow_no_savepont=True, **settings)
    assert emu.request_log() == []
