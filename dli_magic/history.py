"""Run history: every run/stop outcome of this and earlier sessions, in a local SQLite file.

Plain Python (no IPython) so the magics, the Python API and the panel all record the same way:
``record(result_frame)`` after a call, ``load()`` for ``%dli_history`` / ``dli_magic.history()``.
Only what the result frame holds is stored (ids, names, outcomes, request ids, endpoint without
credentials): never a token, key or password. A broken or locked file never fails a run.

The INSERTs run on one background thread, so a cell returns before its run is written and a file
locked by another kernel never stalls a run. ``record`` builds the rows and, the first time a file
is used, opens it on the caller's thread: an unusable file warns at once and returns None. A write
that fails later is logged, and re-emitted as a warning by the next ``record``/``flush``/``load``.
``flush()`` waits for what is queued; ``load()`` waits too (30 s at most), and so does an atexit
handler, which ``os._exit`` skips. Where no thread would finish the job, runs are written on the
caller's thread instead, waiting for a locked file up to the busy timeout: in a forked child
(multiprocessing workers end with ``os._exit``), and once the exit flush has run (atexit handlers
registered before this module was imported run after it, and may record).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sqlite3
import sys
import threading
import uuid
import warnings
from collections import deque
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from .errors import DLIError
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
)

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
)

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


def _public_endpoint(endpoint: Any) -> str | None:
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


_log = logging.getLogger(__name__)

_BUSY_TIMEOUT = 5.0  # seconds a write waits for another process' lock on the file, then fails
_EXIT_FLUSH_TIMEOUT = 10.0  # at interpreter exit, wait this long for queued runs at most
_LOAD_FLUSH_TIMEOUT = 30.0  # load() waits this long for queued runs at most, then reads anyway
_BATCH_MAX = 500  # runs per transaction at most

_INSERT_RUN = (
    "INSERT INTO runs (run_id, action, started, finished, endpoint, project_id, options, attempts, source)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_OUTCOMES = "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

# What one run's values can cause (only that run is lost); any other error fails the file's batch.
_RUN_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               OverflowError)

# One open connection per history file for the life of the process: opening a file and checking
# the schema costs about 1 ms, an insert in WAL mode about 0.02 ms (benchmarks/, section 2).
# The first record for a file opens it (caller's thread, so an unusable file warns at once); after
# that only the writer uses the connection, and reopens it when the file was deleted or replaced.
_connections: dict[str, tuple[sqlite3.Connection, tuple[int, int] | None]] = {}
_open_lock = threading.Lock()  # guards _connections: one opener at a time (callers and the writer)
# A forked child's copies of the parent's connections: never used, and kept referenced so nothing
# closes them while the child runs (a close may write to the -shm memory still shared with the
# parent). Only the child's interpreter finalization closes them; no fork happens mid-transaction.
_inherited: list = []


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _open(path: Path) -> sqlite3.Connection:
    """Create/open the file, WAL mode, schema; cache the connection. Hold _open_lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two kernels may record at once: a write waits a little for the other one instead of failing.
    # isolation_level=None: the writer issues BEGIN/SAVEPOINT/COMMIT itself.
    connection = sqlite3.connect(
        str(path), timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; no fsync per run
        connection.executescript(_SCHEMA)
    except sqlite3.Error:
        connection.close()
        raise
    _connections[str(path)] = (connection, _file_id(path))
    return connection


def _forget(key: str) -> None:
    cached = _connections.pop(key, None)
    if cached is not None:
        try:
            cached[0].close()
        except sqlite3.Error:
            pass


def _writer_connection(key: str) -> sqlite3.Connection:
    path = Path(key)
    with _open_lock:
        cached = _connections.get(key)
        if cached is not None:
            if _file_id(path) == cached[1]:
                return cached[0]
            # Deleted or replaced since we opened it: writing on would go to a file nobody reads.
            _forget(key)
        return _open(path)


def _failure(target: Any, exc: BaseException, run_ids: list[str] | None = None) -> str:
    lost = ""
    if run_ids:
        first, last = run_ids[0], run_ids[-1]
        runs = f"run {first} is" if len(run_ids) == 1 else f"{len(run_ids)} runs ({first} to {last}) are"
        lost = f", but {runs} not in the history"
    return (
        f"dli-magic could not write the run history to {target} ({type(exc).__name__}: {exc}); "
        f"the run itself is unaffected{lost}. Set DLI_HISTORY_PATH or `history = false` to change this."
    )


def _insert(key: str, runs: list[tuple]) -> list[str]:
    """Write one file's runs in one transaction, each in a savepoint; messages of the runs refused."""
    failures = []
    connection = _writer_connection(key)
    connection.execute("BEGIN IMMEDIATE")  # the write lock now, or _BUSY_TIMEOUT later an error
    try:
        for _, run, outcomes in runs:
            connection.execute("SAVEPOINT run")
            try:
                run_seq = connection.execute(_INSERT_RUN, run).lastrowid
                connection.executemany(_INSERT_OUTCOMES, [(run_seq, *row) for row in outcomes])
            except _RUN_ERRORS as exc:
                connection.execute("ROLLBACK TO run")
                failures.append(_failure(key, exc, [run[0]]))
            connection.execute("RELEASE run")
        connection.execute("COMMIT")
    except BaseException:
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        raise
    return failures


def _write(batch: list[tuple]) -> list[str]:
    """Insert a batch (submission order), one transaction per file; the messages of what failed."""
    by_file: dict[str, list[tuple]] = {}
    for item in batch:
        by_file.setdefault(item[0], []).append(item)
    failures: list[str] = []
    for key, runs in by_file.items():
        try:
            failures += _insert(key, runs)
        except Exception as exc:  # never let the thread die: a failing file loses only its own runs
            with _open_lock:
                _forget(key)  # the next record reopens: the file may have been replaced or repaired
            failures.append(_failure(key, exc, [run[0] for _, run, _ in runs]))
    return failures


class _Writer:
    """The FIFO of runs to insert and the daemon thread that inserts them, started on first use."""

    def __init__(self, synchronous: bool = False) -> None:
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # the thread waits here for runs
        self._idle = threading.Condition(lock)  # flush() waits here for `_done` to catch up
        self._writing = threading.Lock()  # taken from a batch's dequeue to its commit: keeps the order
        self._queue: deque[tuple] = deque()  # (file key, runs row, outcome rows)
        self._submitted = 0
        self._done = 0
        self._failures: list[str] = []  # failed writes not yet re-emitted as warnings
        self._thread: threading.Thread | None = None
        # Callers write their runs themselves: no thread would (forked child, after the exit flush).
        self.synchronous = synchronous

    def submit(self, item: tuple) -> None:
        with self._work:
            self._queue.append(item)
            self._submitted += 1
            target = self._submitted
            if not self.synchronous and self._wake():
                return
        self._drain_through(target)

    def _wake(self) -> bool:
        """Notify the thread, (re)starting it if it is not running; False if it cannot. Hold _work."""
        if self._thread is not None and self._thread.is_alive():
            self._work.notify()
            return True
        try:
            thread = threading.Thread(target=self._run, name="dli-magic-history", daemon=True)
            thread.start()
        except RuntimeError:  # no new threads at interpreter shutdown
            return False
        self._thread = thread
        return True

    def _run(self) -> None:
        while True:
            try:
                with self._work:
                    while not self._queue:
                        self._work.wait()
                self._drain()
            except BaseException:  # a dead writer would leave flush() and load() waiting for it
                try:
                    _log.exception("dli-magic: the run history writer failed")
                except BaseException:
                    pass

    def _drain_through(self, target: int) -> None:
        """Write on this thread until the `target`-th submitted run is written."""
        while True:
            with self._work:
                if self._done >= target:
                    return
            self._drain()

    def _drain(self) -> None:
        failures: list[str] = []
        with self._writing:
            with self._work:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), _BATCH_MAX))]
            try:
                if batch:
                    failures = _write(batch)
            finally:  # done even if _write raised: flush() must not wait for these runs forever
                with self._work:
                    self._done += len(batch)
                    self._failures += failures
                    self._idle.notify_all()
        for message in failures:  # when it happens; the caller's thread sees it as a warning later
            try:
                _log.warning("%s", message)
            except Exception:  # a raising logging filter must not kill the thread nor fail a run
                pass

    def wait(self, timeout: float | None) -> bool:
        with self._idle:
            target = self._submitted
            if self._done >= target:
                return True
            if threading.current_thread() is self._thread:
                return False  # the writer itself (a logging handler): waiting would never end
            if not self.synchronous:
                self._wake()  # replaces a thread that died
            return self._idle.wait_for(lambda: self._done >= target, timeout)

    def take_failure(self) -> str | None:
        """The oldest failed write not yet reported, or None."""
        if not self._failures:  # the common case, without the lock
            return None
        with self._work:
            return self._failures.pop(0) if self._failures else None


_writer = _Writer()


_PACKAGE = __name__.partition(".")[0]


def _warn(message: str) -> None:
    """A RuntimeWarning attributed to the first frame outside this package: the user's line."""
    frame, level = sys._getframe(), 1
    while frame is not None and (frame.f_globals.get("__name__") or "").partition(".")[0] == _PACKAGE:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _report_failures() -> None:
    """Re-emit the writer's failures on this (the caller's) thread, one at a time: if the warning
    filter makes one an error, the others stay queued for the next call."""
    while (message := _writer.take_failure()) is not None:
        _warn(message)


def flush(timeout: float | None = None) -> bool:
    """Wait until every run recorded before this call is in the file: True, or False when
    ``timeout`` seconds passed first. A write that failed is not retried: its failure is re-emitted
    here as a RuntimeWarning (if no earlier call did). Safe from any thread, cheap when idle.
    """
    done = _writer.wait(timeout)
    _report_failures()
    return done


def _flush_at_exit() -> None:
    # The writer is a daemon thread: without this a script that records and exits loses its runs.
    # Handlers registered before this module was imported run after this one (LIFO) and may
    # record: no thread would write those, so their callers do.
    _writer.synchronous = True
    if not _writer.wait(_EXIT_FLUSH_TIMEOUT):
        _log.warning("dli-magic: runs still queued for the run history after %g s at exit are lost.",
                     _EXIT_FLUSH_TIMEOUT)


# The locks held across a fork, released after it in parent and child alike.
_fork_held: list = []


def _before_fork() -> None:
    # A child that inherits a connection mid-transaction inherits SQLite's in-process lock state
    # too: its own connections to that file would find the lock taken, for good. So a fork waits
    # for the writer's transaction (and for a file being opened) to end.
    for lock in (_writer._writing, _open_lock):
        lock.acquire()
        _fork_held.append(lock)


def _after_fork() -> None:
    while _fork_held:
        _fork_held.pop().release()


def _after_fork_in_child() -> None:
    # The parent's thread does not exist here and its queue is the parent's to write. A child's
    # runs are written by its callers: multiprocessing workers end with os._exit (no atexit),
    # before a thread could write. The parent's connections are not reused (see _inherited).
    global _writer
    _after_fork()
    _writer = _Writer(synchronous=True)
    _inherited.extend(_connections.values())
    _connections.clear()


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork_in_child)


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
    """Append one run given as a result frame (OUTCOME_COLUMNS, metadata in attrs); its run id.

    Dry runs and disabled history record nothing (None). A history problem does not fail the call:
    it becomes a RuntimeWarning, raised only if the warning filter makes it an error, and then only
    after the run is queued.
    """
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
) -> str | None:
    """``record`` for ``JobOutcome`` objects: what the API uses (no pandas work on the hot path)."""
    rows = (tuple(getattr(o, name) for name in _OUTCOME_FIELDS) for o in outcomes)
    return record_rows(rows, attrs, settings=settings, path=path, source=source)


def record_rows(
    rows: Iterable[tuple],
    attrs: Mapping[str, Any],
    *,
    settings: Any = None,
    path: str | os.PathLike | None = None,
    source: str = "api",
) -> str | None:
    """Append one run: ``rows`` hold the OUTCOME_COLUMNS values of each job, in order.

    Returns the run id once the run is queued for the writer (``flush()`` waits for it); None for a
    dry run, disabled history, or a file that cannot be opened (with a RuntimeWarning).
    """
    try:
        return _queue_run(rows, attrs, settings, path, source)
    finally:  # after queueing: a warning the filter makes an error cannot lose this run
        _report_failures()  # earlier runs the writer could not write


def _target(path: str | os.PathLike | None, settings: Any) -> Path:
    # Absolute now: a relative DLI_HISTORY_PATH means the directory of the call, not the one the
    # writer happens to see later (after a %cd).
    return Path(os.path.abspath(path if path is not None else default_path(settings)))


def _queue_run(rows: Iterable[tuple], attrs: Mapping[str, Any], settings: Any,
               path: str | os.PathLike | None, source: str) -> str | None:
    if attrs.get("dry_run") or not enabled(settings):
        return None
    target = _target(path, settings)
    key = str(target)
    if key not in _connections:  # first use of this file: open it here, so a bad file warns now
        try:
            with _open_lock:
                if key not in _connections:
                    _open(target)
        except (sqlite3.Error, OSError) as exc:
            _warn(_failure(target, exc))
            return None
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    options = {name: attrs[name] for name in _OPTION_KEYS if name in attrs}
    # Everything the writer needs, copied now: later changes to rows or attrs cannot reach the file.
    run = (
        run_id,
        attrs.get("action"),
        attrs.get("started"),
        attrs.get("finished"),
        _public_endpoint(attrs.get("endpoint")),
        attrs.get("project_id"),
        json.dumps(options, sort_keys=True, default=str),
        attrs.get("attempts"),
        source,
    )
    _writer.submit((key, run, [(position, *row) for position, row in enumerate(rows)]))
    return run_id


def load(
    path: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    settings: Any = None,
):
    """Every recorded outcome as a DataFrame (HISTORY_COLUMNS); ``limit`` = the N most recent runs."""
    import pandas as pd

    # flush(): every run recorded before this call is in the file; bounded, as a stuck write waits
    # on another process' lock.
    if not _writer.wait(_LOAD_FLUSH_TIMEOUT):
        _warn(f"dli-magic: runs recorded earlier were still being written to the run history after "
              f"{_LOAD_FLUSH_TIMEOUT:g} s (a file locked by another process?): the history shown may "
              f"miss the latest runs.")
    _report_failures()
    if limit is not None and limit < 1:
        raise DLIError(f"--limit must be a positive number of runs, not {limit}.")
    target = _target(path, settings)
    rows: list[tuple] = []
    if target.exists():
        query = (
            "SELECT r.run_id, r.action, r.started, r.finished, r.endpoint, r.project_id, r.options,"
            " o.job_id, o.name, o.is_success, o.message, o.status, o.request_id, r.attempts, r.source"
            " FROM runs r JOIN outcomes o ON o.run_seq = r.seq"
        )
        params: tuple = ()
        if limit is not None:
            query += " WHERE r.seq IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT ?)"
            params = (limit,)
        query += " ORDER BY r.seq, o.position"
        try:
            with closing(sqlite3.connect(str(target), timeout=5.0)) as connection:
                rows = connection.execute(query, params).fetchall()
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


class _CallableModule(type(sys)):
    """``dli_magic.history()`` must work although importing this submodule makes
    ``dli_magic.history`` refer to the module: calling the module = ``dli_magic.api.history``."""

    def __call__(self, limit: int | None = None, **kwargs: Any):
        from .api import history

        return history(limit, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
