"""The session's client is kept between calls (keep-alive, known names) and rebuilt when what it
read at creation changed: settings, or the proxy variables (`%env HTTP_PROXY=...`)."""

from __future__ import annotations

import socket

from dli_magic.errors import TransportError


def test_the_client_is_reused_until_the_proxy_environment_changes(shell, magic, dli_env, monkeypatch):
    monkeypatch.setenv("DLI_MAX_RETRIES", "0")
    first = magic.client()
    assert magic.client() is first
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)  # the only change: the settings stay the same
    result = shell.run_cell("%dli_run 138")
    assert isinstance(result.error_in_exec, TransportError)  # the new client went through the proxy
    assert not dli_env.request_log()
    monkeypatch.delenv("HTTP_PROXY")
    result = shell.run_cell("df = %dli_run 138")
    assert result.success and shell.user_ns["df"]["is_success"].tolist() == [True]
