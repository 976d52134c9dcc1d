"""Panels wired to a real emulator over HTTP (no mocks): ``make_panel(emu, **options)``."""

from __future__ import annotations

import pytest

from dli_magic.auth import clear_token_cache
from dli_magic.emulator.testing import SENTINEL_TOKEN


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    clear_token_cache()  # IAM tokens are cached per process; each test starts without one
    yield
    clear_token_cache()


def client_settings(emu, **overrides):
    """Settings for a DliClient on ``emu`` with the sentinel token, fast backoff and polling."""
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


@pytest.fixture
def make_panel():
    """``make_panel(emu, settings={...}, **panel_kwargs)``: a loaded panel (its first load waited for).

    ``settings`` override the client settings; ``own_client=True`` lets the panel build its client
    from settings (the ``dli_magic.panel(**settings)`` path) instead of receiving one.
    """
    from dli_magic.client import DliClient
    from dli_magic.panel import panel

    panels, clients = [], []

    def build(emu, *, settings=None, own_client=False, **kwargs):
        resolved = client_settings(emu, **(settings or {}))
        if own_client:
            made = panel(**resolved, **kwargs)
        else:
            client = DliClient(**resolved)
            clients.append(client)
            made = panel(client=client, **kwargs)
        panels.append(made)
        assert made.wait_idle(20), "the first job list load did not finish"
        return made

    yield build
    for made in panels:
        made.stop_waiting()
        made.wait_idle(10)
        made.close()
    for client in clients:
        client.close()
