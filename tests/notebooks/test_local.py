"""dli_magic.local: which service the example notebooks use, and whether they may pick jobs and
start/stop them on their own (only on the local emulator, and a non-loopback host is never probed)."""

from __future__ import annotations

import http.server
import os
import threading
import urllib.request
from pathlib import Path

import pytest

from dli_magic import local
from dli_magic.emulator.testing import SENTINEL_TOKEN

_SET_BY_ENSURE = ("DLI_ENDPOINT", "DLI_AUTH_TOKEN", "DLI_PROJECT_ID", "DLI_HISTORY_PATH")


@pytest.fixture
def restore_local(monkeypatch):
    """Undo what ensure_service does to the module and the environment."""
    monkeypatch.setattr(local, "_running", None)
    for name in _SET_BY_ENSURE:
        monkeypatch.setenv(name, "x")  # records the current state for teardown ...
        monkeypatch.delenv(name)  # ... and starts from none
    yield
    if local._running is not None:
        local._running.close()


@pytest.fixture
def not_an_emulator():
    """A loopback HTTP server that answers 404 to everything (e.g. some other local service)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_configured_loopback_emulator_is_recognised(emulator, monkeypatch, restore_local):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    assert local.is_local_emulator()
    assert local.ensure_service() == (
        f"Using the local DLI emulator at {emulator.url} (configured by environment variable DLI_ENDPOINT)."
    )
    assert not local.started_here()


def test_another_loopback_service_is_not_the_emulator(not_an_emulator, monkeypatch, restore_local):
    monkeypatch.setenv("DLI_ENDPOINT", not_an_emulator)
    assert not local.is_local_emulator()
    assert local.ensure_service() == "Using the DLI service configured by environment variable DLI_ENDPOINT."


def test_nothing_listening_is_not_the_emulator(monkeypatch, restore_local):
    monkeypatch.setenv("DLI_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing answers
    assert not local.is_local_emulator(timeout=1)


@pytest.mark.parametrize("settings", [{"DLI_ENDPOINT": "https://dli.eu-de.otc.t-systems.com"},
                                      {"DLI_REGION": "eu-nl"},
                                      {"DLI_ENDPOINT": "https://10.1.2.3:8443"}])
def test_a_remote_endpoint_is_never_probed(settings, monkeypatch, restore_local):
    opened = []
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda self, *a, **k: opened.append(a))
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert not local.is_local_emulator()
    assert opened == []


def test_a_profile_file_pointing_at_the_emulator_is_recognised(emulator, restore_local):
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "dli-magic" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[default]\nendpoint = "{emulator.url}"\n')
    assert local.configured_service() == f"profile file {path}"
    assert local.is_local_emulator()


def test_an_emulator_started_here_records_to_a_temporary_history(restore_local):
    line = local.ensure_service(speed=50)
    history = os.environ["DLI_HISTORY_PATH"]
    assert local.started_here() and local.is_local_emulator()
    assert line == (
        f"No DLI settings found: started a local DLI emulator with demo jobs at {os.environ['DLI_ENDPOINT']}; "
        f"its runs are recorded in the temporary file {history}, not in your run history."
    )
    real = Path(os.environ["XDG_DATA_HOME"]) / "dli-magic"
    assert not Path(history).is_relative_to(real)
    import dli_magic

    dli_magic.run_jobs(dli_magic.list_jobs().job_id.head(1).tolist())
    assert Path(history).is_file() and not real.exists()


def test_an_emulator_started_here_keeps_a_chosen_history(restore_local, tmp_path, monkeypatch):
    chosen = tmp_path / "mine.sqlite"
    monkeypatch.setenv("DLI_HISTORY_PATH", str(chosen))
    line = local.ensure_service(speed=50)
    assert os.environ["DLI_HISTORY_PATH"] == str(chosen)
    assert line.endswith(f"its runs are recorded in {chosen} (DLI_HISTORY_PATH).")
