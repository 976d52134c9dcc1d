"""pytest fixtures for a live DLI emulator. Enable with ``pytest_plugins = ["dli_magic.emulator.pytest_plugin"]``.

- ``emulator``: a started Emulator with the sentinel credentials (token, AK/SK, one IAM user),
  demo jobs and speed 50 (a run settles in 40 ms).
- ``emulator_factory``: ``emulator_factory(**Emulator kwargs) -> started Emulator``; all are stopped
  at teardown.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from .server import Emulator
from .testing import SENTINEL_AK, SENTINEL_PASSWORD, SENTINEL_SK, SENTINEL_TOKEN, TEST_DOMAIN, TEST_USER


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        emu = Emulator(**kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.close()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory(
        token=SENTINEL_TOKEN,
        ak=SENTINEL_AK,
        sk=SENTINEL_SK,
        users=[(TEST_USER, SENTINEL_PASSWORD, TEST_DOMAIN)],
        demo=True,
        speed=50.0,
    )
