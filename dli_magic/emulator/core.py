"""The emulated service without a socket: clock, job store, authenticator, faults, request log, and
the test hooks on them. ``Emulator`` (server.py) is this core served over HTTP. No web code here."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any, Iterable

from .auth import Authenticator
from .demo import MAX_LOAD_JOBS, seed_demo, seed_load
from .faults import FaultSet
from .reqlog import RequestLog
from .store import JobNotFound, JobStore

DEFAULT_PROJECT_ID = "0b6a1c2d3e4f40a1b2c3d4e5f6a7b8c9"  # a fixed, realistic-looking 32-hex id
DEFAULT_REGION = "eu-de"
UNKNOWN_ID_MODES = ("item", "error")
# Any such segment is a project (its own namespace); the real ids are 32 hex characters.
PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
    ) -> None:
        if unknown_ids not in UNKNOWN_ID_MODES:
            raise ValueError(f"unknown_ids must be 'item' or 'error', not {unknown_ids!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError("speed must be a positive finite number")
        if not math.isfinite(token_ttl) or token_ttl <= 0:
            raise ValueError("token_ttl must be a positive finite number")
        if (ak is None) != (sk is None):
            raise ValueError("ak and sk go together: give both or neither")
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 0 <= jobs <= MAX_LOAD_JOBS:
            raise ValueError(f"jobs must be an integer from 0 to {MAX_LOAD_JOBS:,}, not {jobs!r}")
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
        self._offset = float(self.store.get_meta("clock_offset") or 0.0)
        self.auth = Authenticator(now_ms=self.now_ms, token=token, ak=ak, sk=sk, users=users, token_ttl=token_ttl)
        self.log = RequestLog()
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
        seconds = float(seconds)
        if not math.isfinite(seconds):
            raise ValueError("advance_clock needs a finite number of seconds")
        with self._clock_lock:
            self._offset += seconds
            self.store.set_meta("clock_offset", repr(self._offset))
            return self._offset

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
