"""The emulated service without a socket: clock, job store, authenticator, faults, request log, and
the test hooks on them. ``Emulator`` (server.py) is this core served over HTTP. No web code here."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any, Iterable

from .auth import Authenticator
from .bodies import DEFAULT_MAX_BODY_BYTES
from .demo import MAX_LOAD_JOBS, seed_demo, seed_load
from .faults import FaultSet
from .reqlog import DEFAULT_LOG_ENTRIES, MAX_LOG_ENTRIES, RequestLog
from .store import MAX_TIME_MS, JobNotFound, JobStore

DEFAULT_PROJECT_ID = "0b6a1c2d3e4f40a1b2c3d4e5f6a7b8c9"  # a fixed, realistic-looking 32-hex id
DEFAULT_REGION = "eu-de"
UNKNOWN_ID_MODES = ("item", "error")
# Any such segment is a project (its own namespace); the real ids are 32 hex characters.
PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A --speed outside these makes planned times overflow or every step instant.
SPEED_MIN = 0.001
SPEED_MAX = 1_000_000.0
TOKEN_TTL_MAX = 10 * 365 * 86400  # seconds
MAX_BODY_BYTES_LIMIT = 1024**3
# A token or AK travels in a header: printable ASCII, no blanks (a header value loses its blanks).
_HEADER_SAFE = re.compile(r"[!-~]{1,4096}")


def _check_number(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, not {str(value)[:40]}")


class EmulatorCore:
    """The emulator's state and its test hooks (the same as the admin routes)."""

    def __init__(
        self,
        *,
        project_id: str = DEFAULT_PROJECT_ID,
        region: str = DEFAULT_REGION,
        token: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        users: Iterable[tuple[str, str, str]] = (),
        demo: bool = False,
        speed: float = 1.0,
        db: str | None = None,
        token_ttl: float = 86400,
        unknown_ids: str = "item",
        faults: dict[str, Any] | None = None,
        savepoint_api: bool = True,
        jobs: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        request_log_size: int = DEFAULT_LOG_ENTRIES,
    ) -> None:
        # Every value is checked here, so an emulator that starts keeps working (the CLI exits 2 on these).
        if unknown_ids not in UNKNOWN_ID_MODES:
            raise ValueError(f"unknown_ids must be 'item' or 'error', not {unknown_ids!r}")
        for name, value in (("project_id", project_id), ("region", region)):
            if not isinstance(value, str) or not PROJECT_ID_RE.match(value):
                raise ValueError(f"{name} must be 1 to 64 of A-Z a-z 0-9 _ -, not {str(value)[:70]!r}")
        _check_number("speed", speed, SPEED_MIN, SPEED_MAX)
        _check_number("token_ttl", token_ttl, 1, TOKEN_TTL_MAX)
        if (ak is None) != (sk is None):
            raise ValueError("ak and sk go together: give both or neither")
        for name, value in (("token", token), ("ak", ak)):
            if value is not None and not _HEADER_SAFE.fullmatch(value):
                raise ValueError(f"{name} must be 1 to 4096 printable ASCII characters without blanks")
        users = [tuple(user) for user in users]
        for user in [*users, *([("sk", sk, "sk")] if sk is not None else [])]:
            if len(user) != 3 or not all(isinstance(v, str) and v and v.isprintable() for v in user):
                raise ValueError("sk and every user's name, password and domain must be non-empty printable text")
        for name, value, low, high in (("jobs", jobs, 0, MAX_LOAD_JOBS),
                                       ("max_body_bytes", max_body_bytes, 1024, MAX_BODY_BYTES_LIMIT),
                                       ("request_log_size", request_log_size, 1, MAX_LOG_ENTRIES)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low:,} to {high:,}, not {value!r}")
        self.max_body_bytes = max_body_bytes
        self.project_id = project_id
        self.region = region
        self.unknown_ids = unknown_ids
        # Open Telekom Cloud documents no savepoint route: False answers it 404 APIGW.0101, as such a region does.
        self.savepoint_api = bool(savepoint_api)
        self._offset = 0.0
        self._clock_lock = threading.Lock()
        self.fault_set = FaultSet(faults)
        self.store = JobStore(db, self.now_ms, speed)
        # advance_clock is persisted with the jobs: after a restart with the same --db, pending
        # transitions and create_time stay consistent with the clock they were planned on.
        self._offset = self._stored_offset()
        self.auth = Authenticator(now_ms=self.now_ms, token=token, ak=ak, sk=sk, users=users, token_ttl=token_ttl)
        self.log = RequestLog(request_log_size)
        if self.store.count_all() == 0:  # a restart with the same --db keeps its jobs, seeds nothing
            if demo:
                seed_demo(self.store, project_id, self.now_ms(), self.auth.default_user)
            if jobs:
                seed_load(self.store, project_id, jobs, self.now_ms(), self.auth.default_user)

    # -- the clock: wall clock plus whatever advance_clock added --------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    def now_ms(self) -> int:
        return int((time.time() + self._offset) * 1000)

    def advance_clock(self, seconds: float) -> float:
        """Move the clock; ValueError (and no change) unless it stays within 1970..2200."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not abs(seconds) < math.inf:
            raise ValueError(f"advance_clock needs a finite number of seconds, not {str(seconds)[:40]}")
        if abs(seconds) > MAX_TIME_MS / 1000:  # also keeps a huge integer away from float arithmetic
            raise ValueError("the clock would leave the years 1970 to 2200: not moved")
        with self._clock_lock:
            offset = self._offset + seconds
            if not 0 <= (time.time() + offset) * 1000 <= MAX_TIME_MS:
                raise ValueError("the clock would leave the years 1970 to 2200: not moved")
            self._offset = offset
            self.store.set_meta("clock_offset", repr(self._offset))
            return self._offset

    def _stored_offset(self) -> float:
        """The offset a previous run with this --db added; one that is not a number in range is dropped."""
        try:
            offset = float(self.store.get_meta("clock_offset") or 0.0)
        except ValueError:
            return 0.0
        return offset if math.isfinite(offset) and 0 <= (time.time() + offset) * 1000 <= MAX_TIME_MS else 0.0

    # -- jobs --------------------------------------------------------------------------------------------

    def create_job(
        self,
        name: str = "x",
        status: str = "job_init",
        job_type: str = "flink_sql_job",
        has_savepoint: bool = False,
        queue_name: str = "default",
        project_id: str | None = None,
        behaviour: str | dict[str, Any] | None = None,
        **fields: Any,
    ) -> int:
        """Seed a job with any job field and a behaviour (behaviours.py); InvalidJob (a ValueError)
        for an unknown field, status or behaviour."""
        fields.update(name=name, status=status, job_type=job_type, has_savepoint=has_savepoint, queue_name=queue_name)
        if has_savepoint and not fields.get("savepoint_path"):
            fields["savepoint_path"] = f"obs://dli-emulator/savepoints/{name}"
        return self.store.create(project_id or self.project_id, fields, behaviour)

    def set_behaviour(self, job_id: int, behaviour: str | dict[str, Any] | None, project_id: str | None = None) -> dict:
        """Give a job a behaviour (behaviours.py); a running job follows it from now on. Returns it
        in its long form; ValueError for a bad one or an unknown job."""
        try:
            return self.store.set_behaviour(project_id or self.project_id, int(job_id), behaviour)
        except JobNotFound:
            raise ValueError(f"no job {job_id} in project {project_id or self.project_id}") from None

    def get_job(self, job_id: int, project_id: str | None = None) -> dict | None:
        """The job after its due transitions, with every detail field; None if there is none."""
        try:
            return self.store.get(project_id or self.project_id, int(job_id))
        except JobNotFound:
            return None

    # -- faults and the request log ------------------------------------------------------------------------

    def set_faults(self, faults: dict[str, Any] | None) -> None:
        self.fault_set.replace(faults)

    def clear_faults(self) -> None:
        self.fault_set.replace(None)

    def faults(self) -> dict[str, Any]:
        return self.fault_set.snapshot()

    def request_log(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log, oldest first; with ``since``, only the entries after that ``seq``."""
        return self.log.export(since)

    def clear_request_log(self) -> None:
        self.log.clear()
