"""SQLite job store of the emulator, with the job state machine.

One connection guarded by one lock: requests run on the event loop thread and the Python API
(``Emulator.create_job``…) on test threads; every operation holds the lock for its whole
read-modify-write, so concurrent run/stop calls never lose an update.

Timed transitions are stored as a *plan*, a list of steps ``{"at": ms, "status", "set": {field: value},
"every": ms}`` applied by ``_settle`` before every read or write, from the emulator clock:
deterministic under ``advance_clock`` and cheap (an indexed query on ``next_at``). A served emulator
also applies a status change when it falls due (``settle_due``), so a read does not pay for the
changes that fell due while nobody was reading. A step with
``every`` repeats (a crash loop: one more restart per period) and is applied in closed form, so a
large clock advance costs one step, not one per period.

Besides the API's fields, a job's data holds the emulator's own: ``behaviour`` (behaviours.py),
``flink_state`` (Flink's state when it is not the usual one for the status) and ``end_time``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
from typing import Any, Callable, Iterable, Iterator

from ..contract import FLINK_JOB_STATES, INT64_MAX, JOB_STATUSES, RUNNABLE_STATUSES, STOPPABLE_STATUSES
from .behaviours import (
    CRASH_LOOP,
    FAIL,
    RESUME_FAIL,
    SAVEPOINT_FAIL,
    SUBMIT_FAIL,
    Behaviour,
    parse_behaviour,
    stored_behaviour,
)


# While in these (and not ended), `duration` grows with the clock; elsewhere it is frozen.
_ACTIVE_STATUSES = frozenset(
    {"job_running", "job_running_exception", "job_idle", "job_savepointing", "job_canceling"}
)

# Flink's own state (execute-graph) for each DLI status, unless a step recorded another
# (a failed job is job_running_exception with Flink state FAILED). The emulator's reading of the
# two state machines: the service documents each, not how they map.
FLINK_STATE_OF_STATUS = {
    "job_init": "CREATED",
    "job_submitting": "INITIALIZING",
    "job_submit_fail": "FAILED",
    "job_running": "RUNNING",
    "job_running_exception": "RESTARTING",
    "job_downloading": "INITIALIZING",
    "job_idle": "RUNNING",
    "job_canceling": "CANCELLING",
    "job_cancel_success": "CANCELED",
    "job_cancel_fail": "RUNNING",
    "job_savepointing": "RUNNING",
    "job_arrearage_stopped": "SUSPENDED",
    "job_arrearage_recovering": "RECONCILING",
    "job_finish": "FINISHED",
}
assert set(FLINK_STATE_OF_STATUS) == set(JOB_STATUSES) and set(FLINK_STATE_OF_STATUS.values()) <= set(FLINK_JOB_STATES)
# Flink states after which the job has ended: execute-graph gives an end-time.
_ENDED_FLINK_STATES = frozenset({"FAILED", "CANCELED", "FINISHED", "SUSPENDED"})

DEFAULT_OBS_BUCKET = "dli-emulator"
DEFAULT_JOB_CONFIG = {
    "obs_bucket": DEFAULT_OBS_BUCKET,
    "checkpoint_enabled": False,
    "checkpoint_interval": 10,
    "checkpoint_mode": "exactly_once",
    "cu_number": 2,
    "manager_cu_number": 1,
    "parallel_number": 1,
    "log_enabled": False,
    "restart_when_exception": False,
    "resume_checkpoint": False,
    "resume_max_num": -1,
}

# Base timings (ms) at speed 1.0.
SUBMIT_MS = 2000
SAVEPOINT_MS = 1000
CANCEL_MS = 1000

FIRST_JOB_ID = 1001  # ids of created jobs start here (demo jobs use a lower, realistic band)
# A seeded job_id may go up to here: the id counter moves past a seeded id and must never run out.
MAX_SEEDED_JOB_ID = 2**62
# Times (epoch ms) the emulator keeps: 1970 to 2200, so a clock, a plan step or a seeded time can
# never leave the 64-bit range nor the range clients convert to dates.
MAX_TIME_MS = 7_258_118_400_000

LIST_FIELDS = (
    "job_id",
    "name",
    "desc",
    "user_name",
    "job_type",
    "status",
    "status_desc",
    "create_time",
    "start_time",
    "duration",
    "root_id",
    "queue_name",
    "graph_editor_enabled",
    "has_savepoint",
    "savepoint_path",
    "restart_times",
)
DETAIL_FIELDS = LIST_FIELDS + (
    "user_id",
    "project_id",
    "sql_body",
    "run_mode",
    "main_class",
    "entrypoint_args",
    "job_config",
    "update_time",
    "tags",
)
# Fields kept in their own column (filters, order); the rest live in the JSON `data` column.
_COLUMNS = ("name", "job_type", "status", "queue_name", "user_name", "create_time")
SEEDABLE_FIELDS = frozenset(DETAIL_FIELDS)
# How each seedable field is checked before it is stored, so a stored job always reads back.
_TEXT_MAX = {"name": 1024, "desc": 10_000, "user_name": 255, "job_type": 64, "status_desc": 10_000,
             "queue_name": 255, "savepoint_path": 1024, "user_id": 64, "project_id": 64, "sql_body": 1_000_000,
             "run_mode": 64, "main_class": 1024, "status": 64}
_REQUIRED_TEXT = frozenset({"name"})
_TIME_FIELDS = ("create_time", "start_time", "update_time")
_INT_RANGES = {"duration": (0, MAX_TIME_MS), "restart_times": (0, 2**31 - 1), "root_id": (-1, INT64_MAX)}
_BOOL_FIELDS = ("graph_editor_enabled", "has_savepoint")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    queue_name TEXT,
    user_name TEXT,
    create_time INTEGER NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    next_at INTEGER,
    plan TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_project ON jobs(project_id, create_time);
CREATE INDEX IF NOT EXISTS jobs_by_project_status ON jobs(project_id, status, create_time);
CREATE INDEX IF NOT EXISTS jobs_by_next ON jobs(next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS job_tags (job_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS job_tags_by_pair ON job_tags(key, value, job_id);
CREATE INDEX IF NOT EXISTS job_tags_by_job ON job_tags(job_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# The list filters run in SQL on indexed or precomputed columns, never a Python call per job:
# `name_key` is the case-folded name, job_tags one row per (key, value) pair.

# status_desc of a submit failure by the name rule (a job without a behaviour whose name has "fail").
NAME_RULE_SUBMIT_FAIL = "Job submission failed (emulator rule: the job name contains 'fail')."
AT = "@"  # a step value meaning "the step's own time" (start_time, end_time), or the duration up to it


def _step(at: int, status: str, every: int | None = None, **changes: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"at": at, "status": status, "set": changes}
    if every:
        step["every"] = every
    return step


def _as_step(entry: Any) -> dict[str, Any]:
    """A plan step; databases from before the dict steps stored ``[at, status, changes]``."""
    if isinstance(entry, list):
        at, status, changes = entry
        changes = dict(changes)
        if status == "job_submit_fail":
            changes.setdefault("status_desc", NAME_RULE_SUBMIT_FAIL)
        return {"at": at, "status": status, "set": changes}
    return entry


class StoreError(Exception):
    """A job operation the store refused; the handlers word it for the API."""

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class JobNotFound(StoreError):
    """No job with this id in this project."""


class JobInWrongStatus(StoreError):
    """The job's status does not allow the operation."""

    def __init__(self, job_id: int, status: str) -> None:
        super().__init__(job_id)
        self.status = status


class InvalidJob(ValueError):
    """Job fields that cannot be stored (seeding through the Python API or the admin route)."""


def user_id_for(name: str) -> str:
    """A stable 32-hex user id for a user name (the real service returns IAM user ids)."""
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def _tag_pairs(tags: Any) -> list[tuple[str, str]]:
    """A job's tags as (key, value) strings, as the list filter compares them."""
    if not isinstance(tags, list):
        return []
    return [(str(t.get("key")), str(t.get("value"))) for t in tags if isinstance(t, dict)]


def _casefold(text: str | None) -> str | None:
    """SQL ``casefold(text)``: Unicode case folding (SQLite's lower() folds ASCII only)."""
    return text.casefold() if isinstance(text, str) else text


def default_savepoint_dir(data: dict, job_id: int) -> str:
    """Where a job's savepoints go unless a path is given: under its OBS bucket."""
    config = data.get("job_config") if isinstance(data.get("job_config"), dict) else {}
    return f"obs://{config.get('obs_bucket') or DEFAULT_OBS_BUCKET}/{job_id}/savepoint/"


def savepoint_path_in(directory: str, at: int) -> str:
    return f"{directory.rstrip('/')}/savepoint-{at}"


class JobStore:
    def __init__(self, path: str | None, now_ms: Callable[[], int], speed: float = 1.0) -> None:
        self._now = now_ms
        self.speed = float(speed)
        self._lock = threading.Lock()
        self.closed = False
        try:
            self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:  # e.g. a missing directory
            raise ValueError(f"cannot open the database {path!r}: {exc}") from None
        self._db.create_function("casefold", 1, _casefold, deterministic=True)
        try:
            if path:
                # WAL + NORMAL: durable across a clean restart without an fsync per request.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            # The id counter never goes back; a database from before the counter (or an insert whose
            # counter update was lost) continues after its highest id.
            top = self._db.execute("SELECT MAX(job_id) FROM jobs").fetchone()[0] or 0
            stored = int(self._get_meta("next_job_id") or 0)
            self._set_meta("next_job_id", max(stored, top + 1, FIRST_JOB_ID))
        except sqlite3.Error as exc:  # e.g. a file that is not a SQLite database, or read-only
            self._db.close()
            raise ValueError(f"cannot use the database {path!r}: {exc}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """The lock and one SQLite transaction: all of an operation's writes, or none of them."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _settled(self) -> Iterator[int]:
        """A transaction on the store with every due transition applied; yields that time (ms)."""
        with self._transaction():
            now = self._now()
            self._settle(now)
            yield now

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._db.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Databases from before the precomputed filter columns: build them from the job data."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "name_key" not in columns:
            self._db.execute("ALTER TABLE jobs ADD COLUMN name_key TEXT")
            self._db.execute("UPDATE jobs SET name_key = casefold(name)")
        if self._get_meta("job_tags") is None:
            self._db.execute("DELETE FROM job_tags")
            for job_id, data_text in self._db.execute("SELECT job_id, data FROM jobs").fetchall():
                pairs = _tag_pairs(json.loads(data_text).get("tags"))
                self._db.executemany("INSERT INTO job_tags VALUES (?,?,?)", [(job_id, k, v) for k, v in pairs])
            self._set_meta("job_tags", 1)

    def _get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._get_meta(key)

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._set_meta(key, value)

    def _ms(self, base_ms: int) -> int:
        return max(1, int(base_ms / self.speed))

    def _after_s(self, seconds: float) -> int:
        """A behaviour's delay in ms, at the store's speed."""
        return max(1, int(seconds * 1000 / self.speed))

    def _settle(self, now: int) -> None:
        """Apply every planned transition that is due (caller holds the lock)."""
        due = self._db.execute(
            "SELECT job_id, status, plan, data FROM jobs WHERE next_at IS NOT NULL AND next_at <= ?", (now,)
        ).fetchall()
        rows = []
        for job_id, status, plan_text, data_text in due:
            plan = [_as_step(entry) for entry in json.loads(plan_text or "[]")]
            data = json.loads(data_text)
            while plan and plan[0]["at"] <= now:
                step = plan[0]
                every = step.get("every")
                if every:  # a repeating step stays planned; its occurrences so far are applied at once
                    times = (now - step["at"]) // every + 1
                    last = step["at"] + (times - 1) * every
                    data["restart_times"] = int(data.get("restart_times") or 0) + times
                    self._apply(data, step["status"], step["set"], last)
                    plan[0] = {**step, "at": last + every}
                    plan.sort(key=lambda s: s["at"])
                else:
                    plan.pop(0)
                    self._apply(data, step["status"], step["set"], step["at"])
                status = step["status"]
            rows.append(self._row(job_id, status, data, plan))
        if rows:  # many jobs often settle together (a batch started at once): one statement
            self._db.executemany(self._UPDATE, rows)

    def settle_due(self) -> None:
        """Apply the transitions that are due now. The server calls it when a status change falls
        due, as the service changes a job's status on its own; every read and write settles first
        as well, so an answer does not depend on whether this ran (a backward ``advance_clock``
        does not undo a change already applied, by this or by a read)."""
        with self._settled():
            pass

    def next_change_at(self) -> int | None:
        """When the next planned status change falls due (epoch ms on the store's clock), if any.
        A repeating step (a crash loop's next restart) is not one: it only counts restarts, which
        the next read applies in closed form, so an idle emulator does not rewrite such jobs."""
        with self._lock:
            return self._db.execute(
                "SELECT MIN(next_at) FROM jobs WHERE next_at IS NOT NULL AND json_extract(plan, '$[0].every') IS NULL"
            ).fetchone()[0]

    @staticmethod
    def _apply(data: dict, status: str, changes: dict, at: int) -> None:
        for key, value in changes.items():
            if key in ("start_time", "end_time") and value == AT:
                data[key] = at
            elif key == "duration" and value == AT:
                start = data.get("start_time") or 0
                data["duration"] = max(0, at - start) if start else 0
            elif key == "restart_times" and value == "+1":
                data["restart_times"] = int(data.get("restart_times") or 0) + 1
            else:
                data[key] = value
        data["status_desc"] = changes.get("status_desc", "")
        data["flink_state"] = changes.get("flink_state")
        data["update_time"] = at

    def _row_to_job(self, row: tuple, now: int, detail: bool) -> dict:
        job_id, project_id, name, job_type, status, queue_name, user_name, create_time, data_text = row
        data = json.loads(data_text)
        job = dict(data)
        job.update(
            job_id=job_id,
            project_id=project_id,
            name=name,
            job_type=job_type,
            status=status,
            queue_name=queue_name,
            user_name=user_name,
            create_time=create_time,
        )
        if status in _ACTIVE_STATUSES and job.get("start_time") and not data.get("end_time"):
            job["duration"] = max(0, now - job["start_time"])
        fields = DETAIL_FIELDS if detail else LIST_FIELDS
        return {key: job.get(key) for key in fields}

    _SELECT = "SELECT job_id, project_id, name, job_type, status, queue_name, user_name, create_time, data FROM jobs"

    def _fetch(self, project_id: str, job_id: int) -> tuple | None:
        return self._db.execute(self._SELECT + " WHERE job_id=? AND project_id=?", (job_id, project_id)).fetchone()

    def _fetch_known(self, project_id: str, job_id: int) -> tuple:
        row = self._fetch(project_id, job_id)
        if row is None:
            raise JobNotFound(job_id)
        return row

    _UPDATE = "UPDATE jobs SET status=?, data=?, plan=?, next_at=? WHERE job_id=?"

    def _write(self, job_id: int, status: str, data: dict, plan: list[dict] | None) -> None:
        self._db.execute(self._UPDATE, self._row(job_id, status, data, plan))

    @staticmethod
    def _row(job_id: int, status: str, data: dict, plan: list[dict] | None) -> tuple:
        plan = sorted(plan or (), key=lambda step: step["at"])  # stable: steps due together keep their order
        return status, json.dumps(data), json.dumps(plan) if plan else None, plan[0]["at"] if plan else None, job_id

    @staticmethod
    def _enter(data: dict, now: int, **changes: Any) -> None:
        """The job changes status now, by a request (not a planned step)."""
        data.update(changes)
        data.setdefault("status_desc", "")
        data["update_time"] = now

    def _seeded_plan(self, status: str, behaviour: Behaviour, now: int) -> list[dict]:
        """A job seeded running follows its behaviour from now on, as if it had just started."""
        if status == "job_running":
            return self._health_steps(behaviour, now)
        if status == "job_running_exception" and behaviour.kind == CRASH_LOOP:
            every = self._after_s(behaviour.every)
            return [_step(now + every, status, every=every, status_desc=behaviour.reason_text())]
        return []

    def _health_steps(self, behaviour: Behaviour, running_at: int) -> list[dict]:
        """What happens to a job that runs from ``running_at`` on, by its behaviour."""
        if behaviour.kind == CRASH_LOOP:
            return [_step(running_at + self._after_s(behaviour.after), "job_running_exception",
                          every=self._after_s(behaviour.every), status_desc=behaviour.reason_text())]
        if behaviour.kind == FAIL:
            return [_step(running_at + self._after_s(behaviour.after), "job_running_exception",
                          status_desc=behaviour.reason_text(), flink_state="FAILED", end_time=AT, duration=AT)]
        return []

    # -- API -----------------------------------------------------------------------------------

    def create(self, project_id: str, fields: dict[str, Any], behaviour: Any = None) -> int:
        """Insert a job; ``fields`` are job fields (see DETAIL_FIELDS), ``behaviour`` as in
        behaviours.py. Returns the job id; InvalidJob for fields that cannot be stored."""
        return self.create_many(project_id, [fields], behaviour)[0]

    def create_many(self, project_id: str, jobs: Iterable[dict[str, Any]], behaviour: Any = None) -> list[int]:
        """Insert jobs in one transaction (all or none), each with ``behaviour``; their ids in order."""
        try:
            parsed = parse_behaviour(behaviour)
        except ValueError as exc:
            raise InvalidJob(str(exc)) from None
        checked = [self._checked_fields(fields) for fields in jobs]
        with self._transaction():
            now = self._now()
            # Ids come from a counter kept in the database: never reused, even after a delete and a restart.
            next_id = int(self._get_meta("next_job_id") or FIRST_JOB_ID)
            ids: list[int] = []
            for fields in checked:
                job_id = fields.get("job_id")
                if job_id is None:
                    job_id = next_id
                elif self._db.execute("SELECT 1 FROM jobs WHERE job_id=?", (job_id,)).fetchone():
                    raise InvalidJob(f"job id {job_id} already exists")
                self._insert(project_id, job_id, fields, parsed, behaviour is not None, now)
                next_id = max(next_id, job_id + 1)  # a seeded id above the counter moves it on
                ids.append(job_id)
            self._set_meta("next_job_id", next_id)
            return ids

    @staticmethod
    def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
        """The fields of a job to seed, each of the type and range the API shows; InvalidJob otherwise."""
        unknown = set(fields) - SEEDABLE_FIELDS
        if unknown:
            raise InvalidJob(f"unknown job field(s): {', '.join(sorted(unknown))}")
        status = fields.get("status") or "job_init"
        if status not in JOB_STATUSES:
            raise InvalidJob(f"unknown job status {str(status)[:40]!r}")
        name = fields.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidJob("a job needs a non-empty name")

        def integer(key: str, low: int, high: int) -> None:
            value = fields.get(key)
            wrong_type = isinstance(value, bool) or not isinstance(value, int)
            if value is not None and (wrong_type or not low <= value <= high):
                raise InvalidJob(f"{key} must be an integer from {low} to {high}, not {str(value)[:40]}")

        integer("job_id", 1, MAX_SEEDED_JOB_ID)
        for key in _TIME_FIELDS:
            integer(key, 0, MAX_TIME_MS)  # epoch ms, 1970..2200
        for key, (low, high) in _INT_RANGES.items():
            integer(key, low, high)
        for key, limit in _TEXT_MAX.items():
            value = fields.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise InvalidJob(f"{key} must be a string of at most {limit} characters")
        for key in _BOOL_FIELDS:
            if fields.get(key) is not None and not isinstance(fields[key], bool):
                raise InvalidJob(f"{key} must be true or false, not {str(fields[key])[:40]}")
        tags = fields.get("tags")
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, dict) and "key" in t for t in tags)):
            raise InvalidJob('tags must be a list of {"key", "value"} objects')
        if fields.get("job_config") is not None and not isinstance(fields["job_config"], dict):
            raise InvalidJob("job_config must be an object")
        try:  # everything else must be stored and read back as JSON
            json.dumps({k: fields.get(k) for k in ("tags", "job_config", "entrypoint_args")}, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidJob(f"a field is not JSON: {exc}") from None
        return {**fields, "status": status}

    def _insert(
        self, project_id: str, job_id: int, fields: dict, behaviour: Behaviour, explicit: bool, now: int
    ) -> None:
        status = fields["status"]
        tags = fields.get("tags") or []
        user_name = fields.get("user_name") or "dli_user"
        data = {
            "desc": "",
            "status_desc": "",
            "start_time": None,
            "duration": 0,
            "root_id": -1,
            "graph_editor_enabled": False,
            "has_savepoint": False,
            "savepoint_path": None,
            "restart_times": 0,
            "user_id": user_id_for(user_name),
            "sql_body": None,
            "run_mode": "shared_cluster",
            "main_class": None,
            "entrypoint_args": None,
            "update_time": now,
            "tags": tags,
            "behaviour": behaviour.to_json() if explicit else None,
            "flink_state": None,
            "end_time": None,
        }
        data.update({k: v for k, v in fields.items() if k not in _COLUMNS and k != "job_id"})
        config = fields.get("job_config")
        data["job_config"] = {**DEFAULT_JOB_CONFIG, **(config if isinstance(config, dict) else {})}
        plan = self._seeded_plan(status, behaviour, now)
        self._db.execute(
            "INSERT INTO jobs (job_id, project_id, name, name_key, job_type, status, queue_name, user_name,"
            " create_time, data, plan, next_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                job_id,
                project_id,
                fields["name"],
                fields["name"].casefold(),
                fields.get("job_type") or "flink_sql_job",
                status,
                fields.get("queue_name"),
                user_name,
                int(fields.get("create_time") or now),
                json.dumps(data),
                json.dumps(plan) if plan else None,
                plan[0]["at"] if plan else None,
            ),
        )
        self._db.executemany("INSERT INTO job_tags VALUES (?,?,?)", [(job_id, k, v) for k, v in _tag_pairs(tags)])

    def count_all(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def get(self, project_id: str, job_id: int, detail: bool = True) -> dict:
        """The job as the API shows it; JobNotFound."""
        with self._settled() as now:
            row = self._fetch_known(project_id, job_id)
            return self._row_to_job(row, now, detail)

    def existing(self, project_id: str, job_ids: Iterable[int]) -> set[int]:
        ids = list(dict.fromkeys(job_ids))
        found: set[int] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT job_id FROM jobs WHERE project_id=? AND job_id IN ({marks})", (project_id, *chunk)
                ).fetchall()
                found.update(r[0] for r in rows)
        return found

    def list(
        self,
        project_id: str,
        *,
        job_type: str | None = None,
        status: str | None = None,
        queue_name: str | None = None,
        name: str | None = None,
        user_name: str | None = None,
        tags: list[tuple[str, str]] | None = None,
        order: str = "desc",
        limit: int = 10,
        offset: int = 0,
        detail: bool = False,
    ) -> tuple[int, list[dict]]:
        where = ["project_id=?"]
        args: list[Any] = [project_id]
        for column, value in (("job_type", job_type), ("status", status), ("queue_name", queue_name),
                              ("user_name", user_name)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        if name:
            where.append("instr(name_key, ?) > 0")
            args.append(name.casefold())
        for key, value in tags or ():
            where.append("job_id IN (SELECT job_id FROM job_tags WHERE key=? AND value=?)")
            args.extend((key, value))
        clause = " WHERE " + " AND ".join(where)
        direction = "ASC" if order == "asc" else "DESC"
        with self._settled() as now:
            total = self._db.execute("SELECT COUNT(*) FROM jobs" + clause, args).fetchone()[0]
            rows = self._db.execute(
                self._SELECT + clause + f" ORDER BY create_time {direction}, job_id {direction} LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
            return total, [self._row_to_job(row, now, detail) for row in rows]

    def run(self, project_id: str, job_ids: list[int], resume_savepoint: bool) -> list[StoreError | None]:
        """Per id, in order: None (accepted: the job starts its submit plan) or why not."""
        out: list[StoreError | None] = []
        with self._settled() as now:
            for job_id in job_ids:
                row = self._fetch(project_id, job_id)
                if row is None:
                    out.append(JobNotFound(job_id))
                    continue
                status, name, data = row[4], row[2], json.loads(row[8])
                if status not in RUNNABLE_STATUSES:
                    out.append(JobInWrongStatus(job_id, status))
                    continue
                self._write(job_id, "job_submitting", data, self._run_plan(data, name, now, resume_savepoint))
                out.append(None)
        return out

    def _run_plan(self, data: dict, name: str, now: int, resume_savepoint: bool) -> list[dict]:
        """The job enters job_submitting now; the steps after it, by its behaviour."""
        behaviour = stored_behaviour(data.get("behaviour"))
        resumes = resume_savepoint and bool(data.get("has_savepoint"))
        self._enter(data, now, status_desc="", start_time=None, duration=0, restart_times=0,
                    flink_state=None, end_time=None)
        submitted = now + self._ms(SUBMIT_MS)
        if resumes and behaviour.kind == RESUME_FAIL:
            reason = behaviour.reason_text(data.get("savepoint_path"))
            if behaviour.ends_in == "job_submit_fail":
                return [_step(submitted, "job_submit_fail", status_desc=reason, end_time=AT)]
            return [_step(submitted, "job_running_exception", status_desc=reason, flink_state="FAILED",
                          start_time=AT, end_time=AT, duration=0)]
        if behaviour.kind == SUBMIT_FAIL:
            return [_step(submitted, "job_submit_fail", status_desc=behaviour.reason_text(), end_time=AT)]
        if behaviour.kind == "healthy" and data.get("behaviour") is None and "fail" in name.lower():
            return [_step(submitted, "job_submit_fail", status_desc=NAME_RULE_SUBMIT_FAIL, end_time=AT)]
        return [_step(submitted, "job_running", start_time=AT, duration=0), *self._health_steps(behaviour, submitted)]

    def stop(self, project_id: str, job_ids: list[int], trigger_savepoint: bool) -> list[StoreError | None]:
        """Per id, in order: None (accepted: the job starts its stop plan) or why not."""
        out: list[StoreError | None] = []
        with self._settled() as now:
            for job_id in job_ids:
                row = self._fetch(project_id, job_id)
                if row is None:
                    out.append(JobNotFound(job_id))
                    continue
                status, data = row[4], json.loads(row[8])
                if status not in STOPPABLE_STATUSES:
                    out.append(JobInWrongStatus(job_id, status))
                    continue
                self._enter(data, now, status_desc="", flink_state=None)
                if trigger_savepoint and status != "job_submitting":
                    plan = self._stop_with_savepoint_plan(data, job_id, status, now)
                    self._write(job_id, "job_savepointing", data, plan)
                else:
                    done = now + self._ms(CANCEL_MS)
                    self._write(job_id, "job_canceling", data,
                                [_step(done, "job_cancel_success", duration=AT, end_time=AT)])
                out.append(None)
        return out

    def _stop_with_savepoint_plan(self, data: dict, job_id: int, status: str, now: int) -> list[dict]:
        """job_savepointing now; then canceling with the savepoint recorded, or, when the savepoint
        fails, back to the status it had: the stop did not happen and the job keeps running."""
        behaviour = stored_behaviour(data.get("behaviour"))
        saved = now + self._ms(SAVEPOINT_MS)
        if behaviour.kind == SAVEPOINT_FAIL:
            return [_step(saved, status, status_desc=behaviour.reason_text())]
        path = savepoint_path_in(default_savepoint_dir(data, job_id), saved)
        return [_step(saved, "job_canceling", has_savepoint=True, savepoint_path=path),
                _step(saved + self._ms(CANCEL_MS), "job_cancel_success", duration=AT, end_time=AT)]

    def trigger_savepoint(self, project_id: str, job_id: int, directory: str | None = None) -> None:
        """A savepoint of a running job (job_savepointing, then job_running again with the new
        ``savepoint_path`` under ``directory``, by default the job's bucket); JobNotFound, JobInWrongStatus."""
        with self._settled() as now:
            row = self._fetch_known(project_id, job_id)
            status, data = row[4], json.loads(row[8])
            if status != "job_running":
                raise JobInWrongStatus(job_id, status)
            behaviour = stored_behaviour(data.get("behaviour"))
            saved = now + self._ms(SAVEPOINT_MS)
            if behaviour.kind == SAVEPOINT_FAIL:
                back = _step(saved, "job_running", status_desc=behaviour.reason_text())
            else:
                path = savepoint_path_in(directory or default_savepoint_dir(data, job_id), saved)
                back = _step(saved, "job_running", has_savepoint=True, savepoint_path=path)
            # What was planned for the running job (a crash, a failure) waits until the savepoint is done.
            later = [{**step, "at": max(step["at"], saved + 1)} for step in self._plan_of(job_id)]
            self._enter(data, now, status_desc="", flink_state=None)
            self._write(job_id, "job_savepointing", data, [back, *later])

    def _plan_of(self, job_id: int) -> list[dict]:
        text = self._db.execute("SELECT plan FROM jobs WHERE job_id=?", (job_id,)).fetchone()[0]
        return [_as_step(entry) for entry in json.loads(text or "[]")]

    def execution_graph(self, project_id: str, job_id: int) -> dict[str, Any]:
        """Flink's view of the job (execute-graph); JobNotFound."""
        with self._settled() as now:
            row = self._fetch_known(project_id, job_id)
            job = self._row_to_job(row, now, detail=True)
            data = json.loads(row[8])
        state = data.get("flink_state") or FLINK_STATE_OF_STATUS[job["status"]]
        start = job["start_time"] or -1
        end = -1
        if state in _ENDED_FLINK_STATES:
            end = data.get("end_time") or (start + (job["duration"] or 0) if start > 0 else -1)
        return {
            # A new Flink job id for every run: the job id and its start.
            "jid": hashlib.md5(f"{job_id}:{job['start_time'] or 0}".encode()).hexdigest(),
            "name": job["name"],
            "isStoppable": False,  # Flink's "stop" needs stoppable sources; DLI stops by cancelling
            "state": state,
            "start-time": start,
            "end-time": end,
            "duration": job["duration"] or 0,
        }

    def set_behaviour(self, project_id: str, job_id: int, behaviour: Any) -> dict[str, Any]:
        """Give the job a behaviour (BehaviourError for a bad one, JobNotFound). A running job
        follows it from now on (a crash loop or failure ``after`` seconds from now); other jobs
        at their next request."""
        parsed = parse_behaviour(behaviour)
        with self._settled() as now:
            row = self._fetch_known(project_id, job_id)
            status, data = row[4], json.loads(row[8])
            data["behaviour"] = parsed.to_json()
            plan = self._health_steps(parsed, now) if status == "job_running" else self._plan_of(job_id)
            self._write(job_id, status, data, plan)
            return parsed.to_json()

    def behaviour(self, project_id: str, job_id: int) -> dict[str, Any]:
        with self._lock:
            row = self._fetch_known(project_id, job_id)
            return stored_behaviour(json.loads(row[8]).get("behaviour")).to_json()

    def delete(self, project_id: str, job_ids: list[int]) -> list[StoreError | None]:
        """Per id, in order: None (deleted) or JobNotFound."""
        out: list[StoreError | None] = []
        with self._transaction():
            for job_id in job_ids:
                cur = self._db.execute("DELETE FROM jobs WHERE job_id=? AND project_id=?", (job_id, project_id))
                if cur.rowcount:
                    self._db.execute("DELETE FROM job_tags WHERE job_id=?", (job_id,))
                out.append(None if cur.rowcount else JobNotFound(job_id))
        return out

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
