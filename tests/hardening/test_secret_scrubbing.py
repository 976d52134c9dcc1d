"""Issue 10 item 2: a secret's value is scrubbed wherever it shows up, not only where it is expected.

Every secret value of every settings layer is registered with the one scrubber (``redaction``) before
anything is checked, and before a magic line's ids are evaluated; a secret pasted into another
setting is refused without being echoed (it would otherwise travel in URLs, run attributes and the
run history). Each test uses a secret value of its own, never seen by the process before, so it
fails if the registration it checks is missing. Every output is grepped: stdout, stderr, the error
as rendered, DataFrames and their attrs, reprs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import dli_magic
from dli_magic import config
from dli_magic.errors import BadInputError, ConfigError
from dli_magic.redaction import SCRUBBER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secret() -> str:
    """A secret value no earlier test registered."""
    return f"Fresh-Secret-{uuid.uuid4().hex[:16]}"


def _rendered(result) -> str:
    error = result.error_in_exec
    if error is None:
        return ""
    render = getattr(error, "_render_traceback_", None)
    return "\n".join(render()) if render else str(error)


def _everything(result, capsys) -> str:
    out = capsys.readouterr()
    parts = [out.out, out.err, _rendered(result), str(result.error_in_exec or "")]
    if result.result is not None:
        parts += [repr(result.result), str(getattr(result.result, "attrs", ""))]
    return "\n".join(parts)


# --- a secret pasted into another setting -------------------------------------------------------


@pytest.mark.parametrize("setting", ["DLI_REGION", "DLI_PROJECT_ID", "DLI_DOMAIN", "DLI_USERNAME"])
@pytest.mark.parametrize("where", ["magic", "dli_config", "api", "panel"])
def test_a_secret_pasted_into_another_setting_is_refused_unechoed(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, secret, setting, where
):
    monkeypatch.setenv("DLI_SK", secret)
    monkeypatch.setenv("DLI_AK", "SOMEACCESSKEYID01")
    monkeypatch.setenv(setting, secret)
    if setting == "DLI_REGION":
        monkeypatch.delenv("DLI_ENDPOINT")  # the region names the service (a host made of the secret)
    line = {"magic": "%dli_run 138", "dli_config": "%dli_config",
            "api": "import dli_magic; dli_magic.run_jobs([138])",
            "panel": "import dli_magic; dli_magic.panel()"}[where]
    result = shell.run_cell(line)
    error = result.error_in_exec
    assert isinstance(error, ConfigError)
    name = setting.removeprefix("DLI_").lower()
    assert error.message == (
        f"Setting {name} (from env {setting}) contains the value of sk (from env DLI_SK): a secret pasted "
        f"into the wrong setting? Fix {name}; nothing was sent."
    )
    assert_no_secrets(_everything(result, capsys), extra=(secret,))
    assert dli_env.request_log() == []


def test_a_secret_in_a_region_that_is_no_region_name_is_not_echoed(assert_no_secrets, secret):
    bad = secret + "/x"  # not a region name: refused for that, by its character
    with pytest.raises(ConfigError) as info:
        config.resolve_settings(environ={"DLI_SK": bad, "DLI_REGION": bad})
    assert info.value.message.startswith("Setting region (from env DLI_REGION) contains '/';")
    assert_no_secrets(str(info.value), info.value.message, "\n".join(info.value._render_traceback_()),
                      extra=(bad, secret))


@pytest.mark.parametrize("setting", ["DLI_CHUNK_SIZE", "DLI_ENDPOINT", "DLI_READ_TIMEOUT", "DLI_HISTORY"])
def test_a_secret_echoed_by_a_config_error_during_resolution_is_scrubbed(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, secret, setting
):
    # the error is raised while the settings are resolved, before any client registered anything
    monkeypatch.setenv("DLI_AUTH_TOKEN", secret)
    monkeypatch.setenv(setting, secret)
    for line in ("%dli_run 138", "%dli_config", "import dli_magic; dli_magic.connect()"):
        result = shell.run_cell(line)
        assert isinstance(result.error_in_exec, ConfigError)
        text = _everything(result, capsys)
        assert f"Setting {setting.removeprefix('DLI_').lower()}" in text
        assert_no_secrets(text, extra=(secret,))
    assert dli_env.request_log() == []


def test_settings_reprs_and_the_config_table_scrub_what_they_show(secret, assert_no_secrets):
    settings = config.Settings(auth_token=secret, username="me", domain="d")
    assert_no_secrets(repr(settings), str(settings.describe()), extra=(secret,))


# --- {expr} failures on a magic line ---------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "{({})[os.environ['DLI_SK']]}",  # KeyError: '<the secret>'
        "{os.environ['DLI_SK'] + 1}",
        "{int(os.environ['DLI_SK'])}",  # ValueError: invalid literal for int() with base 10: '<secret>'
        "{getattr(os, os.environ['DLI_SK'])}",  # AttributeError naming it
        "{[131][os.environ['DLI_SK']:]}",
    ],
)
def test_an_expression_failing_with_a_secret_in_its_message_is_scrubbed(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, secret, expression
):
    monkeypatch.setenv("DLI_SK", secret)
    monkeypatch.setenv("DLI_AK", "SOMEACCESSKEYID01")
    shell.run_cell("import os")
    capsys.readouterr()
    result = shell.run_cell(f"%dli_run {expression}")  # the first dli-magic line of the session
    assert isinstance(result.error_in_exec, BadInputError)
    text = _everything(result, capsys)
    assert "failed" in text or "is a string" in text or "job id" in text.lower()
    assert_no_secrets(text, extra=(secret,))
    assert dli_env.request_log() == []


def test_an_expression_quoting_a_secret_of_the_profile_file_is_scrubbed(
    shell, dli_env, capsys, assert_no_secrets, secret
):
    path = config.default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[prod]\nauth_token = "{secret}"\n')  # a profile this line does not even use
    shell.user_ns["profile_file"] = str(path)
    result = shell.run_cell(
        "%dli_run {({})[__import__('tomllib').load(open(profile_file, 'rb'))['prod']['auth_token']]}"
    )
    assert isinstance(result.error_in_exec, BadInputError)
    text = _everything(result, capsys)
    assert "failed: KeyError: '***'" in text
    assert_no_secrets(text, extra=(secret,))


def test_a_login_secret_is_scrubbed_from_expression_failures(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, secret
):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": secret)
    shell.run_line_magic("dli_login", "")
    shell.user_ns["pasted"] = secret  # the same value, held by a notebook variable
    capsys.readouterr()
    result = shell.run_cell("%dli_run {({})[pasted]}")
    text = _everything(result, capsys)
    assert "failed: KeyError: '***'" in text
    assert_no_secrets(text, extra=(secret,))


# --- a secret pasted into an argument, refused before any settings are read ------------------------


@pytest.mark.parametrize("layer", ["env", "profile"])
@pytest.mark.parametrize("call", [
    lambda s: dli_magic.run_jobs([138], wait=s),
    lambda s: dli_magic.stop_jobs([138], chunk_size=s),
    lambda s: dli_magic.list_jobs(status=s),
    lambda s: dli_magic.list_jobs(order=s),
    lambda s: dli_magic.restart_jobs([138], timeout=s),
    lambda s: dli_magic.panel(load=s),
], ids=["run wait", "stop chunk_size", "list status", "list order", "restart timeout", "panel load"])
def test_an_argument_holding_a_secret_in_use_is_refused_unechoed(
    dli_env, monkeypatch, assert_no_secrets, secret, layer, call
):
    if layer == "env":
        monkeypatch.setenv("DLI_SK", secret)
    else:  # a profile this call does not even use
        path = config.default_profile_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[prod]\nsk = "{secret}"\n')
    with pytest.raises(BadInputError) as caught:
        call(secret)  # nothing has read the settings yet: the secret is in no list of this process
    error = caught.value
    assert "***" in str(error)
    assert_no_secrets(str(error), "\n".join(error._render_traceback_()), repr(error), extra=(secret,))
    assert dli_env.request_log() == []


@pytest.mark.parametrize("call", ["dli_magic.panel(load=s)", "dli_magic.panel(refresh_interval=s)",
                                  "dli_magic.run_jobs([138], wait=s)", "dli_magic.list_jobs(order=s)"])
def test_a_fresh_process_refusing_an_argument_that_holds_a_secret_does_not_echo_it(tmp_path, secret, call):
    # A process in which nothing has imported the settings module yet (the test process has).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "XDG_", "HUAWEICLOUD_SDK_"))}
    env.update(HOME=str(tmp_path), DLI_SK=secret, PYTHONPATH=str(ROOT))
    script = (f"import os, sys, dli_magic\nassert 'dli_magic.config' not in sys.modules\ns = os.environ['DLI_SK']\n"
              f"try:\n    {call}\nexcept Exception as error:\n    print(type(error).__name__, error)\n")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("BadInputError ") and "***" in done.stdout
    assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize("line", [
    "%dli_jobs $s",  # unrecognized arguments
    "%dli_jobs --status=$s --status job_running",  # given twice
    "%dli_wait 20261130T101500-0123456789ab --timeout $s",  # argparse: invalid float value
    "%dli_history --limit $s",  # argparse: invalid int value
    "%dli_config $s",  # not NAME=VALUE
    "%dli_jobs --out {s}+",  # not a variable name
    "%dli_job {s}",
])
def test_a_magic_refusing_a_value_that_holds_a_secret_does_not_echo_it(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, secret, line
):
    monkeypatch.setenv("DLI_SK", secret)
    shell.user_ns["s"] = secret  # e.g. s = os.environ["DLI_SK"], then a line that uses $s
    result = shell.run_cell(line)
    assert result.error_in_exec is not None
    text = _everything(result, capsys)
    assert "***" in text
    assert_no_secrets(text, extra=(secret,))
    assert dli_env.request_log() == []


@pytest.mark.parametrize("line", [
    "%dli_run 138 --chunk-size {secret}",  # argparse quotes it with repr: the backslash doubled
    "%dli_run 138 --out {secret}",
    "%dli_history --limit $s",  # IPython's split of the line drops the backslash
    "%dli_run {{map(int, [s])}}",  # fails while the ids are read, after the expression was evaluated
    "%dli_run {{({{}})[s]}}",  # KeyError quotes it with repr
])
def test_a_secret_with_a_backslash_is_masked_in_the_forms_a_message_quotes_it(
    shell, dli_env, monkeypatch, capsys, secret, line
):
    password = f"Pw\\{secret}"  # an IAM password may hold any character
    monkeypatch.setenv("DLI_PASSWORD", password)
    shell.user_ns["s"] = password
    result = shell.run_cell(line.format(secret=password))
    assert result.error_in_exec is not None
    text = _everything(result, capsys)
    assert secret[-12:] not in text  # no form of it: as given, escaped, or without the backslash
    assert dli_env.request_log() == []


def _profile(text: str) -> None:
    path = config.default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_dry_run_and_dli_config_mask_a_value_that_is_another_profiles_secret(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, secret
):
    # project_id of the settings in use is the password of a profile this call does not use
    monkeypatch.setenv("DLI_PROJECT_ID", secret)
    _profile(f'[other]\npassword = "{secret}"\n')
    table = shell.run_cell("%dli_config").result  # first: nothing has looked for secrets yet
    assert table.set_index("setting").loc["project_id", "value"] == "***"
    SCRUBBER.clear()  # the dry run on its own
    dry = shell.run_cell("%dli_run 138 --dry-run")
    shown = capsys.readouterr().out  # the request it would send
    assert "X-Project-Id: ***" in shown and "/v1.0/***/streaming" in shown
    assert_no_secrets(shown, str(dry.result.attrs["request"]), table.to_string(), extra=(secret,))
    assert dli_env.request_log() == []


def test_a_restart_stopped_by_a_failing_callback_records_its_text_masked(dli_env, capfd, secret):
    _profile(f'[other]\npassword = "{secret}"\n')  # a profile this call does not use

    def on_step(label):
        raise RuntimeError(f"step failed with {secret}")

    dli_magic.run_jobs([138], wait=True)
    frame = dli_magic.restart_jobs([138], on_step=on_step)
    recorded = dli_magic.history()
    texts = [str(frame.attrs), frame.to_string(), recorded.to_string(), str(recorded["options"].tolist()),
             capfd.readouterr().err]
    assert "RuntimeError: step failed with ***" in str(frame.attrs["errors"])
    assert all(secret not in text for text in texts)


def test_an_unreadable_profile_file_while_looking_for_secrets_changes_no_error(dli_env, monkeypatch, secret):
    # Looking for the secrets in use reads the profile file, whose own error must not start another look.
    monkeypatch.setenv("DLI_SK", secret)
    path = config.default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[prod\nsk = "x')
    reads = []
    load_toml = config._load_toml
    monkeypatch.setattr(config, "_load_toml", lambda p: reads.append(p) or load_toml(p))
    with pytest.raises(BadInputError, match=r"^wait must be True or False, not '\*\*\*'\.$"):
        dli_magic.run_jobs([138], wait=secret)
    assert len(reads) == 1  # one look for the secrets in use, not one more per error it meets
    with pytest.raises(ConfigError, match="is not valid TOML"):
        dli_magic.run_jobs([138])
    assert dli_env.request_log() == []


# --- notices on stderr -------------------------------------------------------------------------------


def test_notices_mask_a_secret_of_a_profile_the_call_does_not_use(dli_env, capfd, assert_no_secrets, secret):
    path = config.default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[other]\npassword = "{secret}"\n')  # this call's settings come from the environment

    def progress(counts):
        raise RuntimeError(f"progress failed with {secret}")

    dli_magic.run_jobs([138], wait=True, timeout=5, progress=progress)
    out = capfd.readouterr()
    assert "Stopped waiting: RuntimeError: progress failed with ***" in out.err
    assert_no_secrets(out.out, out.err, extra=(secret,))


def test_notices_of_the_python_api_are_scrubbed(dli_env, monkeypatch, capfd, assert_no_secrets, secret):
    monkeypatch.setenv("DLI_PASSWORD", secret)  # a secret in use in the kernel (no user: the token is used)

    def progress(counts):
        raise RuntimeError(f"progress failed with {secret}")

    frame = dli_magic.run_jobs([138], wait=True, timeout=5, progress=progress)
    out = capfd.readouterr()
    assert "Stopped waiting: RuntimeError: progress failed with ***" in out.err
    assert_no_secrets(out.out, out.err, repr(frame), str(frame.attrs), frame.to_string(), extra=(secret,))
