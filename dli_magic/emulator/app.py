"""The emulator's web app: a gateway layer (request id, log, faults, auth) around a Starlette router.

The gateway is a plain ASGI callable rather than a Starlette middleware: it reads the body once
(the signature check and the request log need it), and it must intercept ``http.response.start``
to add ``X-Request-Id``, apply latency after processing, and drop connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import traceback
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, Router

from ..contract import JOB_NAME_MAX, JOB_STATUSES, LIST_PAGE_DEFAULT, LIST_PAGE_MAX, INT64_MAX
from .auth import NO_CREDENTIALS, ApiError, Identity
from .core import EmulatorCore
from .faults import FaultError
from .reqlog import redact_headers
from .store import user_id_for

API = "/v1.0/{project_id}/streaming"
_PROJECT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class _DropNoticeFilter(logging.Filter):
    # A deliberate `drop` fault makes uvicorn log this line; it is expected, not a bug.
    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_DropNoticeFilter())


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(err: ApiError, request_id: str) -> Response:
    payload: dict[str, Any] = {"error_code": err.code, "error_msg": err.message}
    if err.code.startswith("APIGW."):
        payload["request_id"] = request_id
    elif err.code.startswith("IAM."):
        # IAM's own shape, next to the common one so any client finds the message.
        payload["error"] = {"code": err.status, "title": "Unauthorized" if err.status == 401 else "Bad Request",
                            "message": err.message}
    return _json(err.status, payload, err.headers)


def _bad(field: str, why: str) -> ApiError:
    return ApiError(400, "DLI.0001", f"Parameter check error: {field} {why}.")


def _parse_body(body: bytes) -> Any:
    if not body:
        raise _bad("body", "is empty; a JSON object is required")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _bad("body", "is not valid JSON")


def _job_ids(payload: Any) -> list[int]:
    if not isinstance(payload, dict):
        raise _bad("body", "must be a JSON object")
    if "job_ids" not in payload or payload["job_ids"] is None:
        raise _bad("job_ids", "is mandatory")
    ids = payload["job_ids"]
    if not isinstance(ids, list):
        raise _bad("job_ids", "must be a list of job ids")
    if not ids:
        raise _bad("job_ids", "must not be empty")
    for index, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(f"job_ids[{index}]", f"is not an integer: {json.dumps(value)[:40]}")
        if not 0 < value <= INT64_MAX:
            raise _bad(f"job_ids[{index}]", f"is out of range: {value}")
    return ids


def _flag(payload: dict, field: str) -> bool:
    value = payload.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(field, f"must be a boolean (true/false), not {json.dumps(value)[:40]}")
    return value


class Api:
    """The route handlers. ``request.state`` carries what the gateway found (identity, body…)."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    # -- helpers -----------------------------------------------------------------------------------

    def _fault(self, request: Request, name: str) -> dict | None:
        spec = self.core.faults.take(name, request.method, request.scope["path"])
        if spec is not None:
            request.state.fired.append(name)
        return spec

    def _succ(self, request: Request, ok: bool) -> Any:
        if self._fault(request, "bool_is_success") is not None:
            return ok
        return "true" if ok else "false"

    def _unknown_mode(self, request: Request) -> str:
        spec = self._fault(request, "unknown_ids")
        return spec["mode"] if spec else self.core.unknown_ids

    def _check_unknown(self, request: Request, project_id: str, ids: list[int]) -> None:
        if self._unknown_mode(request) == "error":
            found = self.core.store.existing(project_id, ids)
            missing = [i for i in ids if i not in found]
            if missing:
                raise ApiError(400, "DLI.16001", f"The job {missing[0]} does not exist.")

    def _batch(self, request: Request, results: list[tuple[bool, str]]) -> Response:
        items = [{"is_success": self._succ(request, ok), "message": msg} for ok, msg in results]
        short = self._fault(request, "short_response")
        if short is not None:
            items = items[: max(0, len(items) - int(short.get("missing", 1)))]
        return _json(200, items)

    # -- DLI routes ----------------------------------------------------------------------------------

    async def run(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        payload = _parse_body(request.state.body)
        ids = _job_ids(payload)
        resume = _flag(payload, "resume_savepoint")
        self._check_unknown(request, project_id, ids)
        return self._batch(request, self.core.store.run(project_id, ids, resume))

    async def stop(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        payload = _parse_body(request.state.body)
        ids = _job_ids(payload)
        savepoint = _flag(payload, "trigger_savepoint")
        self._check_unknown(request, project_id, ids)
        return self._batch(request, self.core.store.stop(project_id, ids, savepoint))

    async def delete_many(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        ids = _job_ids(_parse_body(request.state.body))
        self._check_unknown(request, project_id, ids)
        return self._batch(request, self.core.store.delete(project_id, ids))

    @staticmethod
    def _path_job_id(request: Request) -> int:
        text = request.path_params["job_id"]
        if not text.isdigit() or not 0 < int(text) <= INT64_MAX:
            raise _bad("job_id", f"is not a valid job id: {text[:40]!r}")
        return int(text)

    async def detail(self, request: Request) -> Response:
        job_id = self._path_job_id(request)
        job = self.core.store.get(request.path_params["project_id"], job_id, detail=True)
        if job is None:
            raise ApiError(400, "DLI.16001", f"The job {job_id} does not exist.")
        message = "Querying of the job details succeeds."
        return _json(200, {"is_success": self._succ(request, True), "message": message, "job_detail": job})

    async def delete_one(self, request: Request) -> Response:
        job_id = self._path_job_id(request)
        [(ok, message)] = self.core.store.delete(request.path_params["project_id"], [job_id])
        if not ok:
            raise ApiError(400, "DLI.16001", f"The job {job_id} does not exist.")
        return _json(200, {"is_success": self._succ(request, True), "message": message})

    async def list_jobs(self, request: Request) -> Response:
        q = request.query_params

        def integer(name: str, default: int) -> int:
            text = q.get(name)
            if text is None or text == "":
                return default
            if not text.lstrip("-").isdigit():
                raise _bad(name, f"must be an integer, not {text[:40]!r}")
            return int(text)

        limit = integer("limit", LIST_PAGE_DEFAULT)
        if limit < 0 or limit > LIST_PAGE_MAX:
            raise _bad("limit", f"must be between 0 and {LIST_PAGE_MAX}, not {limit}")
        offset = integer("offset", 0)
        if offset < 0:
            raise _bad("offset", f"must not be negative, not {offset}")
        order = q.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise _bad("order", f"must be asc or desc, not {order[:40]!r}")
        status = q.get("status") or None
        if status is not None and status not in JOB_STATUSES:
            raise _bad("status", f"is not a job status: {status[:40]!r}")
        show_detail = (q.get("show_detail") or "false").lower()
        if show_detail not in ("true", "false"):
            raise _bad("show_detail", f"must be true or false, not {show_detail[:40]!r}")
        name = q.get("name") or None
        if name is not None and len(name) > JOB_NAME_MAX:
            raise _bad("name", f"is longer than {JOB_NAME_MAX} characters")
        tags: list[tuple[str, str]] = []
        for part in filter(None, (q.get("tags") or "").split(",")):
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise _bad("tags", f"must look like k=v,k2=v2, not {part[:40]!r}")
            tags.append((key.strip(), value.strip()))
        total, jobs = self.core.store.list(
            request.path_params["project_id"],
            job_type=q.get("job_type") or None,
            status=status,
            queue_name=q.get("queue_name") or None,
            name=name,
            user_name=q.get("user_name") or None,
            tags=tags,
            order=order,
            limit=limit,
            offset=offset,
            detail=show_detail == "true",
        )
        return _json(
            200,
            {
                "is_success": self._succ(request, True),
                "message": "Querying of the job list succeeds.",
                "job_list": {"total_count": total, "jobs": jobs},
            },
        )

    def _create(self, request: Request, job_type_default: str, allowed_types: tuple[str, ...]) -> Response:
        payload = _parse_body(request.state.body)
        if not isinstance(payload, dict):
            raise _bad("body", "must be a JSON object")
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _bad("name", "is mandatory")
        if len(name) > JOB_NAME_MAX:
            raise _bad("name", f"is longer than {JOB_NAME_MAX} characters")
        job_type = payload.get("job_type") or job_type_default
        if job_type not in allowed_types:
            raise _bad("job_type", f"must be one of {', '.join(allowed_types)}, not {str(job_type)[:40]!r}")
        tags = payload.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, dict) and "key" in t for t in tags):
            raise _bad("tags", "must be a list of {\"key\", \"value\"} objects")
        config_keys = ("checkpoint_enabled", "checkpoint_interval", "checkpoint_mode", "cu_number",
                       "parallel_number", "manager_cu_number", "log_enabled", "obs_bucket",
                       "restart_when_exception", "entrypoint", "dependency_jars", "dependency_files",
                       "flink_version", "tm_cus", "tm_slot_num")
        job_config = {"checkpoint_enabled": False, "checkpoint_interval": 10, "cu_number": 2, "parallel_number": 1}
        job_config.update({k: payload[k] for k in config_keys if k in payload})
        identity: Identity = request.state.identity
        fields = dict(
            name=name,
            job_type=job_type,
            desc=payload.get("desc") or "",
            queue_name=payload.get("queue_name"),
            sql_body=payload.get("sql_body"),
            run_mode=payload.get("run_mode") or "shared_cluster",
            main_class=payload.get("main_class"),
            entrypoint_args=payload.get("entrypoint_args"),
            user_name=identity.user_name,
            job_config=job_config,
            tags=tags,
        )
        job_id = self.core.store.create(request.path_params["project_id"], fields)
        return _json(
            200,
            {
                "is_success": self._succ(request, True),
                "message": "A DLI job is created successfully.",
                "job": {"job_id": job_id, "status_name": "job_init", "status_desc": ""},
            },
        )

    async def create_sql(self, request: Request) -> Response:
        types = ("flink_sql_job", "flink_opensource_sql_job", "flink_sql_edge_job", "flink_edge_sql_job")
        return self._create(request, "flink_sql_job", types)

    async def create_jar(self, request: Request) -> Response:
        return self._create(request, "flink_jar_job", ("flink_jar_job",))

    # -- IAM routes -----------------------------------------------------------------------------------

    async def iam_tokens(self, request: Request) -> Response:
        def bad(why: str) -> ApiError:
            return ApiError(400, "IAM.0001", f"The request body is invalid: {why}.")

        try:
            payload = json.loads(request.state.body or b"")
            ident = payload["auth"]["identity"]
            scope = payload["auth"].get("scope") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise bad("expected {\"auth\": {\"identity\": …, \"scope\": …}}")
        if not isinstance(ident, dict) or "password" not in (ident.get("methods") or []):
            raise bad("only the password method is supported by the emulator")
        try:
            user = ident["password"]["user"]
            name, password = user["name"], user["password"]
            domain = (user.get("domain") or {}).get("name") or ""
        except (KeyError, TypeError, AttributeError):
            raise bad("auth.identity.password.user needs name, password and domain.name")
        if not all(isinstance(v, str) for v in (name, password, domain)):
            raise bad("user name, password and domain name must be strings")
        project = scope.get("project") if isinstance(scope, dict) else None
        if not isinstance(project, dict) or not (project.get("name") or project.get("id")):
            raise bad("a project scope (auth.scope.project.name or .id) is required")
        project_id, project_name = self._resolve_project(project)
        token, issued = self.core.auth.issue(name, password, domain, project_id, project_name)
        request.state.identity = Identity("iam-password", name, project_id)
        now = self.core.now_ms()
        domain_obj = {"id": "d" + project_id[1:], "name": domain}
        body = {
            "token": {
                "expires_at": self.core.auth.iso(issued.expires_ms),
                "issued_at": self.core.auth.iso(now),
                "methods": ["password"],
                "project": {"id": project_id, "name": project_name, "domain": domain_obj},
                "user": {"id": user_id_for(name), "name": name, "domain": domain_obj, "password_expires_at": ""},
                "roles": [{"id": "0", "name": "te_admin"}],
                "catalog": [],
            }
        }
        return _json(201, body, {"X-Subject-Token": token})

    def _resolve_project(self, project: dict) -> tuple[str, str]:
        if project.get("id"):
            pid = str(project["id"])
            if not _PROJECT_RE.match(pid):
                raise ApiError(400, "IAM.0001", "The request body is invalid: project id is malformed.")
            return pid, self.core.region if pid == self.core.project_id else f"{self.core.region}_{pid[:8]}"
        if project["name"] != self.core.region:
            raise ApiError(400, "IAM.0003", f"The project {str(project['name'])[:60]!r} does not exist.")
        return self.core.project_id, self.core.region

    async def iam_projects(self, request: Request) -> Response:
        name = request.query_params.get("name")
        projects = []
        if name is None or name == self.core.region:
            projects.append(
                {"id": self.core.project_id, "name": self.core.region, "enabled": True, "description": "",
                 "domain_id": "d" + self.core.project_id[1:], "is_domain": False,
                 "parent_id": "d" + self.core.project_id[1:]}
            )
        return _json(200, {"projects": projects, "links": {"self": str(request.url)}})

    # -- admin routes (no auth, not logged) ------------------------------------------------------------

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                self.core.faults.replace(json.loads(request.state.body or b"{}"))
            except (ValueError, FaultError) as exc:
                raise ApiError(400, "EMULATOR.FAULTS", str(exc))
        elif request.method == "DELETE":
            self.core.faults.replace(None)
        return _json(200, self.core.faults.snapshot())

    async def admin_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.core.log.clear()
            return _json(200, [])
        return _json(200, self.core.log.export())

    async def admin_clock(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                seconds = float(json.loads(request.state.body or b"{}").get("advance", 0))
            except (ValueError, TypeError, AttributeError):
                raise ApiError(400, "EMULATOR.CLOCK", 'expected {"advance": seconds}')
            self.core.advance_clock(seconds)
        return _json(200, {"now_ms": self.core.now_ms()})

    async def admin_jobs(self, request: Request) -> Response:
        try:
            kwargs = json.loads(request.state.body or b"{}")
            if not isinstance(kwargs, dict):
                raise TypeError("body must be a JSON object of create_job arguments")
            job_id = self.core.create_job(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "EMULATOR.JOBS", str(exc))
        return _json(200, {"job_id": job_id})

    async def admin_job(self, request: Request) -> Response:
        job = self.core.get_job(int(request.path_params["job_id"]), request.query_params.get("project_id"))
        if job is None:
            raise ApiError(404, "EMULATOR.JOBS", "no such job")
        return _json(200, job)

    async def not_found(self, request: Request) -> Response:
        raise ApiError(404, "APIGW.0101", "The API does not exist or has not been published in the environment.")

    def routes(self) -> list[Route]:
        return [
            Route(API + "/jobs/run", self.run, methods=["POST"]),
            Route(API + "/jobs/stop", self.stop, methods=["POST"]),
            Route(API + "/jobs/delete", self.delete_many, methods=["POST"]),
            Route(API + "/jobs", self.list_jobs, methods=["GET"]),
            Route(API + "/jobs/{job_id}", self.detail, methods=["GET"]),
            Route(API + "/jobs/{job_id}", self.delete_one, methods=["DELETE"]),
            Route(API + "/sql-jobs", self.create_sql, methods=["POST"]),
            Route(API + "/flink-jobs", self.create_jar, methods=["POST"]),
            Route("/v3/auth/tokens", self.iam_tokens, methods=["POST"]),
            Route("/v3/projects", self.iam_projects, methods=["GET"]),
            Route("/_emulator/faults", self.admin_faults, methods=["GET", "PUT", "DELETE"]),
            Route("/_emulator/requests", self.admin_requests, methods=["GET", "DELETE"]),
            Route("/_emulator/clock", self.admin_clock, methods=["GET", "POST"]),
            Route("/_emulator/jobs", self.admin_jobs, methods=["POST"]),
            Route("/_emulator/jobs/{job_id:int}", self.admin_job, methods=["GET"]),
            # A full match for every other path and method, so a wrong method is a gateway 404 too.
            Route("/{path:path}", self.not_found,
                  methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
        ]


class Gateway:
    """ASGI entry point: what the API gateway in front of DLI does, plus the emulator's test hooks."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core
        self.router = Router(routes=Api(core).routes(), redirect_slashes=False)

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        core = self.core
        request_id = os.urandom(16).hex()  # 32 hex chars, like the gateway's
        method = scope["method"]
        path = scope["path"]
        body = await _read_body(receive)
        admin = path.startswith("/_emulator")
        fired: list[str] = []
        entry: dict[str, Any] | None = None
        if not admin:
            entry = core.log.add(
                {
                    "time": core.now(),
                    "method": method,
                    "path": path,
                    "query": scope.get("query_string", b"").decode("latin-1"),
                    "headers": redact_headers(scope.get("headers", [])),
                    "body": body,
                    "status": None,
                    "request_id": request_id,
                    "auth": None,
                    "fault": None,
                }
            )
        state = scope.setdefault("state", {})
        state.update(body=body, request_id=request_id, fired=fired, identity=None)
        latency = drop = None
        if not admin and not core.faults.empty:
            latency = core.faults.take("latency_ms", method, path)
            if latency is not None:
                fired.append("latency_ms")
        rid = request_id.encode()
        started = False

        async def wrapped_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if entry is not None:
                    entry["status"] = message["status"]
                    entry["fault"] = ",".join(fired) or None
                if latency is not None:
                    await asyncio.sleep(float(latency.get("ms", 0)) / 1000)
                if drop is not None:
                    # An invalid header value makes uvicorn (httptools) refuse the message after
                    # marking the response started, so it closes the socket before writing a byte.
                    try:
                        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-drop", b"\n")]})
                    except RuntimeError:
                        pass
                    raise _Dropped()
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", rid)]}
            await send(message)

        try:
            try:
                response = None if admin else self._gateway_checks(scope, method, path, body, entry, fired)
                if response is None:
                    if not admin and not core.faults.empty:
                        drop = core.faults.take("drop", method, path)
                        if drop is not None:
                            fired.append("drop")
                    await self.router(scope, _replay(body), wrapped_send)
                    return
            except ApiError as err:
                response = error_response(err, request_id)
            except _Dropped:
                raise
            except Exception:  # a bug in the emulator: say so loudly, in the usual error shape
                traceback.print_exc(file=sys.stderr)
                response = _json(500, {"error_code": "EMULATOR.500", "error_msg": "Internal emulator error."})
            if started:
                return
            await response(scope, _replay(b""), wrapped_send)
        except _Dropped:
            if entry is not None:
                entry["status"] = 0  # no HTTP answer was given
            return

    def _gateway_checks(
        self, scope: dict, method: str, path: str, body: bytes, entry: dict | None, fired: list[str]
    ) -> Response | None:
        """Gateway faults and authentication; a Response ends the call here, None lets it through."""
        core = self.core
        faults = core.faults
        if not faults.empty:
            spec = faults.over_rate(method, path)
            if spec is not None:
                fired.append("rate_limit")
                raise self._throttled(spec, int(spec["per_second"]))
            spec = faults.take("throttle", method, path)
            if spec is not None:
                fired.append("throttle")
                raise self._throttled(spec, 200)
            spec = faults.take("error", method, path)
            if spec is not None:
                fired.append("error")
                status = int(spec.get("status", 503))
                code = spec.get("error_code") or ("DLI.0999" if status == 400 else "APIGW.0201")
                msg = spec.get("error_msg") or (
                    "Internal service error." if code == "DLI.0999" else "Backend unavailable (emulated fault)."
                )
                raise ApiError(status, code, msg)
            spec = faults.take("html_502", method, path)
            if spec is not None:
                fired.append("html_502")
                return HTMLResponse(_HTML_502, status_code=502)
        if path.startswith("/v1.0/") or path.startswith("/v3/projects"):
            identity = self._authenticate(scope, method, path, body)
            scope["state"]["identity"] = identity
            if entry is not None:
                entry["auth"] = identity.method
            if path.startswith("/v1.0/"):
                project_id = path.split("/", 3)[2]
                if not _PROJECT_RE.match(project_id):
                    raise ApiError(400, "DLI.0001", f"Parameter check error: project_id {project_id[:40]!r} is invalid.")
                if identity.project_id is not None and identity.project_id != project_id:
                    raise ApiError(
                        403, "APIGW.0302",
                        "The token is scoped to another project than the one in the URL: not authorised.",
                    )
        elif path == "/v3/auth/tokens" and entry is not None:
            entry["auth"] = "iam-password"
        return None

    def _authenticate(self, scope: dict, method: str, path: str, body: bytes) -> Identity:
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        token = headers.get("x-auth-token")
        if token:
            return self.core.auth.check_token(token)
        authorization = headers.get("authorization")
        if authorization:
            raw_path = (scope.get("raw_path") or path.encode()).decode("latin-1")
            query = scope.get("query_string", b"").decode("latin-1")
            return self.core.auth.check_signature(method, raw_path, query, headers, body, authorization)
        raise NO_CREDENTIALS

    @staticmethod
    def _throttled(spec: dict, limit: int) -> ApiError:
        retry_after = spec.get("retry_after", 1)
        return ApiError(
            429,
            "APIGW.0308",
            f"The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second",
            {"Retry-After": str(int(retry_after) if float(retry_after).is_integer() else retry_after)},
        )

    @staticmethod
    async def _lifespan(receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


class _Dropped(Exception):
    pass


async def _read_body(receive: Callable) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[dict]]:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # nothing more will come; a handler never waits here in practice
        return {"type": "http.disconnect"}

    return receive


def build_app(core: EmulatorCore) -> Gateway:
    return Gateway(core)
