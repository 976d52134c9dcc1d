"""Panels wired to a real emulator over HTTP (no mocks): ``make_panel(emu, **options)``."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_panel(client_settings):
    """``make_panel(emu, settings={...}, **panel_kwargs)``: a loaded panel (its first load waited for).

    ``settings`` override the client settings; ``own_client=True`` lets the panel build its client
    from settings (the ``dli_magic.panel(**settings)`` path) instead of receiving one.
    """
    from dli_magic.client import DliClient
    from dli_magic.widget import panel

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
