"""%dli_config (sources, redaction, session settings), %config DliMagic.*, %dli_login."""

from __future__ import annotations

from unittest import mock

import pytest
from IPython.core.error import UsageError

from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    TEST_DOMAIN,
    TEST_USER,
)
from dli_magic.errors import AuthError, ConfigError


def _table(frame) -> dict[str, tuple[str, str]]:
    return {row.setting: (row.value, row.source) for row in frame.itertuples()}


def test_config_shows_values_sources_and_redacts_secrets(shell, dli_env, monkeypatch, capsys):
    monkeypatch.setenv("DLI_AK", SENTINEL_AK)
    monkeypatch.setenv("DLI_SK", SENTINEL_SK)
    shell.run_cell("%config DliMagic.wait_timeout = 900")
    frame = shell.run_line_magic("dli_config", "")
    table = _table(frame)
    assert table["endpoint"] == (dli_env.url, "env DLI_ENDPOINT")
    assert table["auth_token"] == ("***", "env DLI_AUTH_TOKEN")
    assert table["sk"] == ("***", "env DLI_SK")
    assert table["ak"] == (SENTINEL_AK, "env DLI_AK")  # the access key id is not a secret
    assert table["wait_timeout"] == ("900.0", "%config")
    assert table["read_timeout"] == ("60.0", "default")
    assert table["iam_endpoint"][1] == "derived from endpoint"
    shell.run_cell("%dli_config")
    shown = capsys.readouterr().out + frame.to_string() + repr(frame)
    assert SENTINEL_TOKEN not in shown and SENTINEL_SK not in shown


@pytest.mark.parametrize("variable, value", [("DLI_POLL_INTERVAL", "5s"), ("DLI_WAIT_TIMEOUT", "-1")])
def test_a_bad_setting_that_keeps_config_from_showing_says_where_to_fix_it(shell, dli_env, monkeypatch,
                                                                            variable, value):
    """Its usual hint ends "`%dli_config` shows every setting": not from %dli_config itself."""
    monkeypatch.setenv(variable, value)
    result = shell.run_cell("%dli_config")
    error = result.error_in_exec
    assert isinstance(error, ConfigError) and f"env {variable}" in str(error)
    assert "shows every setting" not in error.hint
    assert "where the message says it comes from" in error.hint
    assert "What to do: This setting keeps %dli_config from showing the others" in "\n".join(
        error._render_traceback_())


def test_config_assignments_set_session_values(shell, dli_env):
    frame = shell.run_line_magic("dli_config", "wait_timeout=42 poll_interval=0.5 history=false")
    table = _table(frame)
    assert table["wait_timeout"] == ("42.0", "%config")
    assert table["poll_interval"] == ("0.5", "%config")
    assert table["history"] == ("False", "%config")
    frame = shell.run_line_magic("dli_config", "wait_timeout=none")
    assert _table(frame)["wait_timeout"] == ("600.0", "default")


@pytest.mark.parametrize("line", ["auth_token=abc", "sk=abc", "password=abc", "--token abc", "--password"])
def test_secrets_are_refused_on_the_line(shell, dli_env, line, capsys):
    result = shell.run_cell(f"%dli_config {line}")
    assert isinstance(result.error_in_exec, UsageError)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "%dli_login" in text and "DLI_AUTH_TOKEN" in text
    assert "abc" not in text


@pytest.mark.parametrize(
    "line, error, fragment",
    [
        ("wait_timout=5", ConfigError, "Did you mean 'wait_timeout'"),
        ("wait_timeout=abc", ConfigError, "not a valid value"),
        ("wait_timeout=-1", ConfigError, "wait_timeout"),
        ("endpoint=ftp://x", ConfigError, "must be a URL"),
        ("wait_timeout", UsageError, "NAME=VALUE"),
    ],
)
def test_bad_assignments_are_refused_and_change_nothing(shell, dli_env, magic, line, error, fragment):
    result = shell.run_cell(f"%dli_config {line}")
    assert isinstance(result.error_in_exec, error)
    assert fragment in str(result.error_in_exec)
    assert magic.wait_timeout is None and magic.endpoint is None


def test_percent_config_traits_reach_the_settings(shell, emulator):
    shell.run_cell(f"%config DliMagic.endpoint = '{emulator.url}'")
    shell.run_cell("%config DliMagic.max_retries = 1")
    frame = shell.run_line_magic("dli_config", "")
    assert _table(frame)["endpoint"] == (emulator.url, "%config")
    assert _table(frame)["max_retries"] == ("1", "%config")


def test_config_set_before_loading_is_picked_up(emulator):
    from IPython.core.interactiveshell import InteractiveShell

    from dli_magic.magics import _LOADED

    ip = InteractiveShell.instance()
    ip.run_line_magic("unload_ext", "dli_magic")
    ip.config.pop("DliMagic", None)
    try:
        ip.config.DliMagic.read_timeout = 12.0
        ip.run_line_magic("load_ext", "dli_magic")
        assert _LOADED[id(ip)].settings().read_timeout == 12.0
    finally:
        ip.run_line_magic("unload_ext", "dli_magic")
        ip.config.pop("DliMagic", None)


def test_login_with_a_token_keeps_it_in_memory(shell, emulator, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    prompts = []

    def keyboard(prompt=""):
        prompts.append(prompt)
        return SENTINEL_TOKEN

    monkeypatch.setattr("getpass.getpass", keyboard)
    shell.run_line_magic("dli_login", "")
    assert prompts and "token" in prompts[0].lower()
    frame = shell.run_line_magic("dli_config", "")
    assert _table(frame)["auth_token"] == ("***", "%dli_login")
    df = shell.run_line_magic("dli_run", "138")
    assert df["is_success"].all()
    out = capsys.readouterr()
    assert SENTINEL_TOKEN not in out.out + out.err
    # Nothing on disk: not in the history file, not in the IPython input history.
    shell.run_line_magic("dli_login", "--clear")
    assert _table(shell.run_line_magic("dli_config", ""))["auth_token"] == ("", "default")
    for path in tmp_path.parent.rglob("*"):
        if path.is_file():
            assert SENTINEL_TOKEN.encode() not in path.read_bytes(), path


def test_login_with_a_password(shell, emulator, monkeypatch):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_REGION", "eu-de")
    with mock.patch("getpass.getpass", return_value=SENTINEL_PASSWORD):
        shell.run_line_magic("dli_login", f"--password --username {TEST_USER} --domain {TEST_DOMAIN}")
    table = _table(shell.run_line_magic("dli_config", ""))
    assert table["password"] == ("***", "%dli_login")
    assert table["username"] == (TEST_USER, "%config")
    df = shell.run_line_magic("dli_run", "204")
    assert df["is_success"].all()
    assert any(r["path"] == "/v3/auth/tokens" for r in emulator.request_log())


def test_wrong_password_is_an_auth_error_without_the_password(shell, emulator, monkeypatch, capsys):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    with mock.patch("getpass.getpass", return_value="wrong-password-123"):
        shell.run_line_magic("dli_login", f"--username {TEST_USER} --domain {TEST_DOMAIN}")
    result = shell.run_cell("%dli_run 204")
    assert isinstance(result.error_in_exec, AuthError)
    assert "wrong-password-123" not in capsys.readouterr().out


def test_login_refuses_empty_input_and_needs_a_user_for_passwords(shell, dli_env, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "  ")
    result = shell.run_cell("%dli_login")
    assert isinstance(result.error_in_exec, UsageError)
    result = shell.run_cell("%dli_login --password")
    assert "--username" in str(result.error_in_exec)


def test_a_one_letter_token_does_not_garble_the_profile_error(shell, dli_env, monkeypatch, capsys):
    monkeypatch.setenv("DLI_AUTH_TOKEN", "t")
    result = shell.run_cell("%dli_run 131 --profile prod")
    error = result.error_in_exec
    assert isinstance(error, ConfigError)
    assert "Profile 'prod' was requested but the profile file" in error.message
    shown = capsys.readouterr().out
    assert "reques***ed" not in shown and "***he" not in shown
    assert "Set or fix it" not in shown and "--profile" in shown  # the profile file's own hint


def test_missing_credentials_hint_points_to_login_env_and_profile(shell, dli_env, monkeypatch, capsys):
    monkeypatch.delenv("DLI_AUTH_TOKEN")
    for line in ("%dli_run 131", "%dli_run 131 --dry-run"):
        result = shell.run_cell(line)
        assert isinstance(result.error_in_exec, ConfigError)
        shown = capsys.readouterr().out
        assert "%dli_login" in shown and "DLI_AUTH_TOKEN" in shown and "DLI_AK + DLI_SK" in shown
        assert "DLI_USERNAME + DLI_PASSWORD" in shown and "profile file" in shown
        assert "%dli_config /" not in shown and "%config DliMagic.<name>" not in shown
        assert "Set or fix it" not in shown
    assert dli_env.request_log() == []
