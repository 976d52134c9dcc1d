"""Helpers for the client tests: a client wired to an emulator, and a clean IAM token cache."""

from __future__ import annotations

import pytest

from dli_magic.auth import clear_token_cache


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    clear_token_cache()  # tokens are cached per process; each test starts without one
    yield
    clear_token_cache()


@pytest.fixture
def make_client():
    """``make_client(emu, **settings)``: a DliClient on the emulator with the sentinel token, fast backoff."""
    from dli_magic.client import DliClient
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    clients = []

    def build(emu, **overrides):
        settings = {"endpoint": emu.url, "project_id": emu.project_id, "auth_token": SENTINEL_TOKEN,
                    "backoff_base": 0.01, "retry_deadline": 10.0}
        settings.update(overrides)
        client = DliClient(**{k: v for k, v in settings.items() if v is not None})
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
