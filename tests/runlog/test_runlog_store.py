"""The run log in SQLite: schema, across sessions and processes, off switch, broken files, no secrets."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import warnings
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from dli_magic import runlog
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.results import JobOutcome, outcomes_frame
from dli_magic.runlog import HISTORY_COLUMNS


def _frame(action="run", ids=(1, 2), ok=(True, False), **attrs):
    outcomes = [JobOutcome(i, s, f"msg {i}", request_id="rq-1", name=f"n{i}", status="job_running")
                for i, s in zip(ids, ok)]
    base = {"action": action, "endpoint": "https://user:pw@dli.example.com:8443/x?token=abc",
            "project_id": "p1", "resume_savepoint": True, "started": "2026-01-01T00:00:00+00:00",
            "finished": "2026-01-01T00:00:01+00:00", "attempts": 3, "requests": 1, "dry_run": False}
    base.update(attrs)
    return outcomes_frame(outcomes, attrs=base)


def test_record_and_load_round_trip(tmp_path):
    path = tmp_path / "h.sqlite"
    run_id = runlog.record(_frame(), path=path)
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{12}", run_id)  # UTC time of recording, 48 random bits
    assert runlog.record(_frame(), path=tmp_path / "other.sqlite") != run_id
    frame = runlog.load(path)
    assert [(c, str(t)) for c, t in frame.dtypes.items()] == [(c, t) for c, t in HISTORY_COLUMNS]
    assert frame["run_id"].tolist() == [run_id, run_id]
    assert frame["job_id"].tolist() == [1, 2]
    assert frame["is_success"].tolist() == [True, False]
    assert frame["attempts"].tolist() == [3, 3]
    assert frame.loc[0, "started"] == pd.Timestamp("2026-01-01T00:00:00Z")
    # No credentials of the endpoint URL reach the file.
    assert frame.loc[0, "endpoint"] == "https://dli.example.com:8443/x"
    assert '"resume_savepoint": true' in frame.loc[0, "options"]
    assert frame.attrs["path"] == str(path)


def test_limit_is_the_latest_runs(tmp_path):
    path = tmp_path / "h.sqlite"
    first = runlog.record(_frame(ids=(1,), ok=(True,)), path=path)
    second = runlog.record(_frame(ids=(2, 3), ok=(True, None)), path=path)
    assert runlog.load(path, limit=1)["run_id"].unique().tolist() == [second]
    assert runlog.load(path)["run_id"].unique().tolist() == [first, second]
    assert runlog.load(path)["is_success"].isna().tolist() == [False, False, True]


def test_dry_runs_and_disabled_history_record_nothing(tmp_path):
    path = tmp_path / "h.sqlite"
    assert runlog.record(_frame(dry_run=True), path=path) is None

    class Off:
        history = False
        history_path = str(path)

    assert runlog.record(_frame(), settings=Off()) is None
    assert not path.exists()


def test_a_broken_history_file_warns_and_never_raises(tmp_path, record, runs_in):
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(RuntimeWarning, match="could not write the run history") as caught:
        assert runlog.record(_frame(), path=path) is None  # not recorded: nothing to retry
    assert "DatabaseError" in str(caught[0].message)
    good = tmp_path / "good.sqlite"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing pending from the broken file: no warning here
        run_id = record(good, [5])
    assert runs_in(good) == [(run_id, [5])]


def test_default_path_follows_settings_env_and_xdg(tmp_path):
    class S:
        history_path = str(tmp_path / "explicit.sqlite")

    assert runlog.default_path(S(), {}) == tmp_path / "explicit.sqlite"
    assert runlog.default_path(None, {"DLI_HISTORY_PATH": "/a/b.sqlite"}) == Path("/a/b.sqlite")
    assert runlog.default_path(None, {"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/dli-magic/history.sqlite")
    assert runlog.default_path(None, {"DLI_HISTORY_PATH": "~/h.sqlite"}) == Path.home() / "h.sqlite"


def test_a_run_is_in_the_file_for_another_process_when_the_call_returns(tmp_path, record):
    path = tmp_path / "h.sqlite"
    run_id = record(path, [1, 2])
    code = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "print(db.execute('SELECT r.run_id, count(*) FROM runs r JOIN outcomes o ON o.run_seq = r.seq"
        " GROUP BY r.seq').fetchall())\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr([(run_id, 2)])


def test_recording_starts_no_thread():
    code = (
        "import threading\n"
        "from dli_magic import runlog\n"
        "from dli_magic.results import JobOutcome\n"
        "import sys\n"
        "runlog.record_outcomes([JobOutcome(1, True, 'ok')], {'action': 'run'}, path=sys.argv[1])\n"
        "runlog.load(sys.argv[1])\n"
        "print(len(runlog.load(sys.argv[1])), [t.name for t in threading.enumerate()])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, os.environ["DLI_HISTORY_PATH"]], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["1", "['MainThread']\n"]


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


def test_broken_history_file_does_not_fail_the_run(shell, dli_env):
    with open(os.environ["DLI_HISTORY_PATH"], "wb") as fh:
        fh.write(b"garbage" * 200)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = shell.run_line_magic("dli_run", "138")
    assert df["is_success"].all()
    assert "history_run_id" not in df.attrs  # not recorded, and the frame does not claim it was
    assert any("could not write the run history" in str(w.message) for w in caught)
    result = shell.run_cell("%dli_history")
    assert "cannot be read" in str(result.error_in_exec)


def test_history_never_holds_a_secret(shell, dli_env):
    df = shell.run_line_magic("dli_run", "138 99999")
    # In the file when the magic returns: nothing to wait for.
    with open(os.environ["DLI_HISTORY_PATH"], "rb") as file:
        raw = file.read()
    wal = Path(os.environ["DLI_HISTORY_PATH"] + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert SENTINEL_TOKEN.encode() not in raw
    with closing(sqlite3.connect(os.environ["DLI_HISTORY_PATH"])) as db:
        assert db.execute("SELECT count(*) FROM outcomes").fetchone() == (2,)
        assert db.execute("SELECT run_id FROM runs").fetchall() == [(df.attrs["history_run_id"],)]


def test_python_api_history_function(dli_env):
    import dli_magic

    dli_magic.run_jobs([138])
    frame = dli_magic.history()
    assert frame["job_id"].tolist() == [138]
    assert dli_magic.history(limit=1)["job_id"].tolist() == [138]


def test_a_deleted_history_file_is_recreated_not_written_into_the_void(tmp_path, record, runs_in):
    path = tmp_path / "h.sqlite"
    assert record(path, [1])
    for leftover in tmp_path.iterdir():
        leftover.unlink()  # the file and its -wal / -shm companions, while this process has it open
    run_id = record(path, [2])
    assert path.exists()
    assert runs_in(path) == [(run_id, [2])]
    assert runlog.load(path)["job_id"].tolist() == [2]


@pytest.mark.parametrize(
    ("endpoint", "stored"),
    [
        ("http://user:pw@[::1]:8080/x?token=abc", "http://[::1]:8080/x"),
        ("https://[2001:DB8::1]/v1", "https://[2001:db8::1]/v1"),
        ("https://AK:SK@dli.example.com:8443/v1#t=1", "https://dli.example.com:8443/v1"),
    ],
)
def test_an_endpoint_is_stored_without_credentials_and_ipv6_keeps_its_brackets(tmp_path, endpoint, stored):
    path = tmp_path / "h.sqlite"
    assert runlog.record(_frame(endpoint=endpoint), path=path)
    assert runlog.load(path)["endpoint"].unique().tolist() == [stored]


def test_a_file_of_an_older_version_gains_the_new_columns(tmp_path):
    """A history written before status_desc/healthy/savepoint_path existed: its runs read as <NA>
    there, and the next run is written with them."""
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(str(path))) as db:
        db.executescript(
            "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT UNIQUE NOT NULL, action TEXT,"
            " started TEXT, finished TEXT, endpoint TEXT, project_id TEXT, options TEXT, attempts INTEGER, source TEXT);"
            "CREATE TABLE outcomes (run_seq INTEGER NOT NULL, position INTEGER NOT NULL, job_id INTEGER, name TEXT,"
            " is_success INTEGER, message TEXT, status TEXT, request_id TEXT);"
            "INSERT INTO runs (run_id, action, started, finished) VALUES"
            " ('old-1', 'stop', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:01+00:00');"
            "INSERT INTO outcomes VALUES (1, 0, 131, 'orders', 1, 'ok', 'job_canceling', 'rq-0');"
        )
    assert runlog.load(path)["status_desc"].tolist() == [pd.NA]  # read before any write
    outcome = JobOutcome(131, True, "ok", status="job_cancel_success", status_desc="stopped by user",
                         healthy=None, savepoint_path="obs://b/131/savepoint/s-9")
    runlog.record_outcomes([outcome], {"action": "stop", "started": "2026-01-02T00:00:00+00:00",
                                       "finished": "2026-01-02T00:00:01+00:00"}, path=path)
    frame = runlog.load(path)
    assert frame["run_id"].tolist()[0] == "old-1"
    assert frame["savepoint_path"].tolist() == [pd.NA, "obs://b/131/savepoint/s-9"]
    assert frame["status_desc"].tolist() == [pd.NA, "stopped by user"]
    assert frame["healthy"].tolist() == [pd.NA, pd.NA]
