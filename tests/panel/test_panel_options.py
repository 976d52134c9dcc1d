"""The panel's options are checked when it opens (as the API checks them), never first at Run."""

from __future__ import annotations

import pytest

from dli_magic.errors import BadInputError


@pytest.mark.parametrize("options, named", [
    ({"timeout": -5}, "timeout"),
    ({"timeout": "10"}, "timeout"),
    ({"stable": 0}, "stable"),
    ({"stable": 1e9}, "stable"),
    ({"wait": "no"}, "wait"),
    ({"wait": False, "stable": 30}, "stable"),
    ({"auto_refresh": "yes"}, "auto_refresh"),
])
def test_a_bad_option_is_refused_at_open_and_sends_nothing(emulator, client_settings, options, named):
    from dli_magic.client import DliClient
    from dli_magic.widget import panel

    with DliClient(**client_settings(emulator)) as client, pytest.raises(BadInputError, match=named):
        panel(client=client, **options)
    assert emulator.request_log() == []


def test_the_magic_passes_the_consoles_options(shell, dli_env):
    shell.run_cell("p = %dli_panel --stable 30 --refresh 5 --no-auto-refresh")
    made = shell.user_ns["p"]
    try:
        assert made.wait_idle(20)
        assert (made.stable, made.wait) == (30.0, True)
        assert made.refresh_interval == 5.0 and made.paused is True  # no automatic refresh
    finally:
        made.close()
    result = shell.run_cell("%dli_panel --stable 30 --no-wait")
    assert not result.success and "--no-wait" in str(result.error_in_exec)
