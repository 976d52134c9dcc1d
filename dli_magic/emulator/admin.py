"""The emulator's own admin routes (``/_emulator/…``): faults, request log, clock, job seeding.

No auth, never logged, never faulted: a test can always reach them to clear faults.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..contract import INT64_MAX
from .bodies import request_json
from .core import PROJECT_ID_RE, EmulatorCore
from .faults import FaultError
from .responses import ApiError, json_response
from .store import JobNotFound


_NO_DEFAULT = object()


async def _body(request: Request, code: str, default: Any = _NO_DEFAULT) -> Any:
    """The JSON body (``default`` when there is none and one is allowed), or 400 ``code`` naming the problem."""
    if default is not _NO_DEFAULT and not request.state.body.strip():
        return default
    return await request_json(request, lambda why: ApiError(400, code, f"The body {why}."))


class AdminHandlers:
    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    async def faults(self, request: Request) -> Response:
        if request.method == "PUT":
            document = await _body(request, "EMULATOR.FAULTS", default={})
            try:
                self.core.set_faults(document)
            except FaultError as exc:
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
        # Off the event loop: reading 50,000 entries (bodies parsed and masked) must not stall the DLI routes.
        return json_response(200, await asyncio.to_thread(self.core.request_log, int(since)))

    async def clock(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request, "EMULATOR.CLOCK", default={})
            seconds = body.get("advance", 0) if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ApiError(400, "EMULATOR.CLOCK", 'expected {"advance": seconds} (a finite number)')
            try:
                self.core.advance_clock(seconds)
            except ValueError as exc:  # not finite, or out of the clock's range: nothing moved
                raise ApiError(400, "EMULATOR.CLOCK", str(exc))
        return json_response(200, {"now_ms": self.core.now_ms()})

    async def create_job(self, request: Request) -> Response:
        kwargs = await _body(request, "EMULATOR.JOBS", default={})
        if not isinstance(kwargs, dict):
            raise ApiError(400, "EMULATOR.JOBS", "the body must be a JSON object of create_job arguments")
        project_id = kwargs.get("project_id")
        if project_id is not None and not (isinstance(project_id, str) and PROJECT_ID_RE.match(project_id)):
            raise ApiError(400, "EMULATOR.JOBS", f"project_id is not a project id: {str(project_id)[:70]!r}")
        try:
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
                behaviour = await _body(request, "EMULATOR.BEHAVIOUR")
                return json_response(200, self.core.store.set_behaviour(project_id, job_id, behaviour))
            return json_response(200, self.core.store.behaviour(project_id, job_id))
        except JobNotFound:
            raise ApiError(404, "EMULATOR.JOBS", "no such job")
        except ValueError as exc:  # not a behaviour
            raise ApiError(400, "EMULATOR.BEHAVIOUR", str(exc))

    async def job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        job = self.core.get_job(job_id, request.query_params.get("project_id")) if job_id <= INT64_MAX else None
        if job is None:
            raise ApiError(404, "EMULATOR.JOBS", "no such job")
        return json_response(200, job)
