"""Helpers for the client tests: a client wired to an emulator, a crafted loopback server, a profile
file. The token-cache reset, client settings and secret check are in tests/conftest.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture
def make_client(client_settings):
    """``make_client(emu, **settings)``: a DliClient on the emulator with the sentinel token, fast backoff,
    a 10 s retry deadline and the default poll interval (an override of None leaves that setting out;
    ``endpoint=`` points it elsewhere, e.g. at a closed port). Closed when the test ends."""
    from dli_magic.client import DliClient

    clients = []

    def build(emu, **overrides):
        client = DliClient(**client_settings(emu, **{"retry_deadline": 10.0, "poll_interval": None, **overrides}))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


class Crafted:
    """A loopback server answering each request with the next canned (status, headers, body), for
    answers the emulator never gives; it records what arrived."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict, bytes]] = []
        self.seen: list[tuple[str, str, bytes]] = []
        self.headers: list[dict[str, str]] = []  # the request headers, per request
        self.clients: list = []
        crafted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                crafted.seen.append((self.command, self.path, self.rfile.read(length)))
                crafted.headers.append(dict(self.headers.items()))
                status, headers, body = crafted.answers.pop(0)
                self.send_response(status)
                for name, value in {"X-Request-Id": f"rid-{len(crafted.seen)}", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def add(self, status: int, body: object, headers: dict | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append((status, {"Content-Type": "application/json", **(headers or {})}, raw))

    def not_found(self, job_id: int) -> None:
        self.add(400, {"error_code": "DLI.16001", "error_msg": f"The job {job_id} does not exist."})

    def client(self, **settings):
        """A DliClient on this server (a made-up project and token, fast backoff), closed with it."""
        from dli_magic.client import DliClient

        self.clients.append(DliClient(**{"endpoint": self.url, "project_id": CRAFTED_PROJECT,
                                          "auth_token": "crafted-token-value", "backoff_base": 0.01, **settings}))
        return self.clients[-1]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.server.shutdown()
        self.server.server_close()


CRAFTED_PROJECT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def crafted():
    server = Crafted()
    yield server
    server.close()


@pytest.fixture
def write_profile(tmp_path):
    """``write_profile(text)``: a profile file (TOML) in the test's folder with `text`; its path."""

    def write(text: str):
        path = tmp_path / "config.toml"
        path.write_text(text)
        return path

    return write
