"""Shared test setup: the emulator fixtures, isolation from the developer's machine, and the fixtures
of several test folders (a shell with the extension, client settings, the secret check)."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["dli_magic.emulator.pytest_plugin"]

_ISOLATED_PREFIXES = ("DLI_", "HUAWEICLOUD_SDK_")


@pytest.fixture(autouse=True)
def _isolate_environment(tmp_path_factory, monkeypatch):
    """No test may read (or write) the real profile, history, IPython dir or credentials."""
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("IPYTHONDIR", ".ipython"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("DLI_HISTORY_PATH", str(home / "dli-history.sqlite"))
    yield


@pytest.fixture(autouse=True)
def _fresh_scrubber():
    """Each test registers its own secret values: one registered by an earlier test (a token such
    as "wrong") must not scrub another test's expected text."""
    from dli_magic.redaction import SCRUBBER

    SCRUBBER.clear()
    yield
    SCRUBBER.clear()


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """IAM tokens are cached per process; each test starts (and leaves) without one."""
    from dli_magic.auth import clear_token_cache

    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def client_settings():
    """``client_settings(emu, **overrides)``: settings for a client on ``emu`` with the sentinel
    token, fast backoff and polling (an override of None leaves that setting out)."""
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    def build(emu, **overrides):
        settings = {
            "endpoint": emu.url,
            "project_id": emu.project_id,
            "auth_token": SENTINEL_TOKEN,
            "backoff_base": 0.01,
            "retry_deadline": 5.0,
            "poll_interval": 0.02,
        }
        settings.update(overrides)
        return {k: v for k, v in settings.items() if v is not None}

    return build


@pytest.fixture
def assert_no_secrets():
    """``assert_no_secrets(*texts, extra=())``: no sentinel secret (nor ``extra``) in any text."""
    from dli_magic.emulator.testing import SENTINELS

    def check(*texts: str, extra: tuple[str, ...] = ()) -> None:
        for text in texts:
            for secret in (*SENTINELS, *extra):
                assert secret not in text, f"a secret leaked: {text[:200]!r}"

    return check


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    """The shell's DliMagic instance."""
    from dli_magic.magics import _LOADED

    return _LOADED[id(shell)]


@pytest.fixture
def environment_for(monkeypatch):
    """``environment_for(emu, poll_interval, backoff_base=None)``: the settings of an emulator's
    project as environment variables, as a user would set them (what the magics read)."""
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    def point(emu, poll_interval: float, backoff_base: float | None = None):
        monkeypatch.setenv("DLI_ENDPOINT", emu.url)
        monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
        monkeypatch.setenv("DLI_PROJECT_ID", emu.project_id)
        monkeypatch.setenv("DLI_POLL_INTERVAL", str(poll_interval))
        if backoff_base is not None:
            monkeypatch.setenv("DLI_BACKOFF_BASE", str(backoff_base))
        return emu

    return point


@pytest.fixture
def dli_env(emulator, environment_for):
    """Settings through environment variables, as a user would set them; fast polling."""
    return environment_for(emulator, 0.02, 0.01)


@pytest.fixture
def project_at(emulator_factory, environment_for):
    """``project_at(speed, poll_interval, **emulator options)``: an empty project of its own (only
    the jobs a test creates) whose settings are in the environment, as a user would set them."""
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    def make(speed: float, poll_interval: float, **options):
        return environment_for(emulator_factory(token=SENTINEL_TOKEN, speed=speed, **options), poll_interval)

    return make


@pytest.fixture
def api_requests():
    """``api_requests(emulator, path_part)``: the emulator's logged DLI API requests (no IAM calls)."""

    def logged(emulator, path_part: str = "/streaming/"):
        return [r for r in emulator.request_log() if path_part in r["path"]]

    return logged
