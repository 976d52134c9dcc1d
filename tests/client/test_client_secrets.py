"""The sentinel secrets never show: reprs, errors (str and notebook rendering), DEBUG logs, dry runs."""

from __future__ import annotations

import logging

import pytest

from dli_magic import errors
from dli_magic.auth import AkSkAuth, PasswordAuth, TokenAuth
from dli_magic.client import DliClient
from dli_magic.config import resolve_settings
from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    TEST_DOMAIN,
    TEST_USER,
)
from dli_magic.errors import DLIError

MODES = {
    "token": dict(auth_token=SENTINEL_TOKEN),
    "aksk": dict(ak=SENTINEL_AK, sk=SENTINEL_SK),
    "password": dict(username=TEST_USER, password=SENTINEL_PASSWORD, domain=TEST_DOMAIN, region="eu-de"),
}


def error_texts(err: DLIError) -> str:
    rendered = "\n".join(err._render_traceback_())
    errors.SHOW_FULL_TRACEBACK = True
    try:
        full = "\n".join(err._render_traceback_())
    finally:
        errors.SHOW_FULL_TRACEBACK = False
    return "\n".join([str(err), repr(err), rendered, full, str(err.error_msg)])


def client_for(emu, mode, **kw):
    return DliClient(endpoint=emu.url, backoff_base=0.01, max_retries=1, **{**MODES[mode], **kw})


@pytest.mark.parametrize("mode", list(MODES))
def test_reprs_hide_secrets(emulator, mode, assert_no_secrets):
    client = client_for(emulator, mode)
    for obj in (client, client.settings, client.auth):
        assert_no_secrets(repr(obj), str(obj))
    assert_no_secrets(str(client.settings.describe()), str(client.settings.redacted()))
    if mode == "password":
        token = client.auth.current().token
        assert_no_secrets(repr(client.auth) + repr(client), extra=(token,))


@pytest.mark.parametrize("mode", list(MODES))
def test_describe_request_hides_secrets(emulator, mode, assert_no_secrets):
    client = client_for(emulator, mode, project_id=emulator.project_id)
    described = client.describe_request("run", [131], resume_savepoint=True)
    assert_no_secrets(repr(described))
    auth_headers = {"token": "X-Auth-Token", "aksk": "Authorization", "password": "X-Auth-Token"}
    assert "***" in described["headers"][auth_headers[mode]]
    assert emulator.request_log() == []


@pytest.mark.parametrize("mode", list(MODES))
def test_debug_logs_and_errors_hide_secrets(emulator, mode, caplog, assert_no_secrets):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    client = client_for(emulator, mode)
    own = {"token": SENTINEL_TOKEN, "aksk": SENTINEL_SK, "password": SENTINEL_PASSWORD}[mode]  # the secret in use
    client.run_jobs([138, 204])
    client.list_jobs(status="job_running")
    job_id = client.create_sql_job("secret_probe", f"-- {own} must not be logged")
    issued = (client.auth.current().token,) if mode == "password" else ()
    raised: list[DLIError] = []
    # a server error message that echoes the secret in use back
    emulator.set_faults({"error": {"status": 400, "count": 1, "error_code": "DLI.0001",
                                   "error_msg": f"bad parameter {own}"}})
    with pytest.raises(DLIError) as info:
        client.get_job(job_id)
    raised.append(info.value)
    emulator.set_faults({"throttle": {"count": 5, "retry_after": 0}})
    with pytest.raises(DLIError) as info:
        client.stop_jobs([130])
    raised.append(info.value)
    emulator.clear_faults()
    assert caplog.records, "the client logs its requests at DEBUG"
    assert any("attempt" in r.getMessage() for r in caplog.records if r.name == "dli_magic")
    assert_no_secrets(*(record.getMessage() for record in caplog.records), caplog.text, extra=issued)
    assert_no_secrets(*(error_texts(err) for err in raised), extra=issued)
    assert "bad parameter ***" in raised[0].message


@pytest.mark.parametrize("mode", list(MODES))
def test_auth_failures_hide_secrets(emulator_factory, mode, assert_no_secrets):
    emu = emulator_factory(token="other-token-xyz", ak="OTHERAK", sk="other-sk-123",
                           users=[(TEST_USER, "other-password", TEST_DOMAIN)])
    client = client_for(emu, mode, project_id=emu.project_id if mode != "password" else None)
    with pytest.raises(errors.AuthError) as info:
        client.run_jobs([1])
    assert_no_secrets(error_texts(info.value))


def test_config_and_transport_errors_hide_secrets(assert_no_secrets, closed_port):
    with pytest.raises(errors.ConfigError) as info:
        # the SK pasted into a numeric setting by mistake is not echoed back
        resolve_settings(explicit={"auth_token": SENTINEL_TOKEN, "max_workers": SENTINEL_SK},
                         environ={"DLI_SK": SENTINEL_SK}, profile_path="/nonexistent.toml")
    assert_no_secrets(error_texts(info.value))
    with pytest.raises(errors.ConfigError) as info:
        resolve_settings(explicit={"sk": SENTINEL_SK, "endpoint": "https://x", "chunk_size": -1}, environ={})
    assert_no_secrets(error_texts(info.value))
    client = DliClient(endpoint=f"http://127.0.0.1:{closed_port}", project_id="p", auth_token=SENTINEL_TOKEN,
                       max_retries=0)
    with pytest.raises(errors.TransportError) as info:
        client.run_jobs([1])
    assert_no_secrets(error_texts(info.value))


def test_batch_frame_has_no_secrets(emulator, assert_no_secrets):
    result = client_for(emulator, "token").run_jobs([138])
    frame = result.to_frame()
    assert frame["job_id"].tolist() == [138] and frame.attrs["endpoint"] == emulator.url  # a real row to check
    assert_no_secrets(frame.to_csv(), repr(frame.attrs))


def test_auth_reprs_show_only_the_scheme():
    assert repr(AkSkAuth("AKVISIBLE", "sk-hidden-value")) == "AkSkAuth(ak='AKVISIBLE', sk=***)"
    assert "tok-hidden-value" not in repr(TokenAuth("tok-hidden-value"))
    auth = PasswordAuth("https://iam.example", "u", "pw-hidden-value", "d", project_id=None,
                        project_name="eu-de", post=lambda url, body: None)
    assert "pw-hidden-value" not in repr(auth) and "'u'" in repr(auth)
