"""The session's client is kept between calls (keep-alive, known names) while the settings stay the
same, and rebuilt when they change. Proxy variables need no new client: requests reads them on every
call, so `%env HTTP_PROXY=...` takes effect on the next line."""

from __future__ import annotations

import os
from pathlib import Path

from dli_magic.errors import TransportError


def test_a_proxy_variable_takes_effect_on_the_kept_client(shell, magic, dli_env, monkeypatch, closed_port):
    monkeypatch.setenv("DLI_MAX_RETRIES", "0")
    first = magic.client()
    assert magic.client() is first
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")  # settings unchanged
    result = shell.run_cell("%dli_run 138")
    assert isinstance(result.error_in_exec, TransportError)  # the call went to the (dead) proxy
    assert not dli_env.request_log()
    monkeypatch.delenv("HTTP_PROXY")
    result = shell.run_cell("df = %dli_run 138")
    assert result.success and shell.user_ns["df"]["is_success"].tolist() == [True]
    assert magic.client() is first


def test_the_client_is_rebuilt_when_a_setting_changes(shell, magic, dli_env, monkeypatch):
    first = magic.client()
    monkeypatch.setenv("DLI_READ_TIMEOUT", "30")
    second = magic.client()
    assert second is not first and second.settings.read_timeout == 30.0
    assert magic.client() is second
    shell.run_cell("%config DliMagic.read_timeout = 20")  # a %config change, resolved on the next call
    third = magic.client()
    assert third is not second and third.settings.read_timeout == 20.0
    profile = Path(os.environ["XDG_CONFIG_HOME"]) / "dli-magic" / "config.toml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text("[default]\nconnect_timeout = 3\n")  # an edit of the profile file, too
    fourth = magic.client()
    assert fourth is not third and fourth.settings.connect_timeout == 3.0
