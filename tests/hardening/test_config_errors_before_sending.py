"""Issue 10 item 3, checked on every entry point: an invalid port, a malformed endpoint or a CA bundle
that does not exist is a configuration error found before sending (one line naming the setting,
nothing sent, no retry, never "may have taken effect").

Where the value comes from does not matter: ``%dli_config`` refuses it at once, a value that
reached the settings another way (``%config``, the environment, an argument) is refused by the
call (magic, Python API, panel).
"""

from __future__ import annotations

import time

import pytest

import dli_magic
from dli_magic.errors import ConfigError

BAD_URLS = {
    "port out of range": "http://127.0.0.1:99999",
    "port zero": "http://127.0.0.1:0",
    "port not a number": "http://127.0.0.1:80x",
    "unclosed IPv6 bracket": "http://[::1",
    "space in the host": "http://exa mple.example",
    "no host": "https://",
}


def _check_refused(error: BaseException, started: float) -> None:
    assert isinstance(error, ConfigError), repr(error)
    assert "endpoint" in error.message and "\n" not in error.message
    assert error.may_have_taken_effect is False and not error.attempts
    assert time.monotonic() - started < 2  # no retry, no backoff


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_dli_config_refuses_the_endpoint_at_once(shell, dli_env, capsys, url):
    result = shell.run_cell(f'%dli_config endpoint="{url}"')  # quoted: one has a space
    _check_refused(result.error_in_exec, time.monotonic())
    assert "(from %config)" in result.error_in_exec.message
    assert "Traceback" not in capsys.readouterr().out
    assert shell.run_line_magic("dli_config", "").set_index("setting").loc["endpoint", "value"] == dli_env.url
    assert dli_env.request_log() == []


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
@pytest.mark.parametrize("layer", ["%config", "env"])
def test_the_magics_refuse_it_before_sending(shell, dli_env, monkeypatch, url, layer):
    if layer == "env":
        monkeypatch.setenv("DLI_ENDPOINT", url)
    else:
        shell.run_cell(f"%config DliMagic.endpoint = {url!r}")  # traitlets does not check the value
    for line in ("%dli_run 138", "%dli_stop 138", "%dli_jobs", "%dli_panel"):
        started = time.monotonic()
        result = shell.run_cell(line)
        _check_refused(result.error_in_exec, started)
    assert dli_env.request_log() == []


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
@pytest.mark.parametrize("call", ["run_jobs", "stop_jobs", "list_jobs", "connect", "panel"])
def test_the_python_api_and_the_panel_refuse_it_before_sending(dli_env, url, call):
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        if call in ("run_jobs", "stop_jobs"):
            getattr(dli_magic, call)([138], endpoint=url)
        else:
            getattr(dli_magic, call)(endpoint=url)
    _check_refused(info.value, started)
    assert "(from argument)" in info.value.message
    assert dli_env.request_log() == []


def test_a_missing_ca_bundle_is_a_config_error(shell, dli_env, monkeypatch, closed_port, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("DLI_ENDPOINT", f"https://127.0.0.1:{closed_port}")
    for line in ("%dli_run 138", "%dli_jobs"):
        started = time.monotonic()
        error = shell.run_cell(line).error_in_exec
        assert isinstance(error, ConfigError), repr(error)
        assert error.message == (
            "The CA bundle named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE does not exist or cannot be read. "
            "Nothing was sent."
        )
        assert error.may_have_taken_effect is False and time.monotonic() - started < 2
    with pytest.raises(ConfigError, match="CA bundle"):
        dli_magic.run_jobs([138])
    assert dli_env.request_log() == []


@pytest.mark.parametrize("proxy", ["http://[::1", "http://proxy.example:notaport"])
def test_a_proxy_url_that_is_not_one_is_a_config_error(shell, dli_env, monkeypatch, proxy):
    # localhost, not 127.0.0.1: NO_PROXY's defaults never exempt it, so the proxy variable is read
    monkeypatch.setenv("DLI_ENDPOINT", dli_env.url.replace("127.0.0.1", "localhost"))
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "")
    for run in (lambda: shell.run_cell("%dli_run 138").error_in_exec, lambda: _raised(dli_magic.list_jobs)):
        started = time.monotonic()
        error = run()
        assert isinstance(error, ConfigError), repr(error)
        assert error.message.startswith("The proxy the environment names for this endpoint is not a valid URL")
        assert error.may_have_taken_effect is False and time.monotonic() - started < 2
    assert dli_env.request_log() == []


def _raised(call) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # the error itself is what the test looks at
        return exc
    return None
