"""The emulator's own admin routes (``/_emulator/…``): faults, request log, clock, job seeding.

No auth, never logged, never faulted: a test can always reach them to clear faults.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ..contract import INT64_MAX
from .core import EmulatorCore
from .faults import FaultError
from .responses import ApiError, json_response
from .store import JobNotFound


class AdminHandlers:
    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    async def faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                self.core.set_faults(json.loads(request.state.body or b"{}"))
            except (ValueError, FaultError) as exc:
                raise ApiError(400, "EMULATOR.FAULTS", str(exc))
        elif request.method == "DELETE":
            self.core.clear_faults()
        return json_response(200, self.core.faults())

    async def requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.core.clear_request_log()
            return json_response(200, [])
        since = request.query_params.get("since") or "0"
        if not since.isascii() or not since.isdigit() or len(since) > 19:
            raise ApiError(400, "EMULATOR.REQUESTS", f"since must be a sequence number, not {since[:40]!r}")
        return json_response(200, self.core.request_log(int(since)))

    async def clock(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                seconds = float(json.loads(request.state.body or b"{}").get("advance", 0))
                self.core.advance_clock(seconds)  # ValueError when not finite
            except (ValueError, TypeError, AttributeError):
                raise ApiError(400, "EMULATOR.CLOCK", 'expected {"advance": seconds} (a finite number)')
        return json_response(200, {"now_ms": self.core.now_ms()})

    async def create_job(self, request: Request) -> Response:
        try:
            kwargs = json.loads(request.state.body or b"{}")
            if not isinstance(kwargs, dict):
                raise TypeError("body must be a JSON object of create_job arguments")
            job_id = self.core.create_job(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "EMULATOR.JOBS", str(exc))
        return json_response(200, {"job_id": job_id})

    async def behaviour(self, request: Request) -> Response:
        """GET: the job's behaviour; PUT (body: a behaviour) sets it."""
        job_id = request.path_params["job_id"]
        project_id = request.query_params.get("project_id") or self.core.project_id
        try:
            if job_id > INT64_MAX:
                raise JobNotFound(job_id)
            if request.method == "PUT":
                behaviour = json.loads(request.state.body)
                return json_response(200, self.core.store.set_behaviour(project_id, job_id, behaviour))
            return json_response(200, self.core.store.behaviour(project_id, job_id))
        except JobNotFound:
            raise ApiError(404, "EMULATOR.JOBS", "no such job")
        except ValueError as exc:  # not JSON, or not a behaviour
            raise ApiError(400, "EMULATOR.BEHAVIOUR", str(exc))

    async def job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        job = self.core.get_job(job_id, request.query_params.get("project_id")) if job_id <= INT64_MAX else None
        if job is None:
            raise ApiError(404, "EMULATOR.JOBS", "no such job")
        return json_response(200, job)
