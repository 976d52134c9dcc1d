"""Proxy variables are read once per client, and still honoured: HTTP_PROXY routes the calls,
NO_PROXY exempts a host, and a client made before a change keeps what it read."""

from __future__ import annotations

import socket

import pytest

from dli_magic.errors import TransportError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_http_proxy_from_the_environment_is_used(emulator, make_client, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client(emulator, max_retries=0)
    with pytest.raises(TransportError, match="nothing was sent"):
        client.run_jobs([138])
    assert not emulator.request_log()  # the call went to the (dead) proxy, not straight to DLI


def test_no_proxy_exempts_the_endpoint(emulator, make_client, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = make_client(emulator)
    assert client.run_jobs([138]).outcomes[0].is_success is True


def test_the_environment_is_read_once_per_client(emulator, make_client, monkeypatch):
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    client = make_client(emulator)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert client.run_jobs([138]).outcomes[0].is_success is True  # read at creation, not per call
