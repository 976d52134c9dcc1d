"""Each kind of transport failure: how often it is retried, what it says, and its own hint."""

from __future__ import annotations

import socket
import time

import pytest

from dli_magic.errors import TransportError


def test_unresolvable_host_is_not_retried_and_says_not_found(emulator, make_client):
    # .invalid never resolves (RFC 2606); urllib3 reports a NameResolutionError (socket.gaierror)
    client = make_client(emulator, endpoint="https://dli.nowhere.invalid", max_retries=5, backoff_base=0.5)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        client.get_job(131)
    err = info.value
    assert err.kind == "dns" and err.attempts == 1
    assert time.monotonic() - started < 2  # no backoff rounds
    assert err.message.startswith("host dli.nowhere.invalid not found: check the endpoint (from argument)")
    assert "Could not connect" not in err.message
    assert "%dli_jobs" not in err.hint and "took effect" not in err.hint
    assert not err.may_have_taken_effect


def test_unresolvable_host_names_the_setting_source(emulator, make_client, monkeypatch):
    from dli_magic.client import DliClient

    monkeypatch.setenv("DLI_ENDPOINT", "https://dli.nowhere.invalid")
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    monkeypatch.setenv("DLI_AUTH_TOKEN", "a-long-enough-token")
    with DliClient() as client, pytest.raises(TransportError) as info:
        client.run_jobs([131])
    assert "check the endpoint (from env DLI_ENDPOINT)" in info.value.message
    assert info.value.job_ids == [131]


def test_refused_connection_on_a_read_has_a_nothing_sent_hint(emulator, make_client, closed_port):
    client = make_client(emulator, endpoint=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(TransportError) as info:
        client.list_jobs()
    err = info.value
    assert err.kind == "refused" and err.attempts == 2
    assert "Nothing was sent" in err.hint and "endpoint" in err.hint
    assert "took effect" not in err.hint and "%dli_jobs" not in err.hint


def test_dropped_list_request_hint_says_retry(emulator, make_client):
    emulator.set_faults({"drop": {"count": 5}})
    with pytest.raises(TransportError) as info:
        make_client(emulator, max_retries=0).list_jobs()
    err = info.value
    assert err.kind == "dropped" and not err.may_have_taken_effect
    assert "Run it again" in err.hint and "%dli_jobs" not in err.hint


def test_read_timeout_on_list_hint_says_retry(emulator, make_client):
    emulator.set_faults({"latency_ms": {"ms": 800}})
    with pytest.raises(TransportError) as info:
        make_client(emulator, read_timeout=0.2, max_retries=0).list_jobs()
    err = info.value
    assert err.kind == "timeout" and "Run it again" in err.hint and "read_timeout" in err.hint
    assert "%dli_jobs" not in err.hint
    time.sleep(0.7)  # let the slow answer finish


def test_dropped_run_request_hint_says_check_jobs(emulator, make_client):
    emulator.set_faults({"drop": {"count": 1, "path": "jobs/run"}})
    with pytest.raises(TransportError) as info:
        make_client(emulator).run_jobs([204])
    err = info.value
    assert err.may_have_taken_effect and "%dli_jobs" in err.hint and "Nothing was sent" not in err.hint


def test_classify_dns_before_connect():
    import urllib3

    from dli_magic.errors import classify_transport_failure as classify

    inner = urllib3.exceptions.NameResolutionError("h", None, socket.gaierror(-2, "Name or service not known"))
    assert classify(inner) == "dns"  # a NameResolutionError is a NewConnectionError too
    assert classify(urllib3.exceptions.MaxRetryError(None, "/", inner)) == "dns"
    refused = urllib3.exceptions.NewConnectionError(None, "refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert classify(refused) == "refused"
    assert classify(urllib3.exceptions.ProxyError("Unable to connect to proxy", refused)) == "refused"
    assert classify(urllib3.exceptions.NewConnectionError(None, "unreachable")) == "connect"
    assert classify(urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")) == "timeout"
    aborted = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    assert classify(aborted) == "dropped"
    import ssl

    assert classify(urllib3.exceptions.SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed"))) == "tls"
    assert classify(urllib3.exceptions.DecodeError("bad gzip")) == "other"
