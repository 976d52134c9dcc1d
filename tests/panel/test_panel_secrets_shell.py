"""No secret in any widget state; the panel from a real IPython shell (``dli_magic.panel()``)."""

from __future__ import annotations

import json

import ipywidgets as widgets
import pytest

from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    TEST_DOMAIN,
    TEST_USER,
)
from dli_magic.errors import BadInputError, ConfigError
from dli_magic.widget import DliPanel, _walk

CREDENTIALS = {
    "token": {"auth_token": SENTINEL_TOKEN},
    "aksk": {"auth_token": None, "ak": SENTINEL_AK, "sk": SENTINEL_SK},
    "password": {"auth_token": None, "username": TEST_USER, "password": SENTINEL_PASSWORD, "domain": TEST_DOMAIN},
}


def _all_state(panel) -> str:
    """Every trait of every widget in the panel, as the frontend (and a saved notebook) gets it:
    the table's data and options, the anywidget traits (ESM included) and every Output."""
    states = [w.get_state() for w in _walk(panel)]
    manager = widgets.Widget.get_manager_state(drop_defaults=False)  # every live widget model
    return json.dumps([states, manager], default=str)


def _rows(panel, job_id):
    panel.table.selected_rows = [[int(i) for i in panel.table.df["id"]].index(job_id)]


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_no_secret_in_any_widget_state(emulator, make_panel, assert_no_secrets, kind):
    job = emulator.create_job(name="panel-secret-check", status="job_init")
    # The panel builds its own client from the settings: the secrets pass through it.
    panel = make_panel(emulator, settings=CREDENTIALS[kind], own_client=True)
    assert panel.last_error is None
    _rows(panel, job)
    assert panel.wait_idle(20)  # the detail pane loaded: its HTML is state too
    assert "panel-secret-check" in panel.detail.value
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert panel.result["is_success"].tolist() == [True]
    emulator.set_faults({"error": {"status": 503, "count": 100, "path": "/streaming/jobs"}})
    panel.stop_button.click()  # an error shown in the Output is part of the state too
    assert panel.wait_idle(20)
    assert panel.last_error is not None
    panel.refresh()  # and so is a failed refresh's line
    assert panel.wait_idle(20)
    assert "refresh failed" in panel.refresh_status.value
    state = _all_state(panel)
    walked = {type(w).__name__ for w in _walk(panel)}
    assert {"ITable", "PanelBridge", "Output", "HTML"} <= walked
    assert '"_dt_args"' in state and "data_json" in state and '"_esm"' in state
    assert f'\\"panel-secret-check\\", {job}' in state  # the table's data (JSON text inside the state)
    assert "ServiceError" in state and "refresh failed" in state
    assert_no_secrets(state, repr(panel), str(panel.last_error))
    # The panel object keeps no settings of its own: only the client holds them.
    assert_no_secrets(*(repr(value) for value in vars(panel).values() if isinstance(value, (str, dict, list, tuple))))


def test_bad_settings_fail_at_once_with_a_one_line_error(emulator):
    with pytest.raises(ConfigError) as info:
        DliPanel(endpoint=emulator.url, auth_token=SENTINEL_TOKEN, no_such_setting=1)
    assert "no_such_setting" in str(info.value) and SENTINEL_TOKEN not in str(info.value)
    with pytest.raises(BadInputError):
        DliPanel(client=object(), endpoint=emulator.url)
    assert emulator.request_log() == [] or all("/streaming/" not in e["path"] for e in emulator.request_log())


@pytest.fixture
def shell(emulator, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
    monkeypatch.setenv("DLI_POLL_INTERVAL", "0.02")
    ip = InteractiveShell.instance()
    before = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - before:
        value = ip.user_ns.pop(name, None)
        if isinstance(value, DliPanel):
            value.wait_idle(10)
            value.close()


def test_panel_from_a_real_shell_displays_as_a_widget(shell, emulator):
    job = emulator.create_job(name="panel-from-shell", status="job_init")
    # Called twice: importing the panel's module on the first call must not change what the name is.
    outcome = shell.run_cell("import dli_magic\np1 = dli_magic.panel()\np2 = dli_magic.panel(wait=False)")
    assert outcome.success, outcome.error_in_exec
    import dli_magic
    from dli_magic import widget

    assert dli_magic.panel is widget.panel
    p1, p2 = shell.user_ns["p1"], shell.user_ns["p2"]
    assert isinstance(p1, DliPanel) and isinstance(p2, DliPanel)
    assert p1.wait_idle(10) and p2.wait_idle(10)
    assert job in [j.job_id for j in p1.jobs] and job in [int(i) for i in p1.table.df["id"]]
    data, _ = shell.display_formatter.format(p1)
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == p1.model_id
    # The text fallback (no widget frontend) names the panel and carries no secret.
    assert "VBox" in data["text/plain"] or "DliPanel" in data["text/plain"]
    assert SENTINEL_TOKEN not in json.dumps(data, default=str)


def test_dli_panel_magic_when_registered(shell, emulator):
    job = emulator.create_job(name="panel-magic", status="job_init")
    shell.run_line_magic("load_ext", "dli_magic")
    try:
        if shell.find_line_magic("dli_panel") is None:
            pytest.skip("%dli_panel is not registered by dli_magic.magics yet")
        outcome = shell.run_cell("pm = %dli_panel")
        assert outcome.success, outcome.error_in_exec
        panel = shell.user_ns["pm"]
        assert isinstance(panel, DliPanel) and panel.wait_idle(10)
        _rows(panel, job)
        panel.run_button.click()
        assert panel.wait_idle(20)
        assert panel.result["job_id"].tolist() == [job]
    finally:
        shell.run_line_magic("unload_ext", "dli_magic")
