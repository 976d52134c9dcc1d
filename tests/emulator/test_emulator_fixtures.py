"""The pytest plugin's fixtures and the suite-wide isolation fixture in tests/conftest.py."""

from __future__ import annotations

import os

import requests

from dli_magic.emulator import DEFAULT_PROJECT_ID, DEFAULT_REGION, Emulator
from dli_magic.emulator.reqlog import RequestLog
from dli_magic.emulator.testing import SENTINEL_AK, SENTINEL_PASSWORD, SENTINEL_SK, SENTINEL_TOKEN


def test_isolation_from_the_developer_machine(tmp_path):
    assert not [n for n in os.environ if n.startswith(("DLI_", "HUAWEICLOUD_SDK_")) and n != "DLI_HISTORY_PATH"]
    home = os.environ["HOME"]
    assert os.path.expanduser("~") == home and home != "/root"
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "IPYTHONDIR"):
        assert os.environ[var].startswith(home) and os.path.isdir(os.environ[var])
    assert os.environ["DLI_HISTORY_PATH"].startswith(home)


def test_emulator_fixture_defaults(emulator):
    assert emulator.running and emulator.project_id == DEFAULT_PROJECT_ID and DEFAULT_REGION == "eu-de"
    assert emulator.store.speed == 50.0
    assert len(emulator.store.list(DEFAULT_PROJECT_ID, limit=100)[1]) == 12
    assert len({SENTINEL_TOKEN, SENTINEL_AK, SENTINEL_SK, SENTINEL_PASSWORD}) == 4


def test_factory_emulators_are_independent_and_closed(emulator_factory):
    one = emulator_factory(token="a")
    two = emulator_factory(token="b", project_id="1" * 32)
    assert one.url != two.url and two.project_id == "1" * 32
    assert requests.get(f"{one.url}/v1.0/{one.project_id}/streaming/jobs", headers={"X-Auth-Token": "b"},
                        timeout=5).status_code == 401
    one.close()
    assert not one.running
    try:
        requests.get(f"{one.url}/_emulator/clock", timeout=2)
        reachable = True
    except requests.ConnectionError:
        reachable = False
    assert not reachable


def test_restart_in_process_keeps_jobs(tmp_path):
    db = str(tmp_path / "x.sqlite")
    with Emulator(db=db) as emu:
        job = emu.create_job(name="kept", status="job_running")
    with Emulator(db=db, demo=True) as emu:
        assert emu.get_job(job)["status"] == "job_running"
        assert emu.get_job(130) is None  # not re-seeded


def test_request_log_is_bounded():
    log = RequestLog(max_entries=3)
    for i in range(5):
        log.add({"headers": {}, "body": b"", "n": i})
    assert [e["n"] for e in log.export()] == [2, 3, 4]
    assert [e["seq"] for e in log.export()] == [3, 4, 5]


def test_bad_constructor_arguments():
    import pytest

    for kwargs in ({"unknown_ids": "x"}, {"speed": 0}, {"ak": "only-ak"}, {"token_ttl": 0}):
        with pytest.raises(ValueError):
            Emulator(**kwargs)


def test_an_emulator_never_started_closes_cleanly():
    from dli_magic.emulator import Emulator

    emu = Emulator()
    emu.close()
    assert not emu.running and "stopped" in repr(emu)
