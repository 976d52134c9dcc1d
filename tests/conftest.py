"""Shared test setup: the emulator fixtures, and isolation from the developer's machine."""

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
