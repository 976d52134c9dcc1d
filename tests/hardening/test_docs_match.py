"""Issue 10 item 9: what the README promises about settings, ids, errors and limits is what happens.

Each number or promise is read from the README's text and checked against a run (or the one constant
the code uses), so an edit to either side that makes them disagree fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dli_magic
from dli_magic import config, ids, runlog
from dli_magic.errors import BadInputError, ConfigError

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _flat() -> str:
    return " ".join(README.split())


def test_the_limits_in_the_readme_are_the_ones_enforced(shell, dli_env):
    text = _flat()
    assert "One call takes at most 100,000 ids, in every form" in text
    assert "more than 300 requests (ids / chunk size) is refused unless you add `--yes` (`yes=True`" in text
    assert ids.MAX_JOB_IDS == 100_000 and ids.MAX_REQUESTS_UNCONFIRMED == 300
    assert isinstance(shell.run_cell("%dli_run 1-100001 --dry-run").error_in_exec, BadInputError)
    assert shell.run_cell("%dli_run 1-100000 --dry-run").error_in_exec is None
    assert isinstance(shell.run_cell("%dli_run 1-301 --chunk-size 1").error_in_exec, BadInputError)
    assert dli_env.request_log() == []


def test_the_bad_inputs_the_readme_lists_are_short_errors_that_send_nothing(shell, dli_env, capsys):
    listed = re.search(r"Bad input \((.*?)\) gives a short error", _flat()).group(1)
    tokens = re.findall(r"`([^`]+)`", listed)
    assert tokens == ["abc", "1.5", "0", "138-130", "$name"]
    for token in tokens:
        error = shell.run_cell(f"%dli_run {token.replace('$name', '$undefined_name')}").error_in_exec
        assert isinstance(error, BadInputError), token
        assert "Traceback" not in capsys.readouterr().out
    example = re.search(r"\(e\.g\. `(Bad range .*?)`\)", _flat()).group(1)
    assert shell.run_cell("%dli_run 138-130").error_in_exec.message == example
    assert dli_env.request_log() == []


def test_the_settings_order_in_the_readme_is_the_ranking(tmp_path):
    text = _flat()
    order = re.search(r"The first source that has a value wins: 1\. (.*?) 2\. (.*?) 3\. (.*?) 4\. (.*?) 5\. ", text)
    assert "explicit arguments" in order.group(1) and "%dli_login" in order.group(2)
    assert "%config" in order.group(3) and "environment" in order.group(4)
    ranks = [config.source_rank(s) for s in ("argument", "%dli_login", "%config", "env DLI_ENDPOINT",
                                             f"profile default ({tmp_path})")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 5
    # "rank it right after explicit arguments (above %dli_login and %config)"; "right above the environment"
    call = config.source_rank(f"profile k9 ({tmp_path}){config.CHOSEN_FOR_CALL}")
    session = config.source_rank(f"profile k9 ({tmp_path}){config.CHOSEN_BY}DLI_PROFILE")
    assert config.source_rank("argument") < call < config.source_rank("%dli_login")
    assert config.source_rank("%config") < session < config.source_rank("env DLI_ENDPOINT")
    assert "rank it right after explicit arguments (above `%dli_login` and `%config`)" in text
    assert "`%dli_config profile=NAME` or `DLI_PROFILE` right above the environment" in text


def test_the_region_promise_holds():
    text = _flat()
    assert "A region set at a higher layer than an endpoint it does not match is refused, naming both layers" in text
    with pytest.raises(ConfigError, match=r"region='eu-nl' \(from %config\) does not match endpoint="):
        config.resolve_settings(magic_config={"region": "eu-nl"},
                                environ={"DLI_ENDPOINT": "https://dli.eu-de.otc.t-systems.com"})
    s = config.resolve_settings(magic_config={"region": "eu-nl", "endpoint": "https://dli.eu-nl.otc.t-systems.com"},
                                environ={"DLI_ENDPOINT": "https://dli.eu-de.otc.t-systems.com"})
    assert s.endpoint == "https://dli.eu-nl.otc.t-systems.com"
    assert "%dli_config region=eu-nl endpoint=https://dli.eu-nl.otc.t-systems.com" in text


def test_the_profile_file_path_in_the_readme(monkeypatch, tmp_path):
    assert "`~/.config/dli-magic/config.toml` (under `$XDG_CONFIG_HOME` when set)" in _flat()
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.default_profile_path() == tmp_path / ".config" / "dli-magic" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "x"))
    assert config.default_profile_path() == tmp_path / "x" / "dli-magic" / "config.toml"
    # The settings name the file as every message does, however the variable spells the directory.
    environ = {"XDG_CONFIG_HOME": f"{tmp_path}//x/./"}
    (tmp_path / "x" / "dli-magic").mkdir(parents=True)
    (tmp_path / "x" / "dli-magic" / "config.toml").write_text('[default]\npoll_interval = 3\n')
    settings = config.resolve_settings(environ=environ)
    assert settings.poll_interval == 3
    assert settings.sources["poll_interval"] == f"profile default ({tmp_path / 'x' / 'dli-magic' / 'config.toml'})"
    assert str(config.default_profile_path(environ)) == str(tmp_path / "x" / "dli-magic" / "config.toml")


def test_proxies_are_read_on_every_call_as_the_readme_says(dli_env, client_settings, monkeypatch, closed_port):
    assert "are read from the environment on every call" in _flat()
    # localhost, not 127.0.0.1: requests never proxies an IP literal that NO_PROXY's defaults exempt
    settings = client_settings(dli_env, endpoint=dli_env.url.replace("127.0.0.1", "localhost"), max_retries=0)
    client = dli_magic.connect(**settings)
    try:
        client.list_jobs()
        before = len(dli_env.request_log())
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
        monkeypatch.setenv("NO_PROXY", "")
        with pytest.raises(dli_magic.errors.TransportError, match="connection refused"):
            client.list_jobs()  # the same client: the new proxy was read for this call
        assert len(dli_env.request_log()) == before
    finally:
        client.close()


def test_the_history_wait_in_the_readme(shell):
    assert "A file locked by another process is waited for 0.25 s at most" in _flat()
    assert runlog.BUSY_TIMEOUT == 0.25


def test_every_file_in_the_readme_layout_exists():
    root = Path(__file__).resolve().parents[2]
    layout = README.split("## Layout", 1)[1]
    paths = re.findall(r"^(dli_magic/\S+|notebooks/|tests/)", layout, flags=re.M)
    assert len(paths) > 15
    for path in paths:
        assert (root / path).exists(), path
    modules = {p.name for p in (root / "dli_magic").glob("*.py")}
    for name in ("http.py", "batch.py", "redaction.py", "config.py", "ids.py", "idargs.py"):
        assert name in modules and name in layout


def test_the_magic_help_defaults_are_the_settings_defaults(shell):
    from dli_magic.magics import DliMagic

    parser_help = DliMagic.dli_run.parser.format_help()
    defaults = config.Settings()
    assert f"default: chunk_size, {defaults.chunk_size}" in parser_help
    assert f"default: wait_timeout, {defaults.wait_timeout:g}" in parser_help
    assert "--yes" in parser_help and "300 requests" in parser_help
