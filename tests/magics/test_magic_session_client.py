"""The session's client is kept between calls (keep-alive, known names) while the settings stay the
same, and rebuilt when they change. Proxy variables need no new client: requests reads them on every
call, so `%env HTTP_PROXY=...` takes effect on the next line."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dli_magic.errors import ConfigError, TransportError


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


def test_an_open_panel_follows_the_session_client_through_a_settings_change(shell, magic, dli_env):
    """A %dli_config change makes the next magic build a new client and let go of the old one; the
    panel asks the session for its client at each request, so it keeps working, with the new settings."""
    shell.run_cell("p = %dli_panel --no-auto-refresh")
    made = shell.user_ns["p"]
    try:
        assert made.wait_idle(20) and made.refresh_error is None
        old = made.client
        assert shell.run_cell("%dli_config wait_timeout=900").success
        assert shell.run_cell("jobs = %dli_jobs").success  # builds the new client, closes the old one
        assert old.closed
        assert made.client is magic.client() and made.client.settings.wait_timeout == 900.0
        made.refresh()
        assert made.wait_idle(20) and made.refresh_error is None, made.refresh_error
        made.select([138])
        made.run_button.click()
        assert made.wait_idle(20) and made.last_error is None, made.last_error
        assert made.result["is_success"].tolist() == [True]
    finally:
        made.close()
    assert not magic.client().closed  # the panel borrowed the session's client: closing it leaves it open


def test_dli_login_lets_a_background_wait_finish_on_its_client(shell, magic, project_at, monkeypatch):
    """A token pasted with %dli_login is for the next calls: a --background wait already running keeps
    its client until it ends (as a settings change does), instead of stopping on a closed client."""
    import getpass

    from dli_magic.emulator.testing import SENTINEL_TOKEN

    emu = project_at(0.5, 0.05)  # slow: the run settles while the handle waits
    job = emu.create_job(name="slow")
    shell.run_cell(f"h = %dli_run {job} --background")
    handle = shell.user_ns["h"]
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": SENTINEL_TOKEN)  # the keyboard
    assert shell.run_cell("%dli_login").success
    frame = handle.result(30)
    assert "wait_error" not in frame.attrs, frame.attrs.get("wait_error")
    assert frame["status"].tolist() == ["job_running"]
    assert handle.client.closed  # let go of once its wait ended


def test_a_client_let_go_of_while_a_call_uses_it_is_closed_when_that_call_ends(magic, dli_env, monkeypatch):
    """A panel's refresh on its own thread may see changed settings while a magic's call (a restart)
    still runs on the old client: that call keeps a working client until it returns."""
    with magic.using_client() as held:
        monkeypatch.setenv("DLI_READ_TIMEOUT", "31")  # a change the next request sees
        fresh = magic.client()
        assert fresh is not held and not held.closed
        assert [job.job_id for job in held.iter_jobs()]  # still sends
        magic.close_clients()  # %dli_login or unloading, meanwhile
        assert not held.closed and fresh.closed  # fresh was not in use
    assert held.closed


def test_a_panel_restart_in_flight_survives_a_settings_change(shell, magic, project_at):
    emu = project_at(0.5, 0.05)  # slow: the restart is still waiting for its stop below
    job = emu.create_job(name="slow", status="job_running")
    shell.run_cell("p = %dli_panel --no-auto-refresh")
    made = shell.user_ns["p"]
    try:
        assert made.wait_idle(20) and made.refresh_error is None
        made.select([job])
        made.restart_button.click()
        deadline = time.monotonic() + 10
        while not any(r["method"] == "POST" for r in emu.request_log()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert shell.run_cell("%dli_config wait_timeout=900").success
        assert shell.run_cell("jobs = %dli_jobs").success  # builds the new client, lets go of the old one
        assert made.wait_idle(60) and made.last_error is None, made.last_error
        assert made.result["is_success"].tolist() == [True], made.result["message"].tolist()
        assert made.result["status"].tolist() == ["job_running"]
    finally:
        made.close()


def test_an_open_panel_stops_with_the_extension_and_its_login(shell, magic, dli_env, monkeypatch):
    """After %unload_ext (or %reload_ext), a panel of the old session sends nothing more: it would
    use that session's login and settings, which nobody can clear any more."""
    import getpass

    from dli_magic.emulator.testing import SENTINEL_TOKEN

    monkeypatch.delenv("DLI_AUTH_TOKEN")
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": SENTINEL_TOKEN)
    assert shell.run_cell("%dli_login").success
    shell.run_cell("p = %dli_panel --no-auto-refresh")
    made = shell.user_ns["p"]
    try:
        assert made.wait_idle(20) and made.refresh_error is None
        assert shell.run_cell("%reload_ext dli_magic").success
        dli_env.clear_request_log()
        made.refresh()
        assert made.wait_idle(20)
        assert isinstance(made.refresh_error, ConfigError) and "session ended" in str(made.refresh_error)
        assert dli_env.request_log() == []
        assert magic._secrets == {} and all(client.closed for _, client in magic._clients.values())
    finally:
        made.close()


def test_a_panels_requests_leave_the_debug_flag_of_the_users_lines_alone(shell, dli_env, monkeypatch):
    from dli_magic import errors

    shell.run_cell("p = %dli_panel --no-auto-refresh")
    made = shell.user_ns["p"]
    try:
        assert made.wait_idle(20) and errors.SHOW_FULL_TRACEBACK is False
        monkeypatch.setenv("DLI_DEBUG", "1")
        made.refresh()
        assert made.wait_idle(20) and made.refresh_error is None
        assert errors.SHOW_FULL_TRACEBACK is False  # the user's next line decides
        assert shell.run_cell("jobs = %dli_jobs").success
        assert errors.SHOW_FULL_TRACEBACK is True
    finally:
        made.close()
        errors.SHOW_FULL_TRACEBACK = False
