"""A local emulator of the DLI Flink job API (and the IAM calls a client needs), for tests and offline notebooks.

    from dli_magic.emulator import Emulator
    with Emulator(token="t", demo=True) as emu:
        ...  # point a client at emu.url, project emu.project_id

See docs/emulator.md. ``python -m dli_magic.emulator`` runs it as a server.
"""

from __future__ import annotations

from .core import DEFAULT_PROJECT_ID, DEFAULT_REGION
from .server import Emulator

__all__ = ["Emulator", "DEFAULT_PROJECT_ID", "DEFAULT_REGION"]
