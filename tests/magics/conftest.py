"""A real IPython shell with the extension loaded, pointed at a real emulator over HTTP."""

from __future__ import annotations

import pytest

from dli_magic.auth import clear_token_cache


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    clear_token_cache()  # IAM tokens are cached per process; each test starts without one
    yield
    clear_token_cache()


@pytest.fixture
def shell():
    """The process' InteractiveShell with a fresh dli_magic (traits, login, clients) and user_ns."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if "dli_magic" in ip.extension_manager.loaded:  # left loaded by another test module
        ip.run_line_magic("unload_ext", "dli_magic")
    ip.config.pop("DliMagic", None)  # %config values of an earlier test
    before = set(ip.user_ns)
    ip.run_line_magic("load_ext", "dli_magic")
    yield ip
    ip.run_line_magic("unload_ext", "dli_magic")
    ip.config.pop("DliMagic", None)
    for name in set(ip.user_ns) - before:
        ip.user_ns.pop(name, None)


@pytest.fixture
def magic(shell):
    from dli_magic.magics import _LOADED

    return _LOADED[id(shell)]


@pytest.fixture
def dli_env(emulator, monkeypatch):
    """Settings through environment variables, as a user would set them; fast polling."""
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    monkeypatch.setenv("DLI_POLL_INTERVAL", "0.02")
    monkeypatch.setenv("DLI_BACKOFF_BASE", "0.01")
    return emulator


def _api_requests(emulator, path_part: str = "/streaming/"):
    return [r for r in emulator.request_log() if path_part in r["path"]]


@pytest.fixture
def api_requests():
    """``api_requests(emulator, path_part)``: the emulator's logged DLI API requests (no IAM calls)."""
    return _api_requests
