"""Typed results and the one DataFrame schema every surface returns (magic, Python API, panel).

pandas is imported only inside the functions that build a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from .contract import INT64_MAX, parse_is_success

# The schema of a run/stop/restart result: one row per requested job, in request order.
# ``status``/``status_desc`` are what the service said when dli-magic last read the job (<NA> when
# it did not read it); ``healthy`` is set only when health was checked (``stable=``);
# ``savepoint_path`` is the savepoint read back (a stop with savepoint, a restart's resume).
OUTCOME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("job_id", "Int64"),
    ("name", "string"),
    ("is_success", "boolean"),
    ("message", "string"),
    ("status", "string"),
    ("status_desc", "string"),
    ("healthy", "boolean"),
    ("savepoint_path", "string"),
    ("request_id", "string"),
)

# The schema of a job listing (%dli_jobs, the panel).
JOB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("job_id", "Int64"),
    ("name", "string"),
    ("status", "string"),
    ("status_desc", "string"),
    ("job_type", "string"),
    ("queue_name", "string"),
    ("restart_times", "Int64"),
    ("duration", "timedelta64[ms]"),
    ("has_savepoint", "boolean"),
    ("savepoint_path", "string"),
    ("create_time", "datetime64[ms, UTC]"),
    ("start_time", "datetime64[ms, UTC]"),
    ("user_name", "string"),
)


@dataclass(frozen=True)
class JobOutcome:
    """What the service said about one job of a run/stop call.

    ``is_success`` is None when the answer could not be attributed to this job (count mismatch)
    or the call for its chunk failed; ``message`` then says why.
    """

    job_id: int
    is_success: bool | None
    message: str
    request_id: str | None = None
    name: str | None = None
    status: str | None = None
    status_desc: str | None = None
    healthy: bool | None = None
    savepoint_path: str | None = None


@dataclass(frozen=True)
class Job:
    """One Flink job as the list/detail API describes it (detail-only fields are None in a listing)."""

    job_id: int
    name: str | None = None
    status: str | None = None
    status_desc: str | None = None
    job_type: str | None = None
    queue_name: str | None = None
    restart_times: int | None = None
    duration: int | None = None  # ms
    has_savepoint: bool | None = None
    savepoint_path: str | None = None
    create_time: int | None = None  # epoch ms
    start_time: int | None = None  # epoch ms, 0/None = never started
    update_time: int | None = None  # epoch ms (detail)
    user_name: str | None = None
    desc: str | None = None
    run_mode: str | None = None  # detail
    sql_body: str | None = None  # detail
    job_config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)  # detail
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Job":
        """A job from a list/detail entry. ``job_id`` must be an integer (the client checks it);
        an optional field of an unexpected type becomes None (or its text), never an exception."""
        job_id = data["job_id"]
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise ValueError(f"job_id must be an integer, not {job_id!r}")
        config = data.get("job_config")
        return cls(
            job_id=job_id,
            name=_text(data.get("name")),
            status=_text(data.get("status")),
            status_desc=_text(data.get("status_desc")) or None,  # "" says nothing
            job_type=_text(data.get("job_type")),
            queue_name=_text(data.get("queue_name")),
            restart_times=_count(data.get("restart_times")),
            duration=_duration_ms(data.get("duration")),
            has_savepoint=parse_is_success(data.get("has_savepoint")),
            savepoint_path=_text(data.get("savepoint_path")) or None,
            create_time=_epoch_ms(data.get("create_time")),
            start_time=_moment(data.get("start_time")),
            update_time=_moment(data.get("update_time")),
            user_name=_text(data.get("user_name")),
            desc=_text(data.get("desc")),
            run_mode=_text(data.get("run_mode")),
            sql_body=_text(data.get("sql_body")),
            job_config=dict(config) if isinstance(config, Mapping) else {},
            raw=dict(data),
        )


@dataclass(frozen=True)
class ExecuteGraph:
    """Flink's own view of a job (``GET …/jobs/{id}/execute-graph``): ``state`` is one of
    ``contract.FLINK_JOB_STATES`` (RUNNING, RESTARTING, FAILED, CANCELED, …)."""

    job_id: int
    state: str | None = None
    flink_job_id: str | None = None  # "jid"
    name: str | None = None
    stoppable: bool | None = None
    start_time: int | None = None  # epoch ms
    end_time: int | None = None  # epoch ms; None while running (the API says -1)
    duration: int | None = None  # ms
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, job_id: int, data: Mapping[str, Any]) -> "ExecuteGraph":
        end = data.get("end-time")
        return cls(
            job_id=job_id,
            state=_text(data.get("state")),
            flink_job_id=_text(data.get("jid")),
            name=_text(data.get("name")),
            stoppable=parse_is_success(data.get("isStoppable")),
            start_time=_moment(data.get("start-time")),
            end_time=_moment(end),
            duration=_duration_ms(data.get("duration")),
            raw=dict(data),
        )


def _moment(value: Any) -> int | None:
    """A point in time (epoch ms); 0, -1 and null mean "not yet" in this API."""
    value = _epoch_ms(value)
    return value if value is not None and value > 0 else None


def _count(value: Any) -> int | None:
    """A non-negative integer field (restarts) an Int64 column holds; anything else is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        return None
    return value


def _duration_ms(value: Any) -> int | None:
    """A duration in ms, up to what a time column holds (see _EPOCH_MS_MAX); anything else is not one."""
    value = _count(value)
    return value if value is not None and value < _EPOCH_MS_MAX else None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return None  # not a text field's value: no guessing at a rendering
    return str(value)


# What a time or duration column holds once pandas converts it (through nanoseconds: about ±292
# years around 1970); anything else is not a time.
_EPOCH_MS_MAX = 2**63 // 1_000_000


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= _EPOCH_MS_MAX:
        return None
    return value


@dataclass
class BatchResult:
    """The outcome of one run or stop call over many jobs (possibly several HTTP requests)."""

    action: str  # "run" | "stop"
    outcomes: list[JobOutcome]
    endpoint: str
    project_id: str
    options: dict[str, Any] = field(default_factory=dict)  # resume_savepoint / trigger_savepoint
    started: datetime | None = None
    finished: datetime | None = None
    attempts: int = 0  # HTTP attempts, retries included
    requests: int = 0  # distinct chunk requests
    dry_run: bool = False
    interrupted: bool = False  # Ctrl-C during a multi-chunk call: chunks not started are "not sent"

    @property
    def succeeded(self) -> int:
        return sum(1 for o in self.outcomes if o.is_success is True)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.is_success is False)

    @property
    def unknown(self) -> int:
        return sum(1 for o in self.outcomes if o.is_success is None)

    def summary(self) -> str:
        return (
            f"{self.action}: {len(self.outcomes)} jobs, {self.succeeded} ok, {self.failed} failed, "
            f"{self.unknown} unknown"
        )

    def attrs(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "endpoint": self.endpoint,
            "project_id": self.project_id,
            **self.options,
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "attempts": self.attempts,
            "requests": self.requests,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
        }

    def to_frame(self):
        return outcomes_frame(self.outcomes, attrs=self.attrs())


def _pandas_dtype(name: str):
    """A schema dtype name as a pandas dtype. The nullable types by their constructors: a name
    given to ``pd.array`` is searched for in pandas' whole dtype registry on every call, and a
    constructor still reads pandas' options (``mode.string_storage``) each time."""
    import pandas as pd

    constructor = {"Int64": pd.Int64Dtype, "string": pd.StringDtype, "boolean": pd.BooleanDtype}.get(name)
    return constructor() if constructor is not None else pd.api.types.pandas_dtype(name)


def _typed_frame(records: Iterable[Any], columns: Iterable[tuple[str, str]]):
    """A frame with one row per record (a JobOutcome or Job: its attributes are the column names)."""
    import pandas as pd

    records = list(records)
    data = {}
    for name, dtype_name in columns:
        values = [getattr(record, name) for record in records]
        if dtype_name.startswith("datetime64"):  # epoch milliseconds, None = no time
            data[name] = pd.to_datetime(pd.array(values, dtype=_pandas_dtype("Int64")), unit="ms",
                                        utc=True).astype(_pandas_dtype(dtype_name))
        elif dtype_name.startswith("timedelta64"):  # milliseconds, None = not known
            data[name] = pd.to_timedelta(pd.array(values, dtype=_pandas_dtype("Int64")),
                                         unit="ms").astype(_pandas_dtype(dtype_name))
        else:
            data[name] = pd.array(values, dtype=_pandas_dtype(dtype_name))
    # copy=False: the arrays were made for this frame (a dict is copied by default).
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)), copy=False)


def outcomes_frame(outcomes: Iterable[JobOutcome], attrs: Mapping[str, Any] | None = None):
    """The run/stop DataFrame (OUTCOME_COLUMNS), metadata in ``df.attrs``."""
    frame = _typed_frame(outcomes, OUTCOME_COLUMNS)
    frame.attrs.update(attrs or {})
    return frame


def jobs_frame(jobs: Iterable[Job]):
    """The job listing DataFrame (JOB_COLUMNS)."""
    return _typed_frame(jobs, JOB_COLUMNS)
