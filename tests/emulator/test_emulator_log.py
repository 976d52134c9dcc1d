"""The request log: what arrived, in order, with every secret redacted; X-Request-Id on every answer."""

from __future__ import annotations

import json
import re

import requests

from dli_magic import signing
from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    SENTINELS,
    TEST_DOMAIN,
    TEST_USER,
)


def _all_traffic(emu):
    base = f"{emu.url}/v1.0/{emu.project_id}/streaming"
    token_headers = {"X-Auth-Token": SENTINEL_TOKEN}
    answers = []
    answers.append(requests.get(f"{base}/jobs", params={"limit": 3}, headers=token_headers, timeout=5))
    answers.append(requests.post(f"{base}/jobs/run", json={"job_ids": [138]}, headers=token_headers, timeout=5))
    url = f"{base}/jobs/stop"
    body = b'{"job_ids": [130], "trigger_savepoint": true}'
    headers = {"Content-Type": "application/json"}
    headers.update(signing.sign_request("POST", url, headers, body, SENTINEL_AK, SENTINEL_SK))
    answers.append(requests.post(url, data=body, headers=headers, timeout=5))
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": TEST_USER, "password": SENTINEL_PASSWORD, "domain": {"name": TEST_DOMAIN}}}},
        "scope": {"project": {"name": "eu-de"}}}}
    answers.append(requests.post(f"{emu.url}/v3/auth/tokens", json=login, timeout=5))
    iam_token = answers[-1].headers["X-Subject-Token"]
    answers.append(requests.get(f"{emu.url}/v3/projects", params={"name": "eu-de"},
                                headers={"X-Auth-Token": iam_token}, timeout=5))
    answers.append(requests.get(f"{base}/jobs/999", headers={"X-Auth-Token": iam_token}, timeout=5))
    answers.append(requests.get(f"{base}/jobs", headers={"X-Auth-Token": "bad-" + SENTINEL_TOKEN}, timeout=5))
    answers.append(requests.get(f"{emu.url}/nowhere", timeout=5))
    answers.append(requests.get(f"{emu.url}/_emulator/requests", timeout=5))
    return answers, iam_token


def test_log_records_every_call_in_order_with_secrets_redacted(emulator):
    answers, iam_token = _all_traffic(emulator)
    log = emulator.request_log()
    assert [e["status"] for e in log] == [a.status_code for a in answers[:-1]]  # the admin call is not logged
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    assert [e["auth"] for e in log] == ["token", "token", "aksk", "iam-password", "iam-password", "iam-password",
                                        None, None]
    assert log[0]["query"] == "limit=3" and log[0]["method"] == "GET"
    assert log[1]["body"] == {"job_ids": [138]}
    assert log[2]["body"] == {"job_ids": [130], "trigger_savepoint": True}
    assert log[2]["headers"]["authorization"].startswith(f"SDK-HMAC-SHA256 Access={SENTINEL_AK}, SignedHeaders=")
    assert log[2]["headers"]["authorization"].endswith("Signature=***")
    assert log[3]["body"]["auth"]["identity"]["password"]["user"]["password"] == "***"
    assert log[0]["headers"]["x-auth-token"] == "***"
    for entry, answer in zip(log, answers):
        assert entry["request_id"] == answer.headers["X-Request-Id"]
    dumped = json.dumps(log)  # JSON-safe, and no secret anywhere
    for secret in (*SENTINELS, iam_token):
        assert secret not in dumped
    # the admin route serves the same thing
    assert requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json() == json.loads(dumped)


def test_every_answer_has_a_unique_request_id(emulator):
    answers, _ = _all_traffic(emulator)
    ids = [a.headers["X-Request-Id"] for a in answers]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_clear_request_log(emulator):
    _all_traffic(emulator)
    assert emulator.request_log()
    emulator.clear_request_log()
    assert emulator.request_log() == []
    requests.get(f"{emulator.url}/v1.0/{emulator.project_id}/streaming/jobs", timeout=5)
    assert len(emulator.request_log()) == 1
    assert requests.delete(f"{emulator.url}/_emulator/requests", timeout=5).json() == []
    assert emulator.request_log() == []


def test_non_json_body_is_not_logged(api):
    api.post("jobs/run", data=b"job_ids=1")
    entry = api.emu.request_log()[-1]
    assert entry["body"] == "<9 bytes, not JSON, not logged>" and entry["status"] == 400


def test_secrets_below_secret_named_objects_and_in_non_json_iam_bodies_are_masked(emulator):
    scope = {"project": {"name": "eu-de"}}
    bodies = [
        {"auth": {"identity": {"methods": ["token"], "token": {"id": "TOKEN-SECRET-1"}}, "scope": scope}},
        {"auth": {"identity": {"methods": ["hw_ak_sk"], "hw_ak_sk": {"access": {"key": "AKX"},
                                                                      "secret": {"key": "SK-SECRET-2"}}},
                  "scope": scope}},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": TEST_USER, "password": ["LIST-SECRET-3"], "domain": {"name": TEST_DOMAIN}}}}, "scope": scope}},
    ]
    for body in bodies:
        requests.post(f"{emulator.url}/v3/auth/tokens", json=body, timeout=5)
    # not JSON (a trailing comma; a form body): never logged raw
    requests.post(f"{emulator.url}/v3/auth/tokens", timeout=5,
                  data=b'{"auth":{"identity":{"password":{"user":{"password":"RAW-SECRET-4"}}}},}')
    requests.post(f"{emulator.url}/v3/auth/tokens", data=b"user=alice&password=RAW-SECRET-5", timeout=5)
    log = emulator.request_log()
    assert log[0]["body"]["auth"]["identity"]["token"] == {"id": "***"}
    assert log[1]["body"]["auth"]["identity"]["hw_ak_sk"] == {"access": {"key": "AKX"}, "secret": {"key": "***"}}
    assert log[3]["body"].endswith("bytes, not JSON, not logged>")
    dumped = json.dumps(log)
    for secret in ("TOKEN-SECRET-1", "SK-SECRET-2", "LIST-SECRET-3", "RAW-SECRET-4", "RAW-SECRET-5"):
        assert secret not in dumped


def test_security_token_header_and_spaced_signature_are_masked(emulator):
    base = f"{emulator.url}/v1.0/{emulator.project_id}/streaming"
    requests.get(f"{base}/jobs", timeout=5,
                 headers={"X-Auth-Token": SENTINEL_TOKEN, "X-Security-Token": "STS-SECRET-1"})
    url = f"{base}/jobs?limit=5"
    headers = {"Content-Type": "application/json"}
    added = signing.sign_request("GET", url, headers, b"", SENTINEL_AK, SENTINEL_SK)
    sig = added["Authorization"].rsplit("Signature=", 1)[1]
    for spaced in ("Signature= ", "signature = "):
        auth = added["Authorization"].replace("Signature=", spaced)
        assert signing.parse_authorization(auth)["signature"] == sig  # the gateway takes it as a signature
        r = requests.get(url, headers={**headers, **added, "Authorization": auth}, timeout=5)
        assert r.status_code == 200
    log = emulator.request_log()
    assert log[0]["headers"]["x-security-token"] == "***"
    assert log[1]["headers"]["authorization"].endswith("Signature=***")
    assert log[2]["headers"]["authorization"].endswith("signature =***")
    dumped = json.dumps(log)
    assert "STS-SECRET-1" not in dumped and sig not in dumped


def test_repr_has_no_secret(emulator):
    text = repr(emulator) + str(emulator.__dict__) + repr(emulator.auth.__dict__.keys())
    assert emulator.url in repr(emulator)
    for secret in (SENTINEL_TOKEN, SENTINEL_SK, SENTINEL_PASSWORD):
        assert secret not in repr(emulator)
    assert text  # the dict dump is only a smoke check that repr works
