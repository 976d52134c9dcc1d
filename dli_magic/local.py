"""Make a notebook runnable on a fresh machine: use the configured DLI, or start a local emulator.

The example notebooks call ``ensure_service()`` first. When the environment or the profile file
already names a DLI service, nothing happens. Otherwise an emulator with demo jobs starts inside this
process on 127.0.0.1, and the ``DLI_*`` environment variables point every dli-magic call at it; its
runs are recorded in a temporary history file, not in the user's run history.
The token is random and never printed.

``is_local_emulator()`` tells the notebooks whether they may pick jobs and start or stop them on their
own (only on the local emulator, never on a real account).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

# Any of these means the user chose a service; we never override their choice.
_SERVICE_VARS = ("DLI_ENDPOINT", "DLI_REGION", "DLI_PROFILE")
_HISTORY_VAR = "DLI_HISTORY_PATH"

_running: Any = None  # the emulator this process started, kept alive for the kernel's lifetime


def started_here() -> bool:
    """True when ``ensure_service`` started an emulator in this process (demo data may be made)."""
    return _running is not None


def configured_service() -> str | None:
    """Where the DLI settings come from, or None when nothing is configured."""
    for name in _SERVICE_VARS:
        if os.environ.get(name):
            return f"environment variable {name}"
    from .config import default_profile_path

    path = default_profile_path()
    if path.is_file():
        return f"profile file {path}"
    return None


def _configured_endpoint() -> str | None:
    from .config import resolve_settings

    try:
        return resolve_settings().endpoint
    except Exception:  # an unreadable profile or a bad setting: not provably the emulator
        return None


def is_local_emulator(timeout: float = 2.0) -> bool:
    """True when dli-magic talks to a local DLI emulator, so demo code may pick jobs and run/stop them.

    That is: this process started the emulator (``ensure_service``), or the configured endpoint's host
    is loopback and ``GET {endpoint}/_emulator/clock`` answers 200. A non-loopback host is never probed.
    """
    if _running is not None:
        return True
    endpoint = _configured_endpoint()
    if not endpoint:
        return False
    from urllib.parse import urlsplit

    from .config import is_loopback

    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not is_loopback(parts.hostname):
        return False
    import urllib.error
    import urllib.request

    # No proxy: the question is about this machine's loopback, never about whatever a proxy answers.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(endpoint.rstrip("/") + "/_emulator/clock", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ensure_service(speed: float = 4.0) -> str:
    """Return a one-line description of the DLI service in use, starting an emulator if needed."""
    global _running
    source = configured_service()
    if source is not None:
        if is_local_emulator():
            return f"Using the local DLI emulator at {_configured_endpoint()} (configured by {source})."
        return f"Using the DLI service configured by {source}."
    from .emulator import Emulator

    token = secrets.token_urlsafe(24)
    emulator = Emulator(token=token, demo=True, speed=speed)
    emulator.start()
    _running = emulator
    os.environ.update(
        {
            "DLI_ENDPOINT": emulator.url,
            "DLI_AUTH_TOKEN": token,
            "DLI_PROJECT_ID": emulator.project_id,
        }
    )
    history = os.environ.get(_HISTORY_VAR)
    if history:
        where = f"in {history} (DLI_HISTORY_PATH)"
    else:
        # The emulator's runs must not end up in the user's real run history.
        history = str(Path(tempfile.mkdtemp(prefix="dli-magic-emulator-")) / "history.sqlite")
        os.environ[_HISTORY_VAR] = history
        where = f"in the temporary file {history}, not in your run history"
    return f"No DLI settings found: started a local DLI emulator with demo jobs at {emulator.url}; its runs are recorded {where}."
