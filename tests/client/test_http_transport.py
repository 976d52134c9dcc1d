"""The client's requests.Session against real loopback servers: a forwarding proxy (with and without
credentials), TLS with a self-signed certificate (refused, trusted through REQUESTS_CA_BUNDLE, or
not verified), gzip answers; proxy and CA variables read per call; adapters and `responses`."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from dli_magic.errors import TransportError
from dli_magic.errors import classify_transport_failure as classify

# The variables requests reads for proxies and CA bundles.
PROXY_AND_CA_VARS = tuple(
    name for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY") for name in (base, base.lower())
) + ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

PROXY_PASSWORD = "PROXY-SECRET-71c4"


class ForwardingProxy:
    """A plain-HTTP forward proxy: takes absolute-URI requests, forwards them, relays the answer."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []  # (method, absolute URI, Proxy-Authorization)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.seen.append((self.command, self.path, self.headers.get("Proxy-Authorization")))
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "proxy-connection")}
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream.request(self.command, path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy():
    server = ForwardingProxy()
    yield server
    server.close()


def _no_proxy_env(monkeypatch) -> None:
    for name in PROXY_AND_CA_VARS:
        monkeypatch.delenv(name, raising=False)


def test_calls_go_through_the_proxy_the_environment_names(emulator, make_client, proxy, monkeypatch):
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    client = make_client(emulator)
    assert [o.is_success for o in client.run_jobs([138, 204]).outcomes] == [True, True]
    assert client.get_job(138).job_id == 138
    assert [(m, uri.split("/v1.0/")[1]) for m, uri, _ in proxy.seen] == [
        ("POST", f"{emulator.project_id}/streaming/jobs/run"),
        ("GET", f"{emulator.project_id}/streaming/jobs/138"),
    ]
    assert all(uri.startswith(emulator.url) for _, uri, _ in proxy.seen)  # absolute URIs: a real proxy hop
    assert len(emulator.request_log()) == 2


def test_proxy_credentials_go_in_a_header_and_never_into_errors(emulator, make_client, proxy, monkeypatch):
    _no_proxy_env(monkeypatch)
    host = urlsplit(proxy.url).netloc
    monkeypatch.setenv("http_proxy", f"http://alice:{PROXY_PASSWORD}@{host}")
    client = make_client(emulator)
    assert client.run_jobs([138]).outcomes[0].is_success is True
    import base64

    assert proxy.seen[0][2] == "Basic " + base64.b64encode(f"alice:{PROXY_PASSWORD}".encode()).decode()
    proxy.close()  # the same proxy, now dead: the error must not show its password
    with pytest.raises(TransportError) as info:
        make_client(emulator, max_retries=0).run_jobs([138])
    shown = str(info.value) + str(info.value.hint) + "".join(info.value._render_traceback_())
    assert "nothing was sent" in shown and PROXY_PASSWORD not in shown


def test_no_proxy_bypasses_the_proxy(emulator, make_client, proxy, monkeypatch):
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    assert make_client(emulator).run_jobs([138]).outcomes[0].is_success is True
    assert proxy.seen == []


# --- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl), as (cert.pem, key.pem)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to serve TLS with")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate):
    """An HTTPS server on 127.0.0.1 answering every run call with one accepted job."""
    cert, key = certificate
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.path)
            body = json.dumps([{"is_success": "true", "message": "ok"}]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    server.url = f"https://127.0.0.1:{server.server_address[1]}"
    server.seen = seen
    yield server
    server.shutdown()
    server.server_close()


def _tls_client(url, **settings):
    from dli_magic.client import DliClient

    return DliClient(**{"endpoint": url, "project_id": "p1", "auth_token": "tls-test-token", "max_retries": 0,
                        **settings})


def test_an_untrusted_certificate_is_refused(tls_server, monkeypatch):
    _no_proxy_env(monkeypatch)
    with _tls_client(tls_server.url) as client, pytest.raises(TransportError) as info:
        client.run_jobs([1])
    assert info.value.kind == "tls"
    assert "REQUESTS_CA_BUNDLE" in info.value.hint
    assert tls_server.seen == []  # the handshake failed: no request was read


def test_a_ca_bundle_from_the_environment_is_trusted(tls_server, certificate, monkeypatch):
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    with _tls_client(tls_server.url) as client:
        assert client.run_jobs([1]).outcomes[0].is_success is True
    assert tls_server.seen == ["/v1.0/p1/streaming/jobs/run"]


def test_verification_can_be_turned_off(tls_server, monkeypatch):
    _no_proxy_env(monkeypatch)
    with _tls_client(tls_server.url, verify_tls=False) as client, pytest.warns(Warning, match="[Uu]nverified|[Ii]nsecure"):
        assert client.run_jobs([1]).outcomes[0].is_success is True


# --- answers and environment ---------------------------------------------------------------------


def test_a_gzip_answer_is_decoded(crafted, monkeypatch):
    from dli_magic.client import DliClient

    _no_proxy_env(monkeypatch)
    crafted.add(200, gzip.compress(json.dumps([{"is_success": "true", "message": "zipped"}]).encode()),
                {"Content-Encoding": "gzip"})
    with DliClient(endpoint=crafted.url, project_id="p1", auth_token="t-123456") as client:
        outcome = client.run_jobs([5]).outcomes[0]
    assert (outcome.is_success, outcome.message) == (True, "zipped")


def test_a_ca_directory_from_the_environment_is_trusted(tls_server, certificate, tmp_path, monkeypatch):
    """REQUESTS_CA_BUNDLE may name a hashed CA directory (such as /etc/ssl/certs), as requests allows."""
    _no_proxy_env(monkeypatch)
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(certificate[0])],
                            check=True, capture_output=True, text=True).stdout.strip()
    folder = tmp_path / "cadir"
    folder.mkdir()
    shutil.copy(certificate[0], folder / f"{digest}.0")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(folder))
    with _tls_client(tls_server.url) as client:
        assert client.run_jobs([1]).outcomes[0].is_success is True


def test_https_to_a_plain_http_port_is_a_refused_handshake(emulator, monkeypatch):
    _no_proxy_env(monkeypatch)
    with _tls_client(emulator.url.replace("http://", "https://")) as client, pytest.raises(TransportError) as info:
        client.run_jobs([138])
    err = info.value
    assert err.kind == "tls" and not err.may_have_taken_effect and "nothing was sent" in str(err)
    assert emulator.request_log() == []


def test_tls_errors_after_the_handshake_may_have_taken_effect():
    """A corrupt record mid-answer is a broken connection (the POST may have been processed), not a
    refused handshake; a real handshake refusal (verification, protocol) stays "tls"."""
    import ssl

    import urllib3

    mid_answer = urllib3.exceptions.SSLError(ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad mac"))
    assert classify(mid_answer) == "dropped"
    assert classify(urllib3.exceptions.SSLError(ssl.SSLEOFError(8, "EOF occurred"))) == "dropped"
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert classify(urllib3.exceptions.SSLError(verify)) == "tls"


def test_an_unreadable_answer_to_a_run_may_have_taken_effect(crafted, monkeypatch):
    from dli_magic.client import DliClient

    _no_proxy_env(monkeypatch)
    crafted.add(200, b"this is not gzip", {"Content-Encoding": "gzip"})
    with DliClient(endpoint=crafted.url, project_id="p1", auth_token="t-123456", max_retries=0) as client, \
            pytest.raises(TransportError) as info:
        client.run_jobs([5])
    err = info.value
    assert err.kind == "other" and err.may_have_taken_effect and "could not be read" in str(err)
    assert len(crafted.seen) == 1  # the service got it: never sent twice


def test_closing_a_client_during_a_retry_stops_it(crafted, monkeypatch):
    """A panel whose credentials were cleared must not keep sending with them while backing off."""
    from dli_magic.client import DliClient
    from dli_magic.errors import ConfigError

    _no_proxy_env(monkeypatch)
    for _ in range(4):
        crafted.add(429, {"error_code": "APIGW.0308", "error_msg": "throttled"}, {"Retry-After": "1"})
    client = DliClient(endpoint=crafted.url, project_id="p1", auth_token="t-123456", max_retries=3)
    closer = threading.Timer(0.3, client.close)
    closer.start()
    try:
        with pytest.raises(ConfigError, match="closed"):
            client.run_jobs([5])
    finally:
        closer.cancel()
    assert len(crafted.seen) == 1


@pytest.mark.parametrize("token", ["line\nbreak-token-4f2a", "токен-token-4f2a"])
def test_a_token_no_header_can_carry_is_refused_without_showing_it(emulator, make_client, token):
    from dli_magic.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        make_client(emulator, auth_token=token).run_jobs([138])
    shown = str(info.value) + str(info.value.hint) + "".join(info.value._render_traceback_())
    assert "token-4f2a" not in shown and "Nothing was sent" in shown
    assert emulator.request_log() == []


def test_a_malformed_proxy_url_is_a_config_error_without_its_password(emulator, make_client, monkeypatch):
    from dli_magic.errors import ConfigError

    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://alice:{PROXY_PASSWORD}@127.0.0.1:notaport")
    with pytest.raises(ConfigError) as info:
        make_client(emulator, max_retries=3).run_jobs([138])
    shown = str(info.value) + "".join(info.value._render_traceback_())
    assert "HTTP_PROXY" in shown and "Nothing was sent" in shown and PROXY_PASSWORD not in shown
    assert info.value.attempts is None  # a configuration error: not retried
    assert emulator.request_log() == []


def test_a_missing_ca_bundle_is_a_config_error_and_nothing_is_sent(tls_server, monkeypatch, tmp_path):
    from dli_magic.errors import ConfigError

    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with _tls_client(tls_server.url, max_retries=3) as client, pytest.raises(ConfigError) as info:
        client.run_jobs([1])
    assert "REQUESTS_CA_BUNDLE" in str(info.value) and "may have taken effect" not in str(info.value)
    assert not info.value.may_have_taken_effect
    assert tls_server.seen == []


# --- the session is requests': proxies per call, adapters, responses ----------------------------


def test_a_proxy_set_after_the_client_was_made_is_used_by_its_next_call(emulator, make_client, proxy,
                                                                        monkeypatch):
    _no_proxy_env(monkeypatch)
    client = make_client(emulator)
    assert client.run_jobs([138]).outcomes[0].is_success is True
    assert proxy.seen == []
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert client.run_jobs([204]).outcomes[0].is_success is True
    assert [m for m, _, _ in proxy.seen] == ["POST"]  # read per call, as requests does


def test_a_mounted_adapter_carries_the_calls(emulator, make_client, monkeypatch):
    from requests.adapters import HTTPAdapter

    _no_proxy_env(monkeypatch)

    class CountingAdapter(HTTPAdapter):
        def __init__(self):
            super().__init__(max_retries=0)
            self.sent = []

        def send(self, request, **kwargs):
            self.sent.append((request.method, request.url))
            return super().send(request, **kwargs)

    client = make_client(emulator)
    adapter = CountingAdapter()
    client.session.mount(emulator.url, adapter)
    client.run_jobs([138])
    client.get_job(138)
    assert [m for m, _ in adapter.sent] == ["POST", "GET"]
    assert len(emulator.request_log()) == 2


def test_responses_intercepts_the_client_in_a_users_test():
    """What README promises: a user's own test can stub DLI with `responses`, no emulator."""
    import responses

    from dli_magic.client import DliClient

    url = "https://dli.example.test/v1.0/p1/streaming/jobs/run"
    with responses.RequestsMock() as stub:
        stub.post(url, json=[{"is_success": "true", "message": "stubbed"}], headers={"X-Request-Id": "r-9"})
        with DliClient(endpoint="https://dli.example.test", project_id="p1", auth_token="t-123456") as client:
            outcome = client.run_jobs([7], resume_savepoint=True).outcomes[0]
        sent = stub.calls[0].request
    assert (outcome.is_success, outcome.message, outcome.request_id) == (True, "stubbed", "r-9")
    assert json.loads(sent.body) == {"job_ids": [7], "resume_savepoint": True}
    assert sent.headers["X-Auth-Token"] == "t-123456" and sent.headers["X-Project-Id"] == "p1"


def test_netrc_is_never_consulted(crafted, tmp_path, monkeypatch):
    """A stray ~/.netrc credential must ride along on no call: not the IAM login (which carries no
    credentials of ours), not a DLI call."""
    from dli_magic.client import DliClient

    _no_proxy_env(monkeypatch)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password NETRC-SECRET-55\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    token_body = {"token": {"expires_at": "2099-01-01T00:00:00Z", "issued_at": "2098-12-31T00:00:00Z",
                            "project": {"id": "p1", "name": "eu-de"}}}
    crafted.add(201, token_body, {"X-Subject-Token": "iam-token-from-login-77"})
    crafted.add(200, {"is_success": "true", "message": "", "job_detail": {"job_id": 5, "name": "five"}})
    with DliClient(endpoint=crafted.url, username="alice", password="alice-password-1", domain="d",
                   region="eu-de") as client:
        assert client.get_job(5).name == "five"
    assert [path.split("?")[0] for _, path, _ in crafted.seen] == ["/v3/auth/tokens", "/v1.0/p1/streaming/jobs/5"]
    assert all("Authorization" not in headers for headers in crafted.headers)
    assert crafted.headers[1]["X-Auth-Token"] == "iam-token-from-login-77"
