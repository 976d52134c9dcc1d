"""The CLI as a subprocess: ready line, --port 0, SIGTERM exit 0, bad options exit 2, --db survives a restart."""

from __future__ import annotations

import signal
import time

import pytest
import requests
from cli_process import Running, assert_bad_option, cli_env


def test_ready_line_port_zero_and_sigterm(tmp_path):
    run = Running("--token", "cli-token", "--demo")
    try:
        assert run.line == run.line.strip() + "\n"
        port = int(run.url.rsplit(":", 1)[1])
        assert port > 0 and run.url.startswith("http://127.0.0.1:")
        from dli_magic.emulator import DEFAULT_PROJECT_ID

        r = requests.get(f"{run.url}/v1.0/{DEFAULT_PROJECT_ID}/streaming/jobs", headers={"X-Auth-Token": "cli-token"},
                         timeout=5)
        assert r.json()["job_list"]["total_count"] == 12
    finally:
        code, out, err = run.stop()
    assert code == 0
    assert out == ""  # exactly one line in all, read above
    assert "Traceback" not in err


def test_sigint_exits_zero():
    run = Running()
    code, _, err = run.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [["--bogus"], ["--speed", "0"], ["--port", "x"], ["--unknown-ids", "maybe"], ["--ak", "A"],
     ["--user", "u"], ["--faults", "{not json"], ["--faults", '{"nope": 1}'],
     ["--faults", '{"unknown_ids": 5}'], ["--faults", '{"throttle": {"path": 5}}'],
     ["--faults", '{"throttle": {"method": ["GET"]}}'], ["--faults", '{"latency_ms": {"ms": "x"}}'],
     ["--token-ttl", "inf"], ["--speed", "nan"], ["--speed", "inf"], ["--latency-ms", "nan"], ["--latency-ms", "-1"],
     ["--throttle", "0"], ["--drop", "0"], ["--html-502", "0"], ["--error-status", "503", "--error-count", "0"],
     ["--error-count", "3"], ["--error-status", "200"], ["--db", "/nonexistent-dir/sub/x.db"]],
)
def test_bad_options_exit_2_with_one_line(args):
    assert_bad_option(args)


def test_db_that_is_not_a_database_or_a_directory_exit_2(tmp_path):
    not_db = tmp_path / "hostname"
    not_db.write_text("my-host\n")
    assert_bad_option(["--db", str(not_db)])
    assert not_db.read_text() == "my-host\n"  # left alone
    assert_bad_option(["--db", str(tmp_path)])


def test_negative_fault_count_never_disarms(tmp_path):
    run = Running("--token", "t", "--drop", "-1", "--html-502", "-1")
    try:
        url = f"{run.url}/v1.0/{'0' * 32}/streaming/jobs"
        assert requests.get(f"{run.url}/_emulator/faults", timeout=5).json()["html_502"] == {"count": -1}
        for _ in range(3):
            assert requests.get(url, headers={"X-Auth-Token": "t"}, timeout=5).status_code == 502
    finally:
        run.stop()


def test_secrets_from_environment_and_static_project(tmp_path):
    env = cli_env(DLI_EMULATOR_TOKEN="env-token", DLI_EMULATOR_SK="env-sk", DLI_EMULATOR_PASSWORD="env-pw")
    run = Running("--project-id", "a" * 32, "--region", "eu-nl", "--ak", "ENVAK", "--user", "bob", env=env)
    try:
        base = f"{run.url}/v1.0/{'a' * 32}/streaming"
        assert requests.get(f"{base}/jobs", headers={"X-Auth-Token": "env-token"}, timeout=5).status_code == 200
        login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "bob", "password": "env-pw", "domain": {"name": "bob"}}}}, "scope": {"project": {"name": "eu-nl"}}}}
        r = requests.post(f"{run.url}/v3/auth/tokens", json=login, timeout=5)
        assert r.status_code == 201 and r.json()["token"]["project"]["id"] == "a" * 32
        from dli_magic import signing

        url = f"{base}/jobs"
        headers = signing.sign_request("GET", url, {}, b"", "ENVAK", "env-sk")
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
    finally:
        assert run.stop()[0] == 0


def test_fault_flags(tmp_path):
    run = Running("--token", "t", "--throttle", "1", "--latency-ms", "20")
    try:
        url = f"{run.url}/v1.0/{'0' * 32}/streaming/jobs"
        r = requests.get(url, headers={"X-Auth-Token": "t"}, timeout=5)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        start = time.perf_counter()
        assert requests.get(url, headers={"X-Auth-Token": "t"}, timeout=5).status_code == 200
        assert time.perf_counter() - start >= 0.02
        assert requests.get(f"{run.url}/_emulator/faults", timeout=5).json()["latency_ms"] == {"ms": 20.0}
    finally:
        run.stop()


def test_db_survives_restart(tmp_path):
    db = tmp_path / "emu.sqlite"
    args = ("--token", "t", "--db", str(db), "--demo", "--speed", "1")
    run = Running(*args)
    from dli_magic.emulator import DEFAULT_PROJECT_ID

    base = f"{run.url}/v1.0/{DEFAULT_PROJECT_ID}/streaming"
    h = {"X-Auth-Token": "t"}
    try:
        created = requests.post(f"{base}/sql-jobs", json={"name": "persisted", "sql_body": "S"}, headers=h, timeout=5)
        new_id = created.json()["job"]["job_id"]
        requests.post(f"{base}/jobs/stop", json={"job_ids": [130]}, headers=h, timeout=5)
        requests.post(f"{base}/jobs/delete", json={"job_ids": [142]}, headers=h, timeout=5)
        before = requests.get(f"{base}/jobs", params={"limit": 100}, headers=h, timeout=5).json()["job_list"]
    finally:
        assert run.stop()[0] == 0
    run = Running(*args)  # --demo again: must not re-seed a non-empty database
    try:
        after = requests.get(f"{run.url}/v1.0/{DEFAULT_PROJECT_ID}/streaming/jobs", params={"limit": 100},
                             headers=h, timeout=5).json()["job_list"]
    finally:
        assert run.stop()[0] == 0
    assert after["total_count"] == before["total_count"] == 12
    by_id = {j["job_id"]: j for j in after["jobs"]}
    assert by_id[new_id]["name"] == "persisted"
    assert 142 not in by_id
    assert by_id[130]["status"] in ("job_canceling", "job_cancel_success")  # the stop plan survived too
    assert {j["job_id"]: j["status"] for j in before["jobs"] if j["job_id"] != 130} == \
        {j["job_id"]: j["status"] for j in after["jobs"] if j["job_id"] != 130}


def test_zero_latency_is_accepted():
    run = Running("--token", "t", "--latency-ms", "0")
    try:
        assert requests.get(f"{run.url}/_emulator/faults", timeout=5).json()["latency_ms"] == {"ms": 0.0}
    finally:
        run.stop(signal.SIGTERM)
