"""The run log: every run/stop outcome of this and earlier sessions, in a local SQLite file.

Plain Python (no IPython) so the magics, the Python API and the panel all record the same way:
``record_outcomes`` / ``record_rows`` / ``record`` after a call, ``load()`` for ``%dli_history`` and
``dli_magic.history()``. Only what the result frame holds is stored (ids, names, outcomes, request
ids, endpoint without credentials): never a token, key or password.

A run is written on the caller's thread, in WAL mode, before the call returns: another process sees
it at once. A history problem never fails a call. A file that another process (or thread) is writing
is waited for ``BUSY_TIMEOUT`` seconds at most; a write that fails leaves its runs on this process'
pending list, which the next record, ``load()`` and interpreter exit retry, and is reported as a
RuntimeWarning at the caller's line. At exit, every run still not written is listed on stderr.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sqlite3
import sys
import threading
import time
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import attrgetter
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from .errors import DLIError
from .redaction import scrub
from .results import OUTCOME_COLUMNS

HISTORY_ENV = "DLI_HISTORY_PATH"

# The `%dli_history` schema (one row per job outcome), oldest run first.
HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "string"),
    ("action", "string"),
    ("started", "datetime64[ns, UTC]"),
    ("finished", "datetime64[ns, UTC]"),
    ("endpoint", "string"),
    ("project_id", "string"),
    ("options", "string"),
    *OUTCOME_COLUMNS,  # the run/stop result schema, one place (results.py)
    ("attempts", "Int64"),
    ("source", "string"),
    ("wait", "string"),  # WAIT_STATES, or "kernel died while waiting"
)

# How a run's wait ended (the runs table's wait_state). A run is recorded "waiting" right after its
# request, and again when the wait ends; one still "waiting" whose process is gone is shown as
# "kernel died while waiting" and can be re-attached (``%dli_wait RUN_ID``).
WAIT_STATES = ("not waited", "waiting", "finished", "timed out", "stopped waiting", "wait failed",
               "not waited: interpreter exited")
DIED_WHILE_WAITING = "kernel died while waiting"

# The outcome columns stored per job, in table order.
_OUTCOME_FIELDS = tuple(name for name, _ in OUTCOME_COLUMNS)

# attrs keys of a result frame that describe how the call was made (stored as JSON `options`).
_OPTION_KEYS = (
    "resume_savepoint",
    "trigger_savepoint",
    "wait",
    "timeout",
    "strict",
    "chunk_size",
    "requests",
    "wait_timed_out",
    "wait_interrupted",
    # restart / savepoint (dli_magic.restart): each job's steps, so the history keeps them
    "stable",
    "allow_no_savepoint",
    "start_stopped",
    "savepoint_dir",
    "halted",
    "steps",
)

# Outcome columns are those of OUTCOME_COLUMNS; a file made by an older version gains the
# missing ones when it is opened (their values in older runs are NULL: <NA>).
_SQL_TYPES = {"Int64": "INTEGER", "boolean": "INTEGER"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT UNIQUE NOT NULL,
    action TEXT, started TEXT, finished TEXT, endpoint TEXT, project_id TEXT,
    options TEXT, attempts INTEGER, source TEXT
);
CREATE TABLE IF NOT EXISTS outcomes (
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    position INTEGER NOT NULL,
    job_id INTEGER, name TEXT, is_success INTEGER, message TEXT, status TEXT, request_id TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_run ON outcomes(run_seq, position);
"""


# Columns of `runs` added after its first version.
_RUN_COLUMNS_ADDED = (("wait_state", "TEXT"), ("waiter", "TEXT"))


def _add_missing_outcome_columns(connection: sqlite3.Connection) -> None:
    present = {row[1] for row in connection.execute("PRAGMA table_info(outcomes)")}
    for name, dtype in OUTCOME_COLUMNS:
        if name not in present:
            _add_column(connection, f"ALTER TABLE outcomes ADD COLUMN {name} {_SQL_TYPES.get(dtype, 'TEXT')}")
    present = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    for name, sql_type in _RUN_COLUMNS_ADDED:
        if name not in present:
            _add_column(connection, f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")


def _add_column(connection: sqlite3.Connection, statement: str) -> None:
    try:
        connection.execute(statement)
    except sqlite3.OperationalError as exc:
        if "duplicate column name" not in str(exc):  # another process added it first: fine
            raise


# A run retried after an attempt that did write it (interrupted before the run left the pending
# list) is not written twice.
_RUN_FIELDS = "run_id, action, started, finished, endpoint, project_id, options, attempts, source, wait_state, waiter"
_INSERT_RUN = f"INSERT INTO runs ({_RUN_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO NOTHING"
# A run recorded again when its wait ends: the same run id, its row and outcomes replaced.
_REPLACE_RUN = (
    f"INSERT INTO runs ({_RUN_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET "
    "finished = excluded.finished, options = excluded.options, attempts = excluded.attempts, "
    "wait_state = excluded.wait_state, waiter = excluded.waiter"
)
_INSERT_OUTCOMES = (
    f"INSERT INTO outcomes (run_seq, position, {', '.join(_OUTCOME_FIELDS)})"
    f" VALUES (?, ?, {', '.join('?' for _ in _OUTCOME_FIELDS)})"
)

BUSY_TIMEOUT = 0.25  # seconds a record or load() waits at most for a file someone else is writing
_EXIT_TIMEOUT = 2.0  # at interpreter exit no cell is waiting: pending runs get a longer chance
_READ_TIMEOUT = 5.0  # load() reading: WAL readers seldom wait, and a short wait beats an error

# What one run's values can cause: only that run is refused, the others of its transaction are written.
_RUN_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               OverflowError)
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED: someone else is writing; the file itself is fine

_RETRY_NOTE = "retried on the next run, by `%dli_history` / `dli_magic.history()` and at exit"
_PACKAGE = __name__.partition(".")[0]


def default_path(settings: Any = None, environ: Mapping[str, str] | None = None) -> Path:
    """settings.history_path, else $DLI_HISTORY_PATH, else the XDG user data dir."""
    environ = os.environ if environ is None else environ
    configured = getattr(settings, "history_path", None) or environ.get(HISTORY_ENV)
    if configured:
        return Path(configured).expanduser()
    data_home = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "dli-magic" / "history.sqlite"


def enabled(settings: Any = None) -> bool:
    return bool(getattr(settings, "history", True))


def public_endpoint(endpoint: Any) -> str | None:
    """The endpoint without user info or query: nothing secret may reach the file."""
    if not endpoint:
        return None
    parts = urlsplit(str(endpoint))
    host = parts.hostname or ""
    if ":" in host:  # IPv6: hostname has lost the brackets the URL needs
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _target(path: str | os.PathLike | None, settings: Any) -> Path:
    # Absolute now: a relative DLI_HISTORY_PATH means the directory of the call, also for a run
    # that is retried after a %cd.
    return Path(os.path.abspath(path if path is not None else default_path(settings)))


def _file_id(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _BUSY_CODES  # extended codes keep the primary one in the low byte
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(eq=False)  # compared and hashed by identity: the same run may be pending and retried
class _Run:
    key: str  # the file, absolute
    row: tuple  # the `runs` row; row[0] is the run id
    outcomes: list[tuple]  # (position, *OUTCOME_COLUMNS values) per job
    replace: bool = False  # a second record of the same run (its wait ended): replaces the first

    @property
    def run_id(self) -> str:
        return self.row[0]


def _runs_text(runs: list[_Run]) -> str:
    if len(runs) == 1:
        return f"run {runs[0].run_id} is"
    return f"{len(runs)} runs ({runs[0].run_id} to {runs[-1].run_id}) are"


def _pending_message(key: str, runs: list[_Run], reason: str) -> str:
    return (f"dli-magic could not write the run history to {key} ({reason}); the jobs themselves are "
            f"unaffected, but {_runs_text(runs)} not in the history yet: {_RETRY_NOTE}.")


def _refused_message(key: str, run: _Run, exc: BaseException) -> str:
    return (f"dli-magic could not write the run history to {key} ({_reason(exc)}); the jobs themselves are "
            f"unaffected, but run {run.run_id} is not in the history.")


def _unusable_message(key: str, run: _Run, exc: BaseException) -> str:
    return (f"dli-magic could not write the run history to {key} ({_reason(exc)}); the jobs themselves are "
            f"unaffected, but run {run.run_id} is not in the history. Set DLI_HISTORY_PATH or "
            f"`history = false` to change this.")


@dataclass
class _Report:
    """What one write attempt could not do, as messages for the user."""

    recorded: bool = True  # False: the new run is not in the history and not pending either
    lost: list[str] = field(default_factory=list)  # runs that will never be written
    pending: list[str] = field(default_factory=list)  # runs kept for a retry

    def text(self) -> str:
        return "\n".join([*self.lost, *self.pending])


class _Log:
    """This process' open files and pending runs."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()  # one writer at a time: the connections and their transactions
        self.pending_lock = threading.Lock()  # guards `pending`; held for list operations only
        self.pending: list[_Run] = []  # recorded, not written yet, in recording order
        self.reasons: dict[str, str] = {}  # file → why its last write failed
        # One connection per file: reopened when the file was deleted or replaced, as writing on
        # would go to a file nobody reads.
        self.connections: dict[str, tuple[sqlite3.Connection, tuple[int, int] | None]] = {}

    def add(self, run: _Run) -> None:
        with self.pending_lock:
            self.pending.append(run)

    def pending_runs(self, key: str | None = None) -> list[_Run]:
        with self.pending_lock:
            return [run for run in self.pending if key is None or run.key == key]

    def connection(self, key: str, timeout: float) -> sqlite3.Connection:
        """The file's connection, opened (created, WAL mode, schema) if needed. Hold `lock`."""
        cached = self.connections.get(key)
        if cached is not None:
            if _file_id(key) == cached[1]:
                return cached[0]
            self.forget(key)
        Path(key).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the transactions below are explicit.
        connection = sqlite3.connect(key, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; no fsync per run
            connection.executescript(_SCHEMA)
            _add_missing_outcome_columns(connection)
        except BaseException:
            connection.close()
            raise
        self.connections[key] = (connection, _file_id(key))
        return connection

    def forget(self, key: str) -> None:
        cached = self.connections.pop(key, None)
        if cached is not None:
            try:
                cached[0].close()
            except sqlite3.Error:
                pass

    def _insert(self, key: str, runs: list[_Run], timeout: float,
                connection: sqlite3.Connection | None = None) -> list[tuple[_Run, BaseException]]:
        """One transaction for one file's runs, each in a savepoint when there are several; the runs
        refused. ``connection``: the file's, when the caller has just opened or checked it. Hold `lock`."""
        if connection is None:
            connection = self.connection(key, timeout)
        connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        connection.execute("BEGIN IMMEDIATE")  # the write lock now, or an error after the busy timeout
        refused = []
        several = len(runs) > 1  # one run alone: refusing it is rolling the transaction back
        try:
            for run in runs:
                if several:
                    connection.execute("SAVEPOINT run")
                try:
                    if run.replace:
                        connection.execute(_REPLACE_RUN, run.row)
                        (seq,) = connection.execute("SELECT seq FROM runs WHERE run_id = ?", (run.run_id,)).fetchone()
                        connection.execute("DELETE FROM outcomes WHERE run_seq = ?", (seq,))
                        connection.executemany(_INSERT_OUTCOMES, [(seq, *row) for row in run.outcomes])
                        cursor = None
                    else:
                        cursor = connection.execute(_INSERT_RUN, run.row)
                    if cursor is not None and cursor.rowcount:
                        seq = cursor.lastrowid
                        connection.executemany(_INSERT_OUTCOMES, [(seq, *row) for row in run.outcomes])
                except _RUN_ERRORS as exc:
                    refused.append((run, exc))
                    if not several:
                        connection.execute("ROLLBACK")
                        return refused
                    connection.execute("ROLLBACK TO run")
                if several:
                    connection.execute("RELEASE run")
            connection.execute("COMMIT")
        except BaseException:
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return refused

    def _drain(self, deadline: float, first: str | None, report: _Report,
               opened: sqlite3.Connection | None = None) -> None:
        """Write every pending run, one transaction per file (`first` first, on `opened` when the
        caller has just opened or checked its connection). Hold `lock`."""
        by_file: dict[str, list[_Run]] = {first: []} if first else {}
        for run in self.pending_runs():
            by_file.setdefault(run.key, []).append(run)
        done: set[_Run] = set()
        for key, runs in by_file.items():
            if not runs:
                continue
            try:
                # Past the deadline still one try, without waiting: a free file is written at once.
                refused = self._insert(key, runs, max(0.0, deadline - time.monotonic()),
                                       opened if key == first else None)
            except Exception as exc:  # the runs stay pending; the next attempt reopens the file
                self.forget(key)
                self.reasons[key] = _reason(exc)
                report.pending.append(_pending_message(key, runs, self.reasons[key]))
                continue
            self.reasons.pop(key, None)
            done.update(runs)
            report.lost += [_refused_message(key, run, exc) for run, exc in refused]
        if done:
            with self.pending_lock:
                self.pending = [run for run in self.pending if run not in done]

    def write(self, run: _Run | None, timeout: float) -> _Report:
        """Add `run` (if any) and write every pending run, waiting `timeout` seconds at most."""
        report = _Report()
        deadline = time.monotonic() + timeout
        if not self.lock.acquire(timeout=timeout):  # another thread waits for a busy file
            if run is not None:
                self.add(run)
            runs = self.pending_runs() if run is None else [run]
            if runs:
                report.pending.append(f"dli-magic: {_runs_text(runs)} not in the run history yet: another "
                                      f"thread of this process is still writing to it; {_RETRY_NOTE}.")
            return report
        opened = None
        try:
            if run is not None:
                try:  # a file that cannot be used is said now; a busy one is retried
                    opened = self.connection(run.key, max(0.0, deadline - time.monotonic()))
                except Exception as exc:
                    if not _busy(exc):
                        self.forget(run.key)
                        report.recorded = False
                        report.lost.append(_unusable_message(run.key, run, exc))
                        run = None
                if run is not None:
                    self.add(run)
            self._drain(deadline, run.key if run is not None else None, report, opened)
        finally:
            self.lock.release()
        return report


_log = _Log()
# A forked child's copies of the parent's logs: never used (a SQLite connection must not cross a
# fork, and the parent's pending runs are the parent's to write) and never closed here, as a close
# could touch the parent's WAL index. Only the child's interpreter finalization closes them.
_inherited: list[_Log] = []
_exited = False  # the exit handler ran: a later record (from an earlier-registered handler) reports at once


def _this_process() -> _Log:
    global _log
    log = _log
    if log.pid != os.getpid():
        _inherited.append(log)
        log = _log = _Log()
    return log


def _warn(message: str) -> None:
    """A RuntimeWarning attributed to the first frame outside this package: the user's line."""
    import inspect

    frame, level = inspect.currentframe(), 1
    while frame is not None and (frame.f_globals.get("__name__") or "").partition(".")[0] == _PACKAGE:
        frame, level = frame.f_back, level + 1
    del frame
    warnings.warn(scrub(message), RuntimeWarning, stacklevel=level)  # a path or SQLite's text may hold a secret


def _lost_report(runs: list[_Run], reasons: Mapping[str, str]) -> str:
    by_file: dict[str, list[_Run]] = {}
    for run in runs:
        by_file.setdefault(run.key, []).append(run)
    lines = []
    for key, file_runs in by_file.items():
        reason = reasons.get(key, "not written before exit")
        count = "1 run is" if len(file_runs) == 1 else f"{len(file_runs)} runs are"
        lines.append(f"dli-magic: {count} not in the run history at {key} ({reason}); "
                     f"the jobs themselves are unaffected:")
        for run in file_runs:
            run_id, action, started = run.row[0], run.row[1], run.row[2]
            jobs = ", ".join(str(o[1]) for o in run.outcomes[:10])
            more = f" and {len(run.outcomes) - 10} more" if len(run.outcomes) > 10 else ""
            when = f"  (started {started})" if started else ""
            lines.append(f"  {run_id}  {action} of job(s) {jobs}{more}{when}")
    return "\n".join(lines)


def _write_at_exit() -> None:
    """Write what is pending; what still cannot be written is listed on stderr: never lost silently."""
    global _exited
    _exited = True
    log = _log
    if log.pid != os.getpid() or not log.pending_runs():  # a forked child's copy is the parent's
        return
    report = log.write(None, _EXIT_TIMEOUT)
    lost = log.pending_runs()
    text = "\n".join([*report.lost, _lost_report(lost, log.reasons)] if lost else report.lost)
    if text:
        print(scrub(text), file=sys.stderr, flush=True)


atexit.register(_write_at_exit)


def _cell(value: Any) -> Any:
    """A frame cell as a SQLite value (pandas NA/NaN/NaT → NULL, numpy scalars → Python)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def record(
    frame: Any,
    *,
    settings: Any = None,
    path: str | os.PathLike | None = None,
    source: str = "api",
) -> str | None:
    """Append one run given as a result frame (OUTCOME_COLUMNS, metadata in attrs); its run id."""
    attrs = dict(getattr(frame, "attrs", {}) or {})
    rows = zip(*([_cell(v) for v in frame[name].tolist()] for name in _OUTCOME_FIELDS))
    return record_rows(rows, attrs, settings=settings, path=path, source=source)


def record_outcomes(
    outcomes: Iterable[Any],
    attrs: Mapping[str, Any],
    *,
    settings: Any = None,
    path: str | os.PathLike | None = None,
    source: str = "api",
    wait_state: str | None = None,
    run_id: str | None = None,
) -> str | None:
    """``record`` for ``JobOutcome`` objects: what the API uses (no frame needed)."""
    rows = map(attrgetter(*_OUTCOME_FIELDS), outcomes)  # each outcome's values, as a tuple
    return record_rows(rows, attrs, settings=settings, path=path, source=source, wait_state=wait_state,
                       run_id=run_id)


def _waiter() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_rows(
    rows: Iterable[tuple],
    attrs: Mapping[str, Any],
    *,
    settings: Any = None,
    path: str | os.PathLike | None = None,
    source: str = "api",
    wait_state: str | None = None,
    run_id: str | None = None,
) -> str | None:
    """Append one run: ``rows`` hold the OUTCOME_COLUMNS values of each job, in order.

    ``wait_state`` says how its wait stands (``WAIT_STATES``); a run recorded "waiting" is recorded
    again with the same ``run_id`` when its wait ends, which replaces its row and outcomes.
    Returns the run id once the run is in the file, or pending after a failed write (with a
    RuntimeWarning); None for a dry run, disabled history, or a file that cannot be used (with a
    RuntimeWarning). A warning the filter makes an error is raised after the run is written or pending.
    """
    if attrs.get("dry_run") or not enabled(settings):
        return None
    if wait_state is not None and wait_state not in WAIT_STATES:
        raise ValueError(f"wait_state must be one of {WAIT_STATES}, not {wait_state!r}")
    options = {name: attrs[name] for name in _OPTION_KEYS if name in attrs}
    replace = run_id is not None
    run_id = run_id or f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{os.urandom(6).hex()}"
    # Copied now: later changes to rows or attrs cannot reach a run that is written later.
    run = _Run(
        os.path.abspath(path if path is not None else default_path(settings)),  # _target's, as text
        (
            run_id,
            attrs.get("action"),
            attrs.get("started"),
            attrs.get("finished"),
            public_endpoint(attrs.get("endpoint")),
            attrs.get("project_id"),
            json.dumps(options, sort_keys=True, default=str),
            attrs.get("attempts"),
            source,
            wait_state,
            _waiter() if wait_state == "waiting" else None,
        ),
        [(position, *row) for position, row in enumerate(rows)],
        replace,
    )
    report = _this_process().write(run, BUSY_TIMEOUT)
    try:
        if report.text():
            _warn(report.text())
    finally:
        if _exited:  # recorded after the exit handler ran: nothing would retry it later
            _write_at_exit()
    return run_id if report.recorded else None


def load(
    path: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    settings: Any = None,
):
    """Every recorded outcome as a DataFrame (HISTORY_COLUMNS); ``limit`` = the N most recent runs.

    Runs of this process that are still pending are retried first (waiting ``BUSY_TIMEOUT`` at
    most); those still not written are named in a RuntimeWarning."""
    import pandas as pd

    if limit is not None and limit < 1:
        raise DLIError(f"--limit must be a positive number of runs, not {limit}.")
    target = _target(path, settings)
    log = _this_process()
    if log.pending_runs():
        report = log.write(None, BUSY_TIMEOUT)
        if report.text():
            _warn(report.text())
    rows: list[tuple] = []
    if target.exists():
        params: tuple = (limit,) if limit is not None else ()
        try:
            with closing(sqlite3.connect(str(target), timeout=_READ_TIMEOUT)) as connection:
                query = (
                    f"SELECT {_run_columns(connection)} FROM runs r JOIN outcomes o ON o.run_seq = r.seq"
                    + (" WHERE r.seq IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT ?)" if limit is not None else "")
                    + " ORDER BY r.seq, o.position"
                )
                rows = [(*row[:-2], _wait_shown(row[-2], row[-1])) for row in connection.execute(query, params)]
        except sqlite3.Error as exc:
            raise DLIError(
                f"The run history at {target} cannot be read ({type(exc).__name__}: {exc}).",
                hint="Move the file away (a new one is created on the next run) or set DLI_HISTORY_PATH.",
            ) from None
    names = [name for name, _ in HISTORY_COLUMNS]
    frame = pd.DataFrame.from_records(rows, columns=names)
    for name, dtype in HISTORY_COLUMNS:
        if dtype.startswith("datetime64"):
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype(dtype)
        elif dtype == "boolean":
            frame[name] = frame[name].map(lambda v: None if v is None or pd.isna(v) else bool(v))
            frame[name] = frame[name].astype("boolean")
        else:
            frame[name] = frame[name].astype(dtype)
    frame.attrs["path"] = str(target)
    return frame


def _run_columns(connection: sqlite3.Connection) -> str:
    """The SELECT list of HISTORY_COLUMNS (the wait as wait_state, waiter); a file of an older
    version lacks newer columns: they read as NULL (<NA>)."""
    outcomes = {row[1] for row in connection.execute("PRAGMA table_info(outcomes)")}
    runs = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    outcome_columns = ", ".join(f"o.{n}" if n in outcomes else "NULL" for n in _OUTCOME_FIELDS)
    wait_columns = ", ".join(f"r.{n}" if n in runs else "NULL" for n, _ in _RUN_COLUMNS_ADDED)
    return (
        "r.run_id, r.action, r.started, r.finished, r.endpoint, r.project_id, r.options, "
        f"{outcome_columns}, r.attempts, r.source, {wait_columns}"
    )


def _waiter_alive(waiter: str | None) -> bool:
    """Whether the process that recorded a run "waiting" still runs (a process on another host
    cannot be told: it counts as alive)."""
    if not waiter or ":" not in waiter:
        return True
    host, _, pid = waiter.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def _wait_shown(state: str | None, waiter: str | None) -> str | None:
    if state == "waiting" and not _waiter_alive(waiter):
        return DIED_WHILE_WAITING
    return state


@dataclass(frozen=True)
class RecordedRun:
    """One run as the history holds it: what ``%dli_wait RUN_ID`` re-attaches to."""

    run_id: str
    action: str | None
    endpoint: str | None
    project_id: str | None
    started: str | None  # ISO 8601, as recorded
    finished: str | None
    attempts: int | None
    options: dict
    wait: str | None  # WAIT_STATES or DIED_WHILE_WAITING; None for a run recorded before waits were
    outcomes: list[dict]  # OUTCOME_COLUMNS per job, in order


RUN_ID_PATTERN = r"^\d{8}T\d{6}-[0-9a-f]{12}$"


def find_run(run_id: str, path: str | os.PathLike | None = None, *, settings: Any = None) -> RecordedRun:
    """The run ``run_id`` of the history; DLIError (one line) for a malformed or unknown id."""
    import re

    if not isinstance(run_id, str) or not re.match(RUN_ID_PATTERN, run_id.strip()):
        raise DLIError(
            f"{run_id!r} is not a run id: run ids look like 20261130T101500-0123456789ab "
            "(the run_id column of %dli_history, or df.attrs['history_run_id']).",
            hint="Copy the run id from %dli_history; nothing was sent.",
        )
    run_id = run_id.strip()
    target = _target(path, settings)
    log = _this_process()
    if log.pending_runs():
        log.write(None, BUSY_TIMEOUT)
    rows: list[tuple] = []
    if target.exists():
        try:
            with closing(sqlite3.connect(str(target), timeout=_READ_TIMEOUT)) as connection:
                query = (f"SELECT {_run_columns(connection)} FROM runs r JOIN outcomes o ON o.run_seq = r.seq"
                         " WHERE r.run_id = ? ORDER BY o.position")
                rows = connection.execute(query, (run_id,)).fetchall()
        except sqlite3.Error as exc:
            raise DLIError(f"The run history at {target} cannot be read ({type(exc).__name__}: {exc}).") from None
    if not rows:
        raise DLIError(
            f"There is no run {run_id} in the history at {target}.",
            hint="%dli_history lists the recorded runs (a run of another machine or history file is not there).",
        )
    first = rows[0]
    names = [name for name, _ in HISTORY_COLUMNS]
    outcomes = []
    booleans = {name for name, dtype in OUTCOME_COLUMNS if dtype == "boolean"}  # stored as 0/1
    for row in rows:
        values = dict(zip(names, (*row[:-2], None)))
        outcomes.append({
            name: (bool(values[name]) if values[name] is not None else None) if name in booleans else values[name]
            for name in _OUTCOME_FIELDS
        })
    try:
        options = json.loads(first[6] or "{}")
    except ValueError:
        options = {}
    return RecordedRun(
        run_id=first[0], action=first[1], endpoint=first[4], project_id=first[5],
        started=first[2], finished=first[3], attempts=first[-4],
        options=options if isinstance(options, dict) else {},
        wait=_wait_shown(first[-2], first[-1]), outcomes=outcomes,
    )
