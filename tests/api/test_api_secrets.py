"""No secret anywhere a run leaves a trace: outputs, reprs, attrs, errors, DEBUG logs, history."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from unittest import mock

import pytest

from dli_magic.emulator.testing import (
    SENTINEL_AK,
    SENTINEL_PASSWORD,
    SENTINEL_SK,
    SENTINEL_TOKEN,
    TEST_DOMAIN,
    TEST_USER,
)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def debug_log():
    logger = logging.getLogger("dli_magic")
    handler = _Collect()
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


@pytest.mark.parametrize("method", ["token", "aksk", "password"])
def test_sentinel_secrets_never_leak(shell, emulator, monkeypatch, capsys, debug_log, assert_no_secrets, method):
    monkeypatch.setenv("DLI_ENDPOINT", emulator.url)
    monkeypatch.setenv("DLI_POLL_INTERVAL", "0.02")
    if method == "token":
        monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
        monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN)
    elif method == "aksk":
        monkeypatch.setenv("DLI_PROJECT_ID", emulator.project_id)
        monkeypatch.setenv("DLI_AK", SENTINEL_AK)
        monkeypatch.setenv("DLI_SK", SENTINEL_SK)
    else:
        monkeypatch.setenv("DLI_REGION", "eu-de")
        with mock.patch("getpass.getpass", return_value=SENTINEL_PASSWORD):
            shell.run_line_magic("dli_login", f"--password --username {TEST_USER} --domain {TEST_DOMAIN}")

    traces: list[str] = []
    cells = [
        "df = %dli_run 138 204 99999 --wait",
        "%dli_run 138 204 --dry-run",
        "%dli_stop 138 --trigger-savepoint --wait",
        "%dli_run 130 --strict",
        "%dli_jobs --status job_running",
        "%dli_config",
        "%dli_history",
        "%dli_run 1 --token " + SENTINEL_TOKEN,
        "%dli_config sk=" + SENTINEL_SK,
        "repr(get_ipython().find_line_magic('dli_run').__self__.client())",
        "repr(get_ipython().find_line_magic('dli_run').__self__.settings())",
    ]
    for cell in cells:
        result = shell.run_cell(cell)
        if result.error_in_exec is not None:
            error = result.error_in_exec
            traces += [str(error), repr(error), "\n".join(getattr(error, "_render_traceback_", lambda: [])())]
        if result.result is not None:
            traces.append(repr(result.result))
    df = shell.user_ns["df"]
    traces += [df.to_string(), repr(df.attrs), df.to_json()]
    # Requests really went out with the credentials (the test would be vacuous otherwise).
    assert df["is_success"].tolist() == [True, True, False]
    # With a failing token too: the error path.
    monkeypatch.setenv("DLI_AUTH_TOKEN", SENTINEL_TOKEN + "-stale")
    traces.append(str(shell.run_cell("%dli_run 138").error_in_exec))
    captured = capsys.readouterr()
    traces += [captured.out, captured.err, "\n".join(debug_log.lines)]
    history = Path(os.environ["DLI_HISTORY_PATH"])
    stored = [path for path in history.parent.iterdir() if path.name.startswith(history.name)]  # + -wal, -journal
    assert history in stored
    traces += [path.read_bytes().decode("utf-8", "replace") for path in stored]
    assert debug_log.lines, "DEBUG logging produced no records: the grep would prove nothing"
    assert_no_secrets(*traces)
