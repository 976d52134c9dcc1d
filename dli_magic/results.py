"""Typed results and the one DataFrame schema every surface returns (magic, Python API, panel).

pandas is imported only inside the functions that build a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

# The schema of a run/stop result: one row per requested job, in request order.
OUTCOME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("job_id", "Int64"),
    ("name", "string"),
    ("is_success", "boolean"),
    ("message", "string"),
    ("status", "string"),
    ("request_id", "string"),
)

# The schema of a job listing (%dli_jobs, the panel's picker).
JOB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("job_id", "Int64"),
    ("name", "string"),
    ("status", "string"),
    ("job_type", "string"),
    ("queue_name", "string"),
    ("has_savepoint", "boolean"),
    ("create_time", "datetime64[ms, UTC]"),
    ("start_time", "datetime64[ms, UTC]"),
    ("user_name", "string"),
    ("status_desc", "string"),
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


@dataclass(frozen=True)
class Job:
    """One Flink job as the list/detail API describes it."""

    job_id: int
    name: str | None = None
    status: str | None = None
    job_type: str | None = None
    queue_name: str | None = None
    has_savepoint: bool | None = None
    create_time: int | None = None  # epoch ms
    start_time: int | None = None  # epoch ms, 0/None = never started
    user_name: str | None = None
    status_desc: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Job":
        """A job from a list/detail entry. ``job_id`` must be an integer (the client checks it);
        an optional field of an unexpected type becomes None (or its text), never an exception."""
        job_id = data["job_id"]
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise ValueError(f"job_id must be an integer, not {job_id!r}")
        return cls(
            job_id=job_id,
            name=_text(data.get("name")),
            status=_text(data.get("status")),
            job_type=_text(data.get("job_type")),
            queue_name=_text(data.get("queue_name")),
            has_savepoint=_flag(data.get("has_savepoint")),
            create_time=_epoch_ms(data.get("create_time")),
            start_time=_epoch_ms(data.get("start_time")) or None,
            user_name=_text(data.get("user_name")),
            status_desc=_text(data.get("status_desc")),
            raw=dict(data),
        )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return None  # not a text field's value: no guessing at a rendering
    return str(value)


def _flag(value: Any) -> bool | None:
    """A JSON bool or "true"/"false" in any case (as ``contract.parse_is_success``); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


# What datetime64[ms] can hold (about ±292 million years); anything else is not a time.
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


_DTYPES: dict[str, Any] = {}  # dtype name -> pandas dtype object, resolved once (not per column per call)


def _typed_frame(records: Iterable[Any], columns: Iterable[tuple[str, str]]):
    """A frame with one row per record (a JobOutcome or Job: its attributes are the column names)."""
    import pandas as pd

    records = list(records)
    names, arrays = [], []
    for name, dtype_name in columns:
        dtype = _DTYPES.get(dtype_name)
        if dtype is None:
            dtype = _DTYPES[dtype_name] = pd.api.types.pandas_dtype(dtype_name)
        values = [getattr(record, name) for record in records]
        if dtype_name.startswith("datetime64"):
            stamps = pd.to_datetime(pd.array(values, dtype="Int64"), unit="ms", utc=True)
            arrays.append(pd.Series(stamps).astype(dtype).array)
        else:
            arrays.append(_masked_column(values, dtype_name, dtype))
        names.append(name)
    return _frame_from_arrays(arrays, names, len(records))


def _frame_from_arrays(arrays: list[Any], names: list[str], length: int, *, fast: bool = True):
    """The DataFrame of typed arrays of one length. ``DataFrame._from_arrays`` skips the dict
    constructor's re-checks of arrays built just above (a quarter of the frame's cost); it is
    not public, so any change in pandas falls back to the public constructor."""
    import pandas as pd

    if fast:
        try:
            return pd.DataFrame._from_arrays(
                arrays, columns=pd.Index(names), index=pd.RangeIndex(length), verify_integrity=False
            )
        except (AttributeError, TypeError):
            pass
    return pd.DataFrame(dict(zip(names, arrays)), copy=False)


def _masked_column(values: list[Any], dtype_name: str, dtype: Any):
    """An Int64 / boolean / string column built from numpy data and a mask: the public array
    constructors skip pd.array's per-value inference (5x faster, and a %dli_run builds one per
    call). A value of any other type takes pd.array's path, which converts or raises as before."""
    import numpy as np
    import pandas as pd

    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if dtype_name == "string" and getattr(dtype, "storage", None) == "python":
        if all(type(v) is str for v, missing in zip(values, mask) if not missing):
            data = np.empty(len(values), dtype=object)
            data[:] = values
            data[mask] = dtype.na_value
            return pd.arrays.StringArray(data)
    elif dtype_name == "Int64":
        if all(type(v) is int and _INT64_MIN <= v <= _INT64_MAX for v, missing in zip(values, mask) if not missing):
            data = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=len(values))
            return pd.arrays.IntegerArray(data, mask)
    elif dtype_name == "boolean":
        if all(type(v) is bool for v, missing in zip(values, mask) if not missing):
            data = np.fromiter((v is True for v in values), dtype=bool, count=len(values))
            return pd.arrays.BooleanArray(data, mask)
    return pd.array(values, dtype=dtype)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def outcomes_frame(outcomes: Iterable[JobOutcome], attrs: Mapping[str, Any] | None = None):
    """The run/stop DataFrame (OUTCOME_COLUMNS), metadata in ``df.attrs``."""
    frame = _typed_frame(outcomes, OUTCOME_COLUMNS)
    frame.attrs.update(attrs or {})
    return frame


def jobs_frame(jobs: Iterable[Job]):
    """The job listing DataFrame (JOB_COLUMNS)."""
    return _typed_frame(jobs, JOB_COLUMNS)
