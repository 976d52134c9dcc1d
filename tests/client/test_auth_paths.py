"""Every way to authenticate, against the emulator's gateway and IAM, plus the official SDK agreeing."""

from __future__ import annotations

import time

import pytest

from dli_magic.auth import AkSkAuth, PasswordAuth, TokenAuth
from dli_magic.client import DliClient
from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    TEST_DOMAIN,
    TEST_USER,
)
from dli_magic.errors import AuthError, ConfigError

TOKENS_PATH = "/v3/auth/tokens"


def paths(emu):
    return [(e["method"], e["path"].split("/streaming")[-1] if "/streaming" in e["path"] else e["path"], e["status"])
            for e in emu.request_log()]


def password_client(make_client, emu, **kw):
    settings = dict(auth_token=None, project_id=None, username=TEST_USER, password=SENTINEL_PASSWORD,
                    domain=TEST_DOMAIN, region="eu-de")
    settings.update(kw)
    return make_client(emu, **settings)


def test_static_token(emulator, make_client):
    client = make_client(emulator)
    assert isinstance(client.auth, TokenAuth)
    assert client.get_job(130).job_id == 130
    [entry] = emulator.request_log()
    assert entry["auth"] == "token" and entry["headers"]["x-auth-token"] == "***"


def test_wrong_token_is_auth_error_with_request_id(emulator, make_client):
    client = make_client(emulator, auth_token="not-the-token-at-all")
    with pytest.raises(AuthError) as info:
        client.run_jobs([138])
    err = info.value
    assert err.status == 401 and err.error_code == "APIGW.0301"
    assert err.request_id == emulator.request_log()[-1]["request_id"]
    assert err.attempts == 1 and len(emulator.request_log()) == 1  # a static token is not retried


def test_aksk_signing_is_accepted(emulator, make_client):
    client = make_client(emulator, auth_token=None, ak=SENTINEL_AK, sk=SENTINEL_SK)
    assert isinstance(client.auth, AkSkAuth)
    # a query with characters that need encoding: the signed and the sent query must agree
    assert client.list_jobs(name="no such job / x&y=1", queue_name="dli prod") == []
    result = client.run_jobs([138, 204], resume_savepoint=False)
    assert [o.is_success for o in result.outcomes] == [True, True]
    entries = emulator.request_log()
    assert [e["status"] for e in entries] == [200, 200]
    assert {e["auth"] for e in entries} == {"aksk"}
    authorization = entries[-1]["headers"]["authorization"]
    assert authorization.startswith(f"SDK-HMAC-SHA256 Access={SENTINEL_AK}, SignedHeaders=")
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"content-type", "host", "x-project-id", "x-sdk-date"} <= set(signed)


def test_aksk_wrong_sk_is_auth_error_with_request_id(emulator, make_client):
    client = make_client(emulator, auth_token=None, ak=SENTINEL_AK, sk="wrong-secret-key-000")
    with pytest.raises(AuthError) as info:
        client.stop_jobs([130])
    err = info.value
    assert err.status == 401 and err.error_code == "APIGW.0301" and "signature" in err.message
    assert err.request_id and err.request_id == emulator.request_log()[-1]["request_id"]
    assert err.job_ids == [130]


def test_aksk_from_environment(emulator, monkeypatch):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", SENTINEL_AK)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", SENTINEL_SK)
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", emulator.project_id)
    with DliClient() as client:
        assert client.settings.sources["sk"] == "env HUAWEICLOUD_SDK_SK"
        assert len(client.list_jobs()) == 12


def test_password_login_caches_token_and_reads_project_from_it(emulator, make_client):
    client = password_client(make_client, emulator)
    assert isinstance(client.auth, PasswordAuth)
    assert client.project_id == emulator.project_id
    client.get_job(130)
    client.list_jobs()
    # a second client with the same identity reuses the cached token
    password_client(make_client, emulator).get_job(131)
    log = paths(emulator)
    assert [p for p in log if p[1] == TOKENS_PATH] == [("POST", TOKENS_PATH, 201)]
    assert not any(p[1].startswith("/v3/projects") for p in log)  # the token said which project
    assert {e["auth"] for e in emulator.request_log() if e["path"].startswith("/v1.0/")} == {"iam-password"}
    token_request = emulator.request_log()[0]
    assert token_request["body"]["auth"]["identity"]["methods"] == ["password"]
    assert token_request["body"]["auth"]["scope"] == {"project": {"name": "eu-de"}}


def test_password_token_renewed_before_expiry(emulator_factory, make_client):
    emu = emulator_factory(users=[(TEST_USER, SENTINEL_PASSWORD, TEST_DOMAIN)], demo=True, token_ttl=1.0)
    client = password_client(make_client, emu)
    client.get_job(130)
    client.get_job(130)
    assert sum(1 for p in paths(emu) if p[1] == TOKENS_PATH) == 1
    time.sleep(1.0)  # past the renewal point (ttl minus a tenth of it)
    client.get_job(130)
    log = paths(emu)
    assert sum(1 for p in log if p[1] == TOKENS_PATH) == 2
    assert all(status in (200, 201) for _, _, status in log)  # renewed before, never a 401


def test_reauthenticates_once_on_401(emulator, make_client):
    client = password_client(make_client, emulator)
    client.get_job(130)
    emulator.advance_clock(2 * 86400)  # the cached token expired server-side
    emulator.clear_request_log()
    assert client.get_job(130).job_id == 130
    assert paths(emulator) == [
        ("GET", "/jobs/130", 401),
        ("POST", TOKENS_PATH, 201),
        ("GET", "/jobs/130", 200),
    ]


def test_reauth_happens_only_once(emulator, make_client):
    client = password_client(make_client, emulator)
    client.get_job(130)
    emulator.set_faults({"error": {"status": 401, "count": 5, "error_code": "APIGW.0301",
                                   "error_msg": "Incorrect IAM authentication information"}})
    emulator.clear_request_log()
    with pytest.raises(AuthError) as info:
        client.run_jobs([138])
    assert [p[1] for p in paths(emulator)] == ["/jobs/run", TOKENS_PATH, "/jobs/run"]
    assert info.value.attempts == 2


def test_wrong_password_is_auth_error_and_no_dli_call(emulator, make_client):
    client = password_client(make_client, emulator, password="wrong-password-123")
    with pytest.raises(AuthError) as info:
        client.run_jobs([138])
    assert info.value.status == 401 and info.value.request_id
    assert [p[1] for p in paths(emulator)] == [TOKENS_PATH]


def test_password_with_project_id_scope(emulator, make_client):
    client = password_client(make_client, emulator, project_id=emulator.project_id, region=None)
    assert client.get_job(130).job_id == 130
    assert emulator.request_log()[0]["body"]["auth"]["scope"] == {"project": {"id": emulator.project_id}}


def test_password_without_scope_is_config_error(emulator, make_client):
    client = password_client(make_client, emulator, region=None)
    with pytest.raises(ConfigError, match="DLI_REGION"):
        client.get_job(130)
    assert emulator.request_log() == []


def test_project_id_lookup_with_token_and_region(emulator, make_client):
    client = make_client(emulator, project_id=None, region="eu-de")
    assert client.project_id == emulator.project_id
    [lookup] = emulator.request_log()
    assert (lookup["path"], lookup["query"]) == ("/v3/projects", "name=eu-de")
    client.get_job(130)
    assert len(emulator.request_log()) == 2  # looked up once


def test_project_id_lookup_with_aksk_and_no_region(emulator, make_client):
    client = make_client(emulator, auth_token=None, project_id=None, ak=SENTINEL_AK, sk=SENTINEL_SK)
    assert client.run_jobs([138]).project_id == emulator.project_id
    assert [e["path"] for e in emulator.request_log()][0] == "/v3/projects"


def test_unknown_region_is_config_error(emulator, make_client):
    client = make_client(emulator, project_id=None, region="eu-nl")
    with pytest.raises(ConfigError, match="no project named 'eu-nl'"):
        client.run_jobs([138])
    assert not any(e["path"].startswith("/v1.0/") for e in emulator.request_log())


def test_no_credentials_names_the_variables_and_sends_nothing(emulator):
    client = DliClient(endpoint=emulator.url, project_id=emulator.project_id, ak="only-the-ak")
    with pytest.raises(ConfigError) as info:
        client.run_jobs([138])
    text = str(info.value)
    for name in ("DLI_AUTH_TOKEN", "DLI_AK", "DLI_SK", "DLI_USERNAME", "DLI_PASSWORD", "DLI_DOMAIN"):
        assert name in text
    assert "DLI_AK is set but DLI_SK is not" in text
    assert emulator.request_log() == []


def test_auth_choice_order(emulator):
    both = DliClient(endpoint=emulator.url, auth_token=SENTINEL_TOKEN, ak=SENTINEL_AK, sk=SENTINEL_SK,
                     username=TEST_USER, password=SENTINEL_PASSWORD)
    assert isinstance(both.auth, TokenAuth)
    aksk = DliClient(endpoint=emulator.url, ak=SENTINEL_AK, sk=SENTINEL_SK, username=TEST_USER,
                     password=SENTINEL_PASSWORD)
    assert isinstance(aksk.auth, AkSkAuth)


def test_official_sdk_and_client_agree(emulator_factory, make_client):
    """Jobs created through huaweicloudsdkdli are listed identically by dli-magic (and vice versa)."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkdli.v1 import (
        CreateFlinkSqlJobRequest,
        CreateFlinkSqlJobRequestBody,
        DliClient as SdkClient,
        ListFlinkJobsRequest,
    )

    emu = emulator_factory(ak=SENTINEL_AK, sk=SENTINEL_SK)
    sdk = (
        SdkClient.new_builder()
        .with_credentials(BasicCredentials(SENTINEL_AK, SENTINEL_SK, emu.project_id))
        .with_endpoints([emu.url])
        .build()
    )
    created = []
    for name in ("sdk_job_a", "sdk job b", "sdk_job_c"):
        body = CreateFlinkSqlJobRequestBody(name=name, sql_body="INSERT INTO s SELECT 1", queue_name="q1")
        created.append(int(sdk.create_flink_sql_job(CreateFlinkSqlJobRequest(body=body)).job.job_id))
    client = make_client(emu, auth_token=None, ak=SENTINEL_AK, sk=SENTINEL_SK)
    created.append(client.create_sql_job("client_job", "INSERT INTO s SELECT 2", queue_name="q1"))

    sdk_list = sdk.list_flink_jobs(ListFlinkJobsRequest(limit=100, order="asc")).job_list
    ours = client.list_jobs(order="asc")
    assert [j.job_id for j in ours] == [int(j.job_id) for j in sdk_list.jobs] == created
    assert [(j.name, j.status, j.queue_name) for j in ours] == [
        (j.name, j.status, j.queue_name) for j in sdk_list.jobs
    ]
    assert sdk_list.total_count == len(ours)
    # filtered by a name with a space: the SDK's signed query and ours are both accepted
    assert [j.job_id for j in client.list_jobs(name="sdk job b")] == [
        int(j.job_id) for j in sdk.list_flink_jobs(ListFlinkJobsRequest(name="sdk job b")).job_list.jobs
    ]
