"""Run history: every run/stop outcome of this and earlier sessions, in a local SQLite file.

Plain Python (no IPython) so the magics, the Python API and the panel all record the same way:
``record(result_frame)`` after a call, ``load()`` for ``%dli_history`` / ``dli_magic.history()``.
Only what the result frame holds is stored (ids, names, outcomes, request ids, endpoint without
credentials): never a token, key or password. A broken or locked file never fails a run: ``record``
warns and returns None.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import uuid
import warnings
from contextlib import closing, contextmanager
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
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# One open connection per history file for the life of the process: opening a file and checking
# the schema costs about 1 ms, an insert in WAL mode about 0.02 ms (benchmarks/, section 2).
_connections: dict[str, tuple[sqlite3.Connection, tuple[int, int]]] = {}
_lock = threading.Lock()  # sqlite3 connections are not safe to share between threads unguarded


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _connection(path: Path) -> sqlite3.Connection:
    key = str(path)
    cached = _connections.get(key)
    if cached is not None:
        connection, opened = cached
        if _file_id(path) == opened:
            return connection
        # Deleted or replaced since we opened it: writing on would go to a file nobody reads.
        _forget(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two kernels may record at once: wait a little for the other writer instead of failing.
    connection = sqlite3.connect(key, timeout=5.0, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; no fsync per run
        connection.executescript(_SCHEMA)
    except sqlite3.Error:
        connection.close()
        raise
    _connections[key] = (connection, _file_id(path))
    return connection


def _forget(path: Path) -> None:
    cached = _connections.pop(str(path), None)
    if cached is not None:
        cached[0].close()


@contextmanager
def _transaction(path: Path):
    connection = _connection(path)
    with connection:  # commit, or roll back on error
        yield connection


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

    Dry runs and disabled history record nothing (None). Any failure becomes a warning.
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
    """Append one run: ``rows`` hold the OUTCOME_COLUMNS values of each job, in order."""
    if attrs.get("dry_run") or not enabled(settings):
        return None
    target = Path(path) if path is not None else default_path(settings)
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    options = {key: attrs[key] for key in _OPTION_KEYS if key in attrs}
    try:
        with _lock, _transaction(target) as connection:
            cursor = connection.execute(
                "INSERT INTO runs (run_id, action, started, finished, endpoint, project_id, options,"
                " attempts, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    attrs.get("action"),
                    attrs.get("started"),
                    attrs.get("finished"),
                    _public_endpoint(attrs.get("endpoint")),
                    attrs.get("project_id"),
                    json.dumps(options, sort_keys=True, default=str),
                    attrs.get("attempts"),
                    source,
                ),
            )
            run_seq = cursor.lastrowid
            connection.executemany(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_seq, position, *row) for position, row in enumerate(rows)],
            )
    except (sqlite3.Error, OSError) as exc:
        with _lock:
            _forget(target)  # reopen next time: the file may have been replaced or repaired
        warnings.warn(
            f"dli-magic could not write the run history to {target} ({type(exc).__name__}: {exc}); "
            "the run itself is unaffected. Set DLI_HISTORY_PATH or `history = false` to change this.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return run_id


def load(
    path: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    settings: Any = None,
):
    """Every recorded outcome as a DataFrame (HISTORY_COLUMNS); ``limit`` = the N most recent runs."""
    import pandas as pd

    if limit is not None and limit < 1:
        raise DLIError(f"--limit must be a positive number of runs, not {limit}.")
    target = Path(path) if path is not None else default_path(settings)
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
