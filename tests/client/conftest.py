"""Helpers for the client tests: a client wired to an emulator, and a clean IAM token cache."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dli_magic.auth import clear_token_cache


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    clear_token_cache()  # tokens are cached per process; each test starts without one
    yield
    clear_token_cache()


@pytest.fixture
def make_client():
    """``make_client(emu, **settings)``: a DliClient on the emulator with the sentinel token, fast backoff."""
    from dli_magic.client import DliClient
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    clients = []

    def build(emu, **overrides):
        settings = {"endpoint": emu.url, "project_id": emu.project_id, "auth_token": SENTINEL_TOKEN,
                    "backoff_base": 0.01, "retry_deadline": 10.0}
        settings.update(overrides)
        client = DliClient(**{k: v for k, v in settings.items() if v is not None})
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


@pytest.fixture
def crafted():
    server = Crafted()
    yield server
    server.server.shutdown()
    server.server.server_close()
