"""Make a notebook runnable on a fresh machine: use the configured DLI, or start a local emulator.

The example notebooks call ``ensure_service()`` first. When the environment or the profile file
already names a DLI service, nothing happens. Otherwise an emulator with demo jobs starts inside this
process on 127.0.0.1, and the ``DLI_*`` environment variables point every dli-magic call at it.
The token is random and never printed.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

# Any of these means the user chose a service; we never override their choice.
_SERVICE_VARS = ("DLI_ENDPOINT", "DLI_REGION", "DLI_PROFILE")

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


def ensure_service(speed: float = 4.0) -> str:
    """Return a one-line description of the DLI service in use, starting an emulator if needed."""
    global _running
    source = configured_service()
    if source is not None:
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
    return f"No DLI settings found: started a local DLI emulator with demo jobs at {emulator.url}."
