"""Strangers' bytes: cross-origin admin calls, values that would break the emulator, oversized and
hostile bodies, a bounded request log, one huge call among others, CLI values that would fail later."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from cli_process import Running, assert_bad_option, cli_env

from dli_magic.emulator import Emulator
from dli_magic.emulator.bodies import DEFAULT_MAX_BODY_BYTES, MAX_DEPTH
from dli_magic.emulator.reqlog import DEFAULT_LOG_ENTRIES, MAX_LOGGED_BODY

H = {"X-Auth-Token": "t"}


def state_of(emu):
    """What an admin call could change."""
    return (emu.faults(), len(emu.request_log()), emu.store.count_all(), emu.now_ms() // 10_000)


def admin_calls(emu, job_id):
    base = f"{emu.url}/_emulator"
    return [
        ("PUT", f"{base}/faults", {"throttle": {"count": -1}}),
        ("DELETE", f"{base}/faults", None),
        ("DELETE", f"{base}/requests", None),
        ("POST", f"{base}/clock", {"advance": 86400}),
        ("POST", f"{base}/jobs", {"name": "planted"}),
        ("PUT", f"{base}/jobs/{job_id}/behaviour", "fail"),
        ("GET", f"{base}/requests", None),
    ]


def _call(method, url, body, headers):
    data = None if body is None else json.dumps(body)
    return requests.request(method, url, data=data, headers=headers, timeout=5)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://localhost:1"},
     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
     {"Origin": "http://127.0.0.1:8888", "Sec-Fetch-Site": "same-site"}],
)
def test_admin_routes_refuse_other_origins_and_change_nothing(emu, headers):
    emu.set_faults({"bool_is_success": True})
    job = emu.create_job(name="target")
    requests.get(f"{emu.url}/v1.0/{emu.project_id}/streaming/jobs", headers=H, timeout=5)
    before = state_of(emu)
    for method, url, body in admin_calls(emu, job):
        r = _call(method, url, body, {"Content-Type": "application/json", **headers})
        assert r.status_code == 403, (method, url, r.text)
        assert r.json()["error_code"] == "EMULATOR.CROSS_ORIGIN"
    assert state_of(emu) == before
    assert emu.store.behaviour(emu.project_id, job)["kind"] == "healthy"


def test_admin_routes_answer_their_own_origin(emu):
    port = emu.port
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        r = requests.post(f"{emu.url}/_emulator/jobs", json={"name": "mine"},
                          headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}, timeout=5)
        assert r.status_code == 200, r.text
    assert requests.get(f"{emu.url}/_emulator/clock", headers={"Sec-Fetch-Site": "none"}, timeout=5).ok


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "127.0.0.1.attacker.example:{port}",
                                  "localhost.attacker.example"])
def test_admin_routes_refuse_a_foreign_host_name_reads_included(emu, host):
    """DNS rebinding: a page whose own name resolves to 127.0.0.1 is same-origin to the browser, and
    its GETs carry no Origin; only the Host header names the page's site."""
    job = emu.create_job(name="target")
    requests.get(f"{emu.url}/v1.0/{emu.project_id}/streaming/jobs", headers=H, timeout=5)
    before = state_of(emu)
    for method, url, body in [*admin_calls(emu, job), ("GET", f"{emu.url}/_emulator/jobs/{job}", None)]:
        r = _call(method, url, body, {"Content-Type": "application/json", "Host": host.format(port=emu.port)})
        assert r.status_code == 403, (method, url, r.text)
        assert r.json()["error_code"] == "EMULATOR.FOREIGN_HOST"
        assert "target" not in r.text
    assert state_of(emu) == before


def test_admin_routes_answer_their_own_host_names_and_ip_addresses(emu):
    """An IP address cannot be rebound to another site: the URL printed for 0.0.0.0 or :: works too."""
    for host in (f"127.0.0.1:{emu.port}", f"localhost:{emu.port}", "LOCALHOST", "127.0.0.1",
                 f"0.0.0.0:{emu.port}", f"[::]:{emu.port}", f"10.1.2.3:{emu.port}"):
        r = requests.get(f"{emu.url}/_emulator/clock", headers={"Host": host}, timeout=5)
        assert r.status_code == 200, (host, r.text)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "application/jsonp"],
)
def test_admin_routes_refuse_non_json_bodies_and_change_nothing(emu, content_type):
    job = emu.create_job(name="target")
    before = state_of(emu)
    for method, url, body in admin_calls(emu, job)[:-1]:
        r = _call(method, url, body, {"Content-Type": content_type})
        assert r.status_code == 415, (method, url, r.text)
        assert r.json()["error_code"] == "EMULATOR.CONTENT_TYPE"
    assert state_of(emu) == before


def test_admin_json_with_or_without_a_content_type_is_accepted(emu):
    url = f"{emu.url}/_emulator/jobs"
    assert requests.post(url, data='{"name": "a"}', headers={"Content-Type": "application/json; charset=utf-8"},
                         timeout=5).status_code == 200
    assert requests.post(url, data='{"name": "b"}', timeout=5).status_code == 200  # a script's data=
    assert emu.store.count_all() == 2


@pytest.mark.parametrize("advance", [1e12, -1e12, 10**19, -(10**19), 200 * 365 * 86400])
def test_clock_out_of_range_is_400_and_does_not_move(emu, advance):
    before = emu.now_ms()
    r = requests.post(f"{emu.url}/_emulator/clock", json={"advance": advance}, timeout=5)
    assert r.status_code == 400 and r.json()["error_code"] == "EMULATOR.CLOCK", r.text
    assert abs(emu.now_ms() - before) < 5000
    with pytest.raises(ValueError):
        emu.advance_clock(advance)
    with pytest.raises(ValueError):
        emu.advance_clock(10**400)  # an integer beyond any float
    assert abs(emu.now_ms() - before) < 5000


@pytest.mark.parametrize(
    "fields, word",
    [({"create_time": 10**15}, "create_time"), ({"create_time": -1}, "create_time"),
     ({"start_time": "yesterday"}, "start_time"), ({"start_time": 1.5e12}, "start_time"),
     ({"update_time": 10**19}, "update_time"), ({"duration": -5}, "duration"),
     ({"restart_times": "many"}, "restart_times"), ({"has_savepoint": "yes"}, "has_savepoint"),
     ({"job_id": 2**63 - 1}, "job_id"), ({"job_id": 2**62 + 1}, "job_id"), ({"job_id": 0}, "job_id"),
     ({"tags": "env=prod"}, "tags"), ({"job_config": [1]}, "job_config"), ({"queue_name": 7}, "queue_name"),
     ({"sql_body": "x" * 1_000_001}, "sql_body"), ({"project_id": "a/b"}, "project_id"),
     ({"status": "up"}, "status"), ({"behaviour": {"kind": "fail", "after": 1e300}}, "after")],
)
def test_seeding_values_that_would_break_it_are_400_and_store_nothing(emu, fields, word):
    r = requests.post(f"{emu.url}/_emulator/jobs", json={"name": "x", **fields}, timeout=10)
    assert r.status_code == 400 and word in r.json()["error_msg"], r.text
    assert emu.store.count_all() == 0


def test_a_database_cannot_be_poisoned_into_errors(emulator_factory, make_api, tmp_path):
    db = str(tmp_path / "poison.sqlite")
    emu = emulator_factory(token="t", db=db, speed=1.0)
    admin = f"{emu.url}/_emulator"
    attempts = [("jobs", {"name": "p", "job_id": 2**63 - 1}), ("jobs", {"name": "p", "start_time": "x"}),
                ("jobs", {"name": "p", "create_time": 10**18}), ("clock", {"advance": 1e15}),
                ("jobs", {"name": "p", "tags": [{"key": {"nested": 1}, "value": [1, 2]}]})]
    codes = [requests.post(f"{admin}/{route}", json=body, timeout=5).status_code for route, body in attempts]
    assert codes == [400, 400, 400, 400, 200]  # a tag with odd values is stored as text and reads back
    emu.advance_clock(150 * 365 * 86400)  # far, but within range: the year ~2176
    emu.close()
    emu = emulator_factory(token="t", db=db, speed=1.0)
    api = make_api(emu, headers=H)
    assert api.get("jobs").status_code == 200
    created = api.post("sql-jobs", json={"name": "after"}).json()["job"]["job_id"]
    assert created < 2**62
    assert api.post("jobs/run", json={"job_ids": [created]}).json()[0]["is_success"] == "true"
    emu.advance_clock(3)
    assert api.get(f"jobs/{created}").json()["job_detail"]["status"] == "job_running"
    assert api.get(f"jobs/{created}/execute-graph").status_code == 200


def test_a_body_above_the_limit_is_413_and_not_logged(emulator_factory, make_api):
    assert DEFAULT_MAX_BODY_BYTES == 12 * 1024 * 1024
    emu = emulator_factory(token="t", max_body_bytes=2048)
    api = make_api(emu, headers=H)
    big = {"job_ids": list(range(1, 600)), "note": "SECRET-IN-BODY"}
    r = api.post("jobs/run", json=big)
    assert r.status_code == 413 and r.json()["error_code"] == "APIGW.0201" and r.json()["request_id"]
    assert "2048" in r.json()["error_msg"]

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b"[" + b"1," * 200 + b"1]"

    r = api.post("jobs/run", data=chunks(), headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert requests.post(f"{emu.url}/_emulator/faults", data=json.dumps({"x": "y" * 5000}), timeout=5).status_code \
        == 413
    log = emu.request_log()
    assert [e["status"] for e in log] == [413, 413]
    assert all(e["body"] == "<request body too large, not logged>" for e in log)
    assert "SECRET-IN-BODY" not in json.dumps(log)
    assert api.post("jobs/run", json={"job_ids": [1]}).status_code == 200  # the connection and server are fine


def _nested(depth):
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize(
    "body, words",
    [('{"job_ids": ' + _nested(MAX_DEPTH + 1) + "}", "nested"), ('{"job_ids": ' + _nested(100_000) + "}", "nested"),
     ('{"job_ids": [1234567890123456789012345]}', "digits"), ('{"job_ids": [' + "9" * 5000 + "]}", "digits"),
     ('{"job_ids": [1], "x": 1e400}', "too large"), ('{"job_ids": [NaN]}', "NaN"),
     ('{"job_ids": [Infinity]}', "Infinity"), ('{"job_ids": [1],}', "not valid JSON"),
     (b'{"job_ids": [1], "x": "\xff"}', "UTF-8")],
)
def test_hostile_json_is_400_naming_the_problem_and_never_logged(emu, make_api, body, words):
    api = make_api(emu, headers=H)
    data = body if isinstance(body, bytes) else body.encode()
    for route in ("jobs/run", "jobs/stop", "sql-jobs"):
        r = api.post(route, data=data, headers={**H, "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error_code"] == "DLI.0001", r.text
        assert words in r.json()["error_msg"] and "body" in r.json()["error_msg"]
    r = requests.post(f"{emu.url}/v3/auth/tokens", data=data, timeout=5)
    assert r.status_code == 400 and words in r.json()["error_msg"]
    r = requests.put(f"{emu.url}/_emulator/faults", data=data, timeout=5)
    assert r.status_code == 400 and words in r.json()["error_msg"]
    assert emu.faults() == {}
    log = emu.request_log()
    assert len(log) == 4 and all(e["body"] == f"<{len(data)} bytes, not JSON, not logged>" for e in log)


def test_json_at_the_depth_limit_is_accepted(emu, make_api):
    api = make_api(emu, headers=H)
    body = {"name": "deep", "job_config": json.loads(_nested(MAX_DEPTH - 2))}
    assert api.post("sql-jobs", json=body).status_code == 200


def test_unauthenticated_bodies_are_never_logged(emu, make_api):
    api = make_api(emu, headers={"X-Auth-Token": "wrong"})
    assert api.post("jobs/run", json={"job_ids": [1], "password": "SECRET-IN-BODY"}).status_code == 401
    assert api.post("jobs/run", json={"job_ids": [1]}, headers={}).status_code == 401
    [wrong, missing] = emu.request_log()
    assert wrong["body"].endswith("bytes, refused by the gateway, not logged>") and wrong["status"] == 401
    assert missing["body"].endswith("bytes, refused by the gateway, not logged>")
    assert "SECRET-IN-BODY" not in json.dumps(emu.request_log())


def test_the_request_log_is_a_ring(emulator_factory, make_api):
    assert DEFAULT_LOG_ENTRIES == 50_000
    emu = emulator_factory(token="t", request_log_size=5)
    api = make_api(emu, headers=H)
    for _ in range(8):
        api.get("jobs")
    assert [e["seq"] for e in emu.request_log()] == [4, 5, 6, 7, 8]
    ids = list(range(1, 160_000))  # a body above the per-entry cap: a marker, not a megabyte kept
    assert len(json.dumps({"job_ids": ids})) > MAX_LOGGED_BODY
    assert api.post("jobs/run", json={"job_ids": ids}).status_code == 200
    assert emu.request_log()[-1]["body"].endswith(f"larger than {MAX_LOGGED_BODY} bytes, not logged>")


def test_one_huge_call_does_not_stall_the_others(emulator_factory, make_api):
    emu = emulator_factory(token="t", jobs=2000, speed=50.0)
    base = f"{emu.url}/v1.0/{emu.project_id}/streaming"
    waits: list[float] = []
    statuses: list[int] = []  # checked here: an assert in the poller thread could not fail the test
    done = threading.Event()

    def poll():
        session = requests.Session()
        while not done.is_set():
            started = time.perf_counter()
            statuses.append(session.get(f"{base}/jobs", params={"limit": 10}, headers=H, timeout=30).status_code)
            waits.append(time.perf_counter() - started)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        started = time.perf_counter()
        r = requests.post(f"{base}/jobs/run", json={"job_ids": list(range(1001, 101_001))}, headers=H, timeout=60)
        huge = time.perf_counter() - started
    finally:
        done.set()
        poller.join()
    items = r.json()
    assert len(items) == 100_000 and sum(i["is_success"] == "true" for i in items) == 2000
    # Done in one go, the call would hold every other client for most of its own time.
    assert set(statuses) == {200}
    assert len(waits) > 5 and max(waits) < huge / 3, (huge, max(waits))


@pytest.mark.parametrize(
    "args",
    [["--speed", "1e-300"], ["--speed", "0.0001"], ["--speed", "1e9"], ["--project-id", ""], ["--project-id", "/"],
     ["--project-id", "a/b"], ["--project-id", "x" * 65], ["--region", ""], ["--region", "eu de"],
     ["--token", " padded"], ["--token", "two words"], ["--token-ttl", "1e12"], ["--token-ttl", "0.5"],
     ["--max-body-bytes", "10"], ["--max-body-bytes", "1e3"], ["--request-log-size", "0"],
     ["--latency-ms", "1e12"], ["--faults", '{"latency_ms": 1e300}'], ["--faults", '{"latency_ms": 1e999}'],
     ["--faults", '{"throttle": {"retry_after": 1e9}}'], ["--faults", '{"rate_limit": 1e300}'],
     ["--faults", '{"short_response": {"missing": 99999999999}}'], ["--user", "u\x07", "--password", "p"]],
)
def test_cli_values_that_would_fail_later_exit_2_with_one_line(args):
    assert_bad_option(args)


def test_cli_refuses_a_token_from_the_environment_that_no_header_can_carry():
    import subprocess
    import sys

    from cli_process import ROOT

    proc = subprocess.run([sys.executable, "-m", "dli_magic.emulator", "--port", "0"], capture_output=True, text=True,
                          env=cli_env(DLI_EMULATOR_TOKEN="tok en"), cwd=ROOT, timeout=30)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "token" in proc.stderr
    assert "tok en" not in proc.stderr  # a secret is never echoed


def test_constructor_refuses_the_same_values():
    for kwargs in ({"speed": 1e-300}, {"project_id": "/"}, {"project_id": ""}, {"region": ""},
                   {"token": "a b"}, {"token_ttl": 1e12}, {"max_body_bytes": 10}, {"request_log_size": 0},
                   {"users": [("u", "", "d")]}, {"faults": {"latency_ms": 10**30}}):
        with pytest.raises(ValueError):
            Emulator(**kwargs)


def test_fault_flags_behave_as_documented():
    run = Running("--token", "t", "--error-status", "503", "--error-count", "2", "--bool-is-success")
    try:
        url = f"{run.url}/v1.0/{'0' * 32}/streaming/jobs"
        first, second = (requests.get(url, timeout=5) for _ in range(2))  # no credentials: faults come first
        assert (first.status_code, first.json()["error_code"]) == (503, "APIGW.0201")
        assert second.status_code == 503
        assert requests.get(url, timeout=5).status_code == 401
        assert requests.get(url, headers=H, timeout=5).json()["is_success"] is True
        assert requests.get(f"{run.url}/_emulator/faults", timeout=5).json()["error"]["count"] == 0
    finally:
        assert run.stop()[0] == 0
    run = Running("--token", "t", "--html-502", "1", "--throttle-rate", "2", "--drop", "1")
    try:
        url = f"{run.url}/v1.0/{'0' * 32}/streaming/jobs"
        page = requests.get(url, headers=H, timeout=5)
        assert page.status_code == 502 and page.headers["Content-Type"].startswith("text/html")
        with pytest.raises(requests.ConnectionError):  # processed, then closed without an answer
            requests.get(url, headers=H, timeout=5)
        throttled = requests.get(url, headers=H, timeout=5)  # the third call within a second
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
        assert "limit:2," in throttled.json()["error_msg"]
        log = requests.get(f"{run.url}/_emulator/requests", timeout=5).json()
        assert [(e["status"], e["fault"]) for e in log] == [(502, "html_502"), (0, "drop"), (429, "rate_limit")]
    finally:
        assert run.stop()[0] == 0
