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
    ({"load": "no"}, "load"),  # a string is truthy: the panel would load the jobs
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


def test_closing_the_panel_while_it_waits_stops_the_wait_cleanly(emulator_factory, client_settings):
    """The wait ends as 'stopped waiting' (not a failure on a closed client); the jobs go on."""
    import time

    import dli_magic
    from dli_magic.widget import panel

    emu = emulator_factory(token="t-panel-close", speed=0.05)  # a run takes many seconds to submit
    job = emu.create_job(name="slow-to-start", status="job_init")
    made = panel(**client_settings(emu, auth_token="t-panel-close"))
    assert made.wait_idle(20)
    made.select([job])
    made.run_button.click()
    for _ in range(100):  # the request is out and the handle waits
        if made._handle is not None:
            break
        time.sleep(0.05)
    made.close()
    assert made.wait_idle(20)
    history = dli_magic.history()
    assert history[history.job_id == job]["wait"].tolist() == ["stopped waiting"]
    assert [r["path"].rsplit("/", 1)[-1] for r in emu.request_log() if r["method"] == "POST"] == ["run"]


def test_a_client_source_that_returns_a_client_is_refused_and_leaves_it_open(emulator, client_settings):
    """client_source returns a context manager per request; a DliClient is one too, and entering it
    would close it after the first request."""
    from dli_magic.client import DliClient
    from dli_magic.widget import panel

    with DliClient(**client_settings(emulator)) as client:
        with pytest.raises(BadInputError, match="client_source must return a context manager"):
            panel(client_source=lambda: client)
        assert not client.closed
    assert emulator.request_log() == []
