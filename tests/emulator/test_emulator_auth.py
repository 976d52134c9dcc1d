"""Authentication as the gateway does it: static/IAM token, AK/SK signatures, the IAM password flow."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from dli_magic import signing
from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    TEST_DOMAIN,
    TEST_USER,
)


def signed_get(emu, tail, ak=SENTINEL_AK, sk=SENTINEL_SK, query="", sdk_date=None, project_id=None):
    url = f"{emu.url}/v1.0/{project_id or emu.project_id}/streaming/{tail}" + (f"?{query}" if query else "")
    headers = {"Content-Type": "application/json"}
    headers.update(signing.sign_request("GET", url, headers, b"", ak, sk, sdk_date=sdk_date))
    return requests.get(url, headers=headers, timeout=10)


def signed_post(emu, tail, body: bytes, ak=SENTINEL_AK, sk=SENTINEL_SK):
    url = f"{emu.url}/v1.0/{emu.project_id}/streaming/{tail}"
    headers = {"Content-Type": "application/json"}
    headers.update(signing.sign_request("POST", url, headers, body, ak, sk))
    return requests.post(url, data=body, headers=headers, timeout=10)


def iam_login(emu, user=TEST_USER, password=SENTINEL_PASSWORD, domain=TEST_DOMAIN, scope=None):
    body = {
        "auth": {
            "identity": {"methods": ["password"],
                         "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}}},
            "scope": scope or {"project": {"name": "eu-de"}},
        }
    }
    return requests.post(f"{emu.url}/v3/auth/tokens", json=body, timeout=10)


# -- X-Auth-Token ----------------------------------------------------------------------------------

def test_static_token_accepted(api):
    assert api.get("jobs/130").status_code == 200


def test_no_credentials_is_dli_0013(api):
    r = api.get("jobs", headers={})
    assert r.status_code == 401
    body = r.json()
    assert body["error_code"] == "DLI.0013" and "X-Auth-Token is not defined" in body["error_msg"]
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"])


def test_bad_token_is_apigw_0301_and_nothing_runs(api):
    r = api.post("jobs/run", json={"job_ids": [138]}, headers={"X-Auth-Token": "wrong"})
    assert r.status_code == 401
    assert r.json()["error_code"] == "APIGW.0301"
    assert r.json()["request_id"] == r.headers["X-Request-Id"]
    assert api.status(138) == "job_init"


# -- AK/SK -----------------------------------------------------------------------------------------

def test_signed_requests_accepted_with_encoded_query(emulator):
    query = signing.canonical_query([("name", "a b/c&d"), ("limit", 5), ("show_detail", True)])
    r = signed_get(emulator, "jobs", query=query)
    assert r.status_code == 200, r.text
    assert r.json()["job_list"]["total_count"] == 0
    r = signed_post(emulator, "jobs/run", b'{"job_ids": [138]}')
    assert r.status_code == 200 and r.json()[0]["is_success"] == "true"
    assert emulator.request_log()[-1]["auth"] == "aksk"


@pytest.mark.parametrize("ak, sk", [(SENTINEL_AK, "wrong-sk"), ("UNKNOWNAK", SENTINEL_SK)])
def test_bad_signature_or_unknown_ak_is_apigw_0301(emulator, ak, sk):
    r = signed_get(emulator, "jobs", ak=ak, sk=sk)
    assert r.status_code == 401
    assert r.json()["error_code"] == "APIGW.0301"
    assert r.json()["request_id"] == r.headers["X-Request-Id"]


def test_tampered_body_fails_signature(emulator):
    url = f"{emulator.url}/v1.0/{emulator.project_id}/streaming/jobs/run"
    headers = {"Content-Type": "application/json"}
    headers.update(signing.sign_request("POST", url, headers, b'{"job_ids": [138]}', SENTINEL_AK, SENTINEL_SK))
    r = requests.post(url, data=b'{"job_ids": [204]}', headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301"
    assert emulator.get_job(204)["status"] == "job_init"


def test_skewed_date_is_apigw_0303(emulator):
    old = signing.format_sdk_date(datetime.now(timezone.utc) - timedelta(minutes=16))
    r = signed_get(emulator, "jobs", sdk_date=old)
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0303"
    fine = signing.format_sdk_date(datetime.now(timezone.utc) - timedelta(minutes=14))
    assert signed_get(emulator, "jobs", sdk_date=fine).status_code == 200
    # the emulator clock counts: move it 20 minutes ahead and a fresh signature is skewed
    emulator.advance_clock(20 * 60)
    r = signed_get(emulator, "jobs")
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0303"


@pytest.mark.parametrize("signed", [[], ["content-type"], ["host"], ["x-sdk-date"], ["content-type", "host"]])
def test_signature_must_cover_host_and_x_sdk_date(emulator, signed):
    """A correct signature over too few headers is refused, as the gateway does (else Host can be changed)."""
    path = f"/v1.0/{emulator.project_id}/streaming/jobs"
    host = emulator.url.split("//", 1)[1]
    date = signing.format_sdk_date()
    headers = {"Content-Type": "application/json", "Host": host, "X-Sdk-Date": date}
    canonical = signing.canonical_request("GET", path, "", headers, sorted(signed), b"")
    sig = signing.signature(SENTINEL_SK, signing.string_to_sign(canonical, date))
    auth = signing.authorization_header(SENTINEL_AK, sorted(signed), sig)
    r = requests.get(emulator.url + path, headers={**headers, "Authorization": auth}, timeout=10)
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301", r.text
    assert "SignedHeaders" in r.json()["error_msg"]
    # the same request signed over host and x-sdk-date too is accepted
    full = sorted({*signed, "host", "x-sdk-date"})
    canonical = signing.canonical_request("GET", path, "", headers, full, b"")
    sig = signing.signature(SENTINEL_SK, signing.string_to_sign(canonical, date))
    auth = signing.authorization_header(SENTINEL_AK, full, sig)
    assert requests.get(emulator.url + path, headers={**headers, "Authorization": auth}, timeout=10).status_code == 200


def test_malformed_authorization_is_401(api):
    r = api.get("jobs", headers={"Authorization": "Bearer abc"})
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301"


# -- IAM -------------------------------------------------------------------------------------------

def test_iam_password_flow_token_and_project_lookup(emulator, make_api):
    r = iam_login(emulator)
    assert r.status_code == 201
    token = r.headers["X-Subject-Token"]
    body = r.json()["token"]
    assert body["project"] == {**body["project"], "id": emulator.project_id, "name": "eu-de"}
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert timedelta(hours=23) < expires - datetime.now(timezone.utc) <= timedelta(hours=24, seconds=5)
    assert token not in r.text
    api = make_api(emulator, headers={"X-Auth-Token": token})
    assert api.get("jobs/130").status_code == 200
    assert emulator.request_log()[-1]["auth"] == "iam-password"
    projects = requests.get(f"{emulator.url}/v3/projects", params={"name": "eu-de"},
                            headers={"X-Auth-Token": token}, timeout=10)
    assert projects.status_code == 200
    assert projects.json()["projects"] == [
        {**projects.json()["projects"][0], "id": emulator.project_id, "name": "eu-de", "enabled": True}
    ]
    none = requests.get(f"{emulator.url}/v3/projects", params={"name": "eu-nl"},
                        headers={"X-Auth-Token": token}, timeout=10)
    assert none.json()["projects"] == []
    # created jobs carry the IAM user's name
    job_id = api.post("sql-jobs", json={"name": "mine"}).json()["job"]["job_id"]
    assert emulator.get_job(job_id)["user_name"] == TEST_USER


def test_projects_lookup_needs_a_valid_token(emulator):
    r = requests.get(f"{emulator.url}/v3/projects", params={"name": "eu-de"}, timeout=10)
    assert r.status_code == 401
    r = requests.get(f"{emulator.url}/v3/projects", params={"name": "eu-de"},
                     headers={"X-Auth-Token": "nope"}, timeout=10)
    assert r.status_code == 401
    r = requests.get(f"{emulator.url}/v3/projects", headers={"X-Auth-Token": SENTINEL_TOKEN}, timeout=10)
    assert r.status_code == 200 and len(r.json()["projects"]) == 1


@pytest.mark.parametrize("field", ["user", "password", "domain"])
def test_iam_bad_credentials_are_401(emulator, field):
    kwargs = {field: "wrong"}
    r = iam_login(emulator, **kwargs)
    assert r.status_code == 401
    assert "X-Subject-Token" not in r.headers
    assert r.json()["error"]["code"] == 401 and r.json()["error_msg"]


def test_iam_malformed_body_and_unknown_project(emulator):
    r = requests.post(f"{emulator.url}/v3/auth/tokens", data=b"{", timeout=10)
    assert r.status_code == 400
    r = iam_login(emulator, scope={"project": {"name": "xx-nowhere-1"}})
    assert r.status_code == 400 and "xx-nowhere-1" in r.json()["error_msg"]
    r = iam_login(emulator, scope={"domain": {"name": TEST_DOMAIN}})
    assert r.status_code == 400 and "scope" in r.json()["error_msg"]


def test_iam_token_expires_with_the_clock(emulator_factory, make_api):
    emu = emulator_factory(users=[("u", "p", "d")], token_ttl=60)
    token = iam_login(emu, "u", "p", "d").headers["X-Subject-Token"]
    api = make_api(emu, headers={"X-Auth-Token": token})
    assert api.get("jobs").status_code == 200
    emu.advance_clock(59)
    assert api.get("jobs").status_code == 200
    emu.advance_clock(2)
    r = api.get("jobs")
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301"
    assert "expired" in r.json()["error_msg"]
    # a new login works again
    fresh = iam_login(emu, "u", "p", "d").headers["X-Subject-Token"]
    assert api.get("jobs", headers={"X-Auth-Token": fresh}).status_code == 200


def test_iam_token_is_scoped_to_its_project(emulator, make_api):
    other = "e" * 32
    token = iam_login(emulator, scope={"project": {"id": other}}).headers["X-Subject-Token"]
    api = make_api(emulator, headers={"X-Auth-Token": token}, project_id=other)
    assert api.get("jobs").status_code == 200
    r = api.get("jobs", project_id=emulator.project_id)
    assert r.status_code == 403 and r.json()["error_code"] == "APIGW.0302"
    # the static token and AK/SK are valid for every project
    assert api.get("jobs", headers={"X-Auth-Token": SENTINEL_TOKEN}, project_id=emulator.project_id).status_code == 200
    assert signed_get(emulator, "jobs", project_id=other).status_code == 200


def test_emulator_without_credentials_refuses_everything(emulator_factory, make_api):
    emu = emulator_factory()
    api = make_api(emu, headers={"X-Auth-Token": "anything"})
    assert api.get("jobs").status_code == 401
    assert signed_get(emu, "jobs", ak="A", sk="B").status_code == 401
    assert iam_login(emu).status_code == 401
