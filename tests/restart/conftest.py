"""Restart and savepoint tests: an empty emulator project with only the jobs a test creates, fast
job timings, and helpers to read the request log."""

from __future__ import annotations

import pytest

import dli_magic
from dli_magic.emulator.testing import SENTINEL_AK, SENTINEL_SK, SENTINEL_TOKEN

SPEED = 20.0  # a stop with savepoint settles in about 0.1 s, a start in 0.1 s


@pytest.fixture
def emu(emulator_factory):
    return emulator_factory(token=SENTINEL_TOKEN, ak=SENTINEL_AK, sk=SENTINEL_SK, demo=False, speed=SPEED)


@pytest.fixture
def settings(emu, client_settings):
    return client_settings(emu)


@pytest.fixture
def client(settings):
    with dli_magic.connect(**settings) as c:
        yield c


@pytest.fixture
def env(emu, environment_for):
    """The settings as environment variables (what the magics read)."""
    return environment_for(emu, 0.02, 0.01)
