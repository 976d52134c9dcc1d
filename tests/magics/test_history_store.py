"""Run history in SQLite: across sessions, off switch, broken files, no secrets."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from dli_magic import history
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.history import HISTORY_COLUMNS
from dli_magic.results import JobOutcome, outcomes_frame


def _frame(action="run", ids=(1, 2), ok=(True, False), **attrs):
    outcomes = [JobOutcome(i, s, f"msg {i}", request_id="rq-1", name=f"n{i}", status="job_running") for i, s in zip(ids, ok)]
    base = {"action": action, "endpoint": "https://user:pw@dli.example.com:8443/x?token=abc",
            "project_id": "p1", "resume_savepoint": True, "started": "2026-01-01T00:00:00+00:00",
            "finished": "2026-01-01T00:00:01+00:00", "attempts": 3, "requests": 1, "dry_run": False}
    base.update(attrs)
    return outcomes_frame(outcomes, attrs=base)


def test_record_and_load_round_trip(tmp_path):
    path = tmp_path / "h.sqlite"
    run_id = history.record(_frame(), path=path)
    assert run_id
    frame = history.load(path)
    assert [(c, str(t)) for c, t in frame.dtypes.items()] == [(c, t) for c, t in HISTORY_COLUMNS]
    assert frame["run_id"].tolist() == [run_id, run_id]
    assert frame["job_id"].tolist() == [1, 2]
    assert frame["is_success"].tolist() == [True, False]
    assert frame["attempts"].tolist() == [3, 3]
    assert frame.loc[0, "started"] == pd.Timestamp("2026-01-01T00:00:00Z")
    # No credentials of the endpoint URL reach the file.
    assert frame.loc[0, "endpoint"] == "https://dli.example.com:8443/x"
    assert '"resume_savepoint": true' in frame.loc[0, "options"]


def test_limit_is_the_latest_runs(tmp_path):
    path = tmp_path / "h.sqlite"
    first = history.record(_frame(ids=(1,), ok=(True,)), path=path)
    second = history.record(_frame(ids=(2, 3), ok=(True, None)), path=path)
    assert history.load(path, limit=1)["run_id"].unique().tolist() == [second]
    assert history.load(path)["run_id"].unique().tolist() == [first, second]
    assert history.load(path)["is_success"].isna().tolist() == [False, False, True]


def test_dry_runs_and_disabled_history_record_nothing(tmp_path):
    path = tmp_path / "h.sqlite"
    assert history.record(_frame(dry_run=True), path=path) is None

    class Off:
        history = False
        history_path = str(path)

    assert history.record(_frame(), settings=Off()) is None
    assert not path.exists()


def test_a_broken_history_file_warns_and_never_raises(tmp_path):
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(RuntimeWarning, match="could not write the run history"):
        assert history.record(_frame(), path=path) is None


def test_default_path_follows_settings_env_and_xdg(tmp_path):
    class S:
        history_path = str(tmp_path / "explicit.sqlite")

    assert history.default_path(S(), {}) == tmp_path / "explicit.sqlite"
    assert history.default_path(None, {"DLI_HISTORY_PATH": "/a/b.sqlite"}) == history.Path("/a/b.sqlite")
    assert history.default_path(None, {"XDG_DATA_HOME": "/xdg"}) == history.Path("/xdg/dli-magic/history.sqlite")


def test_history_magic_across_two_sessions(shell, dli_env):
    shell.run_line_magic("dli_run", "138 204")
    # A new session: the extension is reloaded (fresh DliMagic, fresh client), same history file.
    shell.run_line_magic("reload_ext", "dli_magic")
    shell.run_line_magic("dli_stop", "130 --trigger-savepoint")
    frame = shell.run_line_magic("dli_history", "")
    assert frame["action"].tolist() == ["run", "run", "stop"]
    assert frame["job_id"].tolist() == [138, 204, 130]
    assert frame["run_id"].nunique() == 2
    assert frame["source"].unique().tolist() == ["magic"]
    assert frame["endpoint"].unique().tolist() == [dli_env.url]
    assert frame["request_id"].notna().all()
    assert shell.run_line_magic("dli_history", "--limit 1")["action"].tolist() == ["stop"]
    assert shell.run_line_magic("dli_history", "--out h") is None
    assert len(shell.user_ns["h"]) == 3


def test_history_from_another_process_is_visible(shell, dli_env):
    """A script using the Python API (another "session") records into the same file."""
    code = "import dli_magic; dli_magic.run_jobs([204])"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=60)
    shell.run_line_magic("dli_run", "138")
    frame = shell.run_line_magic("dli_history", "")
    assert frame["job_id"].tolist() == [204, 138]
    assert frame["source"].tolist() == ["api", "magic"]


def test_history_off(shell, dli_env):
    shell.run_line_magic("dli_config", "history=false")
    shell.run_line_magic("dli_run", "138")
    assert shell.run_line_magic("dli_history", "").empty
    assert not os.path.exists(os.environ["DLI_HISTORY_PATH"])


def test_broken_history_file_does_not_fail_the_run(shell, dli_env, capsys):
    with open(os.environ["DLI_HISTORY_PATH"], "wb") as fh:
        fh.write(b"garbage" * 200)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = shell.run_line_magic("dli_run", "138")
    assert df["is_success"].all()
    assert any("could not write the run history" in str(w.message) for w in caught)
    result = shell.run_cell("%dli_history")
    assert "cannot be read" in str(result.error_in_exec)


def test_history_never_holds_a_secret(shell, dli_env):
    shell.run_line_magic("dli_run", "138 99999")
    assert history.flush()  # the writer thread inserts after the cell returned
    with open(os.environ["DLI_HISTORY_PATH"], "rb") as file:
        raw = file.read()
    assert SENTINEL_TOKEN.encode() not in raw
    with sqlite3.connect(os.environ["DLI_HISTORY_PATH"]) as db:
        assert db.execute("SELECT count(*) FROM outcomes").fetchone() == (2,)


def test_python_api_history_function(dli_env):
    import dli_magic

    dli_magic.run_jobs([138])
    frame = dli_magic.history()
    assert frame["job_id"].tolist() == [138]
    assert dli_magic.history(limit=1)["job_id"].tolist() == [138]


def test_a_deleted_history_file_is_recreated_not_written_into_the_void(tmp_path):
    from dli_magic.results import JobOutcome

    path = tmp_path / "h.sqlite"
    attrs = {"action": "run", "endpoint": "http://127.0.0.1:1", "project_id": "p"}
    assert history.record_outcomes([JobOutcome(1, True, "ok")], attrs, path=path)
    assert history.flush()  # run 1 is in the file that is deleted next
    for leftover in tmp_path.iterdir():
        leftover.unlink()  # the file and its -wal / -shm companions
    assert history.record_outcomes([JobOutcome(2, True, "ok")], attrs, path=path)
    assert history.flush()  # the writer notices the deleted file and creates a new one
    assert path.exists()
    assert history.load(path)["job_id"].tolist() == [2]


@pytest.mark.parametrize(
    ("endpoint", "stored"),
    [
        ("http://user:pw@[::1]:8080/x?token=abc", "http://[::1]:8080/x"),
        ("https://[2001:DB8::1]/v1", "https://[2001:db8::1]/v1"),
        ("https://AK:SK@dli.example.com:8443/v1#t=1", "https://dli.example.com:8443/v1"),
    ],
)
def test_an_ipv6_endpoint_keeps_its_brackets(tmp_path, endpoint, stored):
    path = tmp_path / "h.sqlite"
    assert history.record(_frame(endpoint=endpoint), path=path)
    assert history.load(path)["endpoint"].unique().tolist() == [stored]
