"""Issue 10 item 1: an explicit choice wins, and a change of service is never silent.

A profile that is named (``--profile`` on a magic line, ``profile=`` in the Python API and the panel,
``%dli_config profile=`` or ``DLI_PROFILE`` for the session) wins over the environment for every
setting it defines, so its endpoint is never paired with the environment's token. A region set above
an endpoint is refused in one line instead of replacing it. Two emulators: ``home`` is what the
environment names, ``k9`` what the profile names; each request log shows where the calls went.
"""

from __future__ import annotations

import pytest

import dli_magic
from dli_magic import config
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.errors import ConfigError

K9_TOKEN = "K9-PROFILE-TOKEN-3a7c51"
K9_PROJECT = "9f8e7d6c5b4a49382716051423324150"


@pytest.fixture
def k9(emulator_factory):
    """The service profile [k9] of the profile file names (its own token and project)."""
    emu = emulator_factory(token=K9_TOKEN, project_id=K9_PROJECT, demo=True, speed=50.0)
    path = config.default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[k9]\nendpoint = "{emu.url}"\nauth_token = "{K9_TOKEN}"\nproject_id = "{K9_PROJECT}"\n'
        'poll_interval = 0.02\n'
    )
    return emu


def _runs(emu) -> list[list[int]]:
    return [r["body"]["job_ids"] for r in emu.request_log() if r["path"].endswith("/jobs/run")]


def _table(frame) -> dict[str, tuple[str, str]]:
    return {row.setting: (row.value, row.source) for row in frame.itertuples()}


def test_the_profile_on_the_line_wins_over_the_environment(shell, dli_env, k9):
    frame = shell.run_line_magic("dli_run", "138 --profile k9")
    assert frame["job_id"].tolist() == [138] and frame["is_success"].tolist() == [True]
    assert _runs(k9) == [[138]] and dli_env.request_log() == []
    assert all(r["path"].startswith(f"/v1.0/{K9_PROJECT}/") for r in k9.request_log())


def test_dli_config_with_the_profile_shows_what_the_call_uses(shell, dli_env, k9):
    table = _table(shell.run_line_magic("dli_config", "--profile k9"))
    label = f"profile k9 ({config.default_profile_path()}), chosen for this call"
    assert table["endpoint"] == (k9.url, label)
    assert table["auth_token"] == ("***", label)
    assert table["project_id"] == (K9_PROJECT, label)
    assert table["profile"] == ("k9", "argument")
    # what the profile does not define still comes from the environment
    assert table["history_path"][1] == "env DLI_HISTORY_PATH"
    assert dli_env.request_log() == [] and k9.request_log() == []


@pytest.mark.parametrize("call", ["run_jobs", "stop_jobs", "list_jobs", "connect"])
def test_the_python_api_profile_keyword_wins(dli_env, k9, call):
    if call == "connect":
        client = dli_magic.connect(profile="k9")
        assert client.endpoint == k9.url and client.settings.source("auth_token").endswith("chosen for this call")
        client.list_jobs()
        client.close()
    elif call == "list_jobs":
        assert 138 in dli_magic.list_jobs(profile="k9")["job_id"].tolist()
    else:
        frame = getattr(dli_magic, call)([138], profile="k9")
        assert frame["job_id"].tolist() == [138]
        assert [r for r in k9.request_log() if r["path"].endswith(f"/jobs/{call.split('_')[0]}")]
    assert dli_env.request_log() == []
    assert k9.request_log() and all(r["status"] < 400 for r in k9.request_log())  # k9's token was accepted


def test_a_session_profile_wins_over_the_environment(shell, dli_env, k9, monkeypatch):
    monkeypatch.setenv("DLI_PROFILE", "k9")
    shell.run_line_magic("dli_run", "138")
    assert _runs(k9) == [[138]] and dli_env.request_log() == []
    table = _table(shell.run_line_magic("dli_config", ""))
    assert table["endpoint"][1].endswith(", chosen by DLI_PROFILE")
    # %dli_config profile= names it for the session the same way
    monkeypatch.delenv("DLI_PROFILE")
    shell.run_line_magic("dli_config", "profile=k9")
    shell.run_line_magic("dli_run", "204")
    assert _runs(k9) == [[138], [204]] and dli_env.request_log() == []


def test_the_profile_on_the_line_wins_over_the_session_config_and_login(shell, dli_env, k9, monkeypatch):
    shell.run_line_magic("dli_config", f"endpoint={dli_env.url}")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": SENTINEL_TOKEN)
    shell.run_line_magic("dli_login", "")  # the home service's token, for the session
    shell.run_line_magic("dli_run", "138 --profile k9")
    assert _runs(k9) == [[138]] and dli_env.request_log() == []  # k9's token with k9's endpoint
    shell.run_line_magic("dli_run", "204")  # without --profile: the session's settings again
    assert _runs(dli_env) == [[204]]


def test_the_panel_profile_wins(shell, dli_env, k9):
    panel = shell.run_line_magic("dli_panel", "--profile k9 --no-wait")
    try:
        assert panel.wait_idle(10)
    finally:
        panel.close()
    assert dli_env.request_log() == []
    assert [r for r in k9.request_log() if r["path"].endswith("/jobs")]  # the job list came from k9


# --- a region never silently replaces an endpoint ---------------------------------------------


def test_a_region_set_in_the_session_does_not_replace_the_endpoint(shell, dli_env, capsys):
    result = shell.run_cell("%dli_config region=eu-de")
    error = result.error_in_exec
    assert isinstance(error, ConfigError)
    assert error.message == (
        f"Setting region='eu-de' (from %config) does not match endpoint={dli_env.url} (from env DLI_ENDPOINT), "
        "which is set on a lower layer; the region does not replace it silently: to use eu-de, set "
        "endpoint=https://dli.eu-de.otc.t-systems.com where the region is set, or unset the region."
    )
    shown = capsys.readouterr().out
    assert "Traceback" not in shown and "ConfigError: Setting region='eu-de'" in shown
    # refused as a whole: the session keeps its target, and calls still go there
    table = _table(shell.run_line_magic("dli_config", ""))
    assert table["region"] == ("", "default") and table["endpoint"] == (dli_env.url, "env DLI_ENDPOINT")
    assert dli_env.request_log() == []
    shell.run_line_magic("dli_run", "138")
    assert _runs(dli_env) == [[138]]


def test_region_and_endpoint_given_together_change_the_service_explicitly(shell, dli_env):
    table = _table(shell.run_line_magic(
        "dli_config", "region=eu-nl endpoint=https://dli.eu-nl.otc.t-systems.com"))
    assert table["endpoint"] == ("https://dli.eu-nl.otc.t-systems.com", "%config")
    assert table["iam_endpoint"] == ("https://iam.eu-nl.otc.t-systems.com", "derived from endpoint")


@pytest.mark.parametrize("call", ["run_jobs", "list_jobs", "connect", "panel"])
def test_a_region_argument_does_not_replace_the_environment_endpoint(dli_env, call):
    with pytest.raises(ConfigError, match=r"^Setting region='eu-nl' \(from argument\) does not match endpoint="):
        if call == "run_jobs":
            dli_magic.run_jobs([138], region="eu-nl")
        elif call == "panel":
            dli_magic.panel(region="eu-nl")
        else:
            getattr(dli_magic, call)(region="eu-nl")
    assert dli_env.request_log() == []


def test_a_region_below_the_endpoint_keeps_the_endpoint(shell, dli_env, monkeypatch):
    # the other way round is no change of service: the endpoint was chosen above the region
    monkeypatch.setenv("DLI_REGION", "eu-de")
    table = _table(shell.run_line_magic("dli_config", f"endpoint={dli_env.url}"))
    assert table["endpoint"] == (dli_env.url, "%config")
    assert table["iam_endpoint"] == (dli_env.url, "derived from endpoint")  # never the cloud's IAM
    shell.run_line_magic("dli_run", "138")
    assert _runs(dli_env) == [[138]]
