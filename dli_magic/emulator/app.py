"""The emulator's ASGI app: what the API gateway in front of DLI does, then the route table.

Per request: an X-Request-Id, the request log entry, gateway faults, authentication, then the
Starlette router over the handlers (handlers.py, admin.py). It is a plain ASGI callable rather than
a Starlette middleware because it reads the body once (the signature check and the log need it)
and must intercept ``http.response.start`` to add X-Request-Id, apply latency after processing, and
drop connections.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import sys
import time
import traceback
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, Router

from ..contract import API_PREFIX
from .admin import AdminHandlers
from .auth import NO_CREDENTIALS, Identity
from .bodies import BodyTooLarge, read_body
from .core import PROJECT_ID_RE, EmulatorCore
from .handlers import DliHandlers
from .paths import ADMIN_PATH_START, DLI_PATH_START
from .reqlog import redact_headers
from .responses import ApiError, api_not_found, bad_parameter, documented_error, error_response, json_response


_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class _DropNoticeFilter(logging.Filter):
    # A deliberate `drop` fault makes uvicorn log this line; it is expected, not a bug.
    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_DropNoticeFilter())


def routes(core: EmulatorCore) -> list[Route]:
    """The route table: the DLI routes under the contract's API prefix, IAM, the admin routes."""
    dli = DliHandlers(core)
    admin = AdminHandlers(core)

    async def not_found(request: Request) -> Response:
        raise api_not_found()

    return [
        Route(API_PREFIX + "/jobs/run", dli.run, methods=["POST"]),
        Route(API_PREFIX + "/jobs/stop", dli.stop, methods=["POST"]),
        Route(API_PREFIX + "/jobs/delete", dli.delete_many, methods=["POST"]),
        Route(API_PREFIX + "/jobs", dli.list_jobs, methods=["GET"]),
        Route(API_PREFIX + "/jobs/{job_id}", dli.detail, methods=["GET"]),
        Route(API_PREFIX + "/jobs/{job_id}/execute-graph", dli.execute_graph, methods=["GET"]),
        Route(API_PREFIX + "/jobs/{job_id}/savepoint", dli.savepoint, methods=["POST"]),
        Route(API_PREFIX + "/jobs/{job_id}", dli.delete_one, methods=["DELETE"]),
        Route(API_PREFIX + "/sql-jobs", dli.create_sql, methods=["POST"]),
        Route(API_PREFIX + "/flink-jobs", dli.create_jar, methods=["POST"]),
        Route("/v3/auth/tokens", dli.iam_tokens, methods=["POST"]),
        Route("/v3/projects", dli.iam_projects, methods=["GET"]),
        Route(ADMIN_PATH_START + "/faults", admin.faults, methods=["GET", "PUT", "DELETE"]),
        Route(ADMIN_PATH_START + "/requests", admin.requests, methods=["GET", "DELETE"]),
        Route(ADMIN_PATH_START + "/clock", admin.clock, methods=["GET", "POST"]),
        Route(ADMIN_PATH_START + "/jobs", admin.create_job, methods=["POST"]),
        Route(ADMIN_PATH_START + "/jobs/{job_id:int}", admin.job, methods=["GET"]),
        Route(ADMIN_PATH_START + "/jobs/{job_id:int}/behaviour", admin.behaviour, methods=["GET", "PUT"]),
        # A full match for every other path and method, so a wrong method is a gateway 404 too.
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    ]


_REFUSED = "refused by the gateway"


class GatewayApp:
    """ASGI entry point: what the API gateway in front of DLI does, plus the emulator's test hooks."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core
        self.router = Router(routes=routes(core), redirect_slashes=False)

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
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", ())}
        too_large = None
        try:
            body = await read_body(receive, headers, core.max_body_bytes)
        except BodyTooLarge as exc:
            body = b""
            too_large = documented_error(
                "APIGW.0201", f"The request body is too large: at most {exc.limit} bytes are accepted.",
                body_rejected="too large",
            )
            too_large.status = 413  # the gateway's code for a body too large, with HTTP 413 (dli-api.md section 4)
        admin = path.startswith(ADMIN_PATH_START)
        fired: list[str] = []
        entry: dict[str, Any] | None = None
        if not admin:
            entry = core.log.add(
                {
                    "time": core.now(),
                    "wall_time": time.time(),  # not moved by advance_clock: for calls-per-second counts
                    "method": method,
                    "path": path,
                    "query": scope.get("query_string", b"").decode("latin-1"),
                    "headers": redact_headers(scope.get("headers", [])),
                    "body": body if too_large is None else "<request body too large, not logged>",
                    "status": None,
                    "request_id": request_id,
                    "auth": None,
                    "fault": None,
                }
            )
        state = scope.setdefault("state", {})
        state.update(body=body, request_id=request_id, fired=fired, identity=None)
        latency = drop = None
        if not admin and not core.fault_set.empty:
            latency = core.fault_set.take("latency_ms", method, path)
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
                if too_large is not None:
                    raise too_large
                if admin:
                    self._admin_checks(scope, method, headers)
                response = None if admin else self._gateway_checks(scope, method, path, headers, body, entry, fired)
                if response is None:
                    if not admin and not core.fault_set.empty:
                        drop = core.fault_set.take("drop", method, path)
                        if drop is not None:
                            fired.append("drop")
                    await self.router(scope, _replay(body), wrapped_send)
                    return
            except ApiError as err:
                if err.body_rejected and entry is not None:
                    core.log.forget_body(entry, err.body_rejected)
                response = error_response(err, request_id)
            except _Dropped:
                raise
            except Exception:  # a bug in the emulator: say so loudly, in the usual error shape
                traceback.print_exc(file=sys.stderr)
                response = json_response(500, {"error_code": "EMULATOR.500", "error_msg": "Internal emulator error."})
            if started:
                return
            await response(scope, _replay(b""), wrapped_send)
        except _Dropped:
            if entry is not None:
                entry["status"] = 0  # no HTTP answer was given
            return

    def _admin_checks(self, scope: dict, method: str, headers: dict[str, str]) -> None:
        """A web page must not reach the admin routes: refuse another origin and non-JSON bodies (a
        form or a cross-site fetch sends one of these), and a Host name that is not this server's (a
        page whose own name was made to resolve to 127.0.0.1 sends its name, and no Origin on a GET;
        an IP address cannot be rebound, so any is accepted: the URL printed for 0.0.0.0 included)
        before anything is done."""
        host = headers.get("host")
        if host is not None and not _ip_literal(_host_name(host)) and _host_name(host) not in self._own_hosts(scope):
            raise ApiError(403, "EMULATOR.FOREIGN_HOST",
                           f"The admin routes answer only to this server's own address, not {host[:80]!r}.")
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self._own_origins(scope):
            raise ApiError(403, "EMULATOR.CROSS_ORIGIN",
                           f"The admin routes refuse requests from another origin ({origin[:80]!r}).")
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise ApiError(403, "EMULATOR.CROSS_ORIGIN",
                           f"The admin routes refuse requests a browser marks as {site[:40]!r}.")
        content_type = headers.get("content-type")
        if method in ("POST", "PUT", "PATCH", "DELETE") and content_type is not None:
            if content_type.split(";", 1)[0].strip().lower() != "application/json":
                raise ApiError(415, "EMULATOR.CONTENT_TYPE",
                               f"The admin routes take application/json bodies only, not {content_type[:60]!r}.")

    @staticmethod
    def _own_hosts(scope: dict) -> set[str]:
        """Each name this server answers to: the loopback names and the address it listens on."""
        host = str((scope.get("server") or ("127.0.0.1", 0))[0])
        return {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host.lower()}

    @classmethod
    def _own_origins(cls, scope: dict) -> set[str]:
        """http://HOST:PORT for each of the server's own names (``_own_hosts``)."""
        port = (scope.get("server") or ("127.0.0.1", 0))[1]
        return {f"http://{name}:{port}" for name in cls._own_hosts(scope)}

    def _gateway_checks(
        self, scope: dict, method: str, path: str, headers: dict[str, str], body: bytes, entry: dict | None,
        fired: list[str],
    ) -> Response | None:
        """Gateway faults and authentication; a Response ends the call here, None lets it through."""
        core = self.core
        faults = core.fault_set
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
        if path.startswith(DLI_PATH_START) or path.startswith("/v3/projects"):
            try:
                identity = self._authenticate(scope, method, path, headers, body)
            except ApiError as err:  # an unauthenticated body is a stranger's: never logged
                raise ApiError(err.status, err.code, err.message, err.headers, body_rejected=_REFUSED) from None
            scope["state"]["identity"] = identity
            if entry is not None:
                entry["auth"] = identity.method
            if path.startswith(DLI_PATH_START):
                project_id = path[len(DLI_PATH_START):].split("/", 1)[0]
                if not PROJECT_ID_RE.match(project_id):
                    raise bad_parameter("project_id", f"{project_id[:40]!r} is invalid", body_rejected=_REFUSED)
                if identity.project_id is not None and identity.project_id != project_id:
                    raise documented_error(
                        "APIGW.0302", "The token is scoped to another project than the one in the URL: not authorised.",
                        body_rejected=_REFUSED,
                    )
        elif path == "/v3/auth/tokens" and entry is not None:
            entry["auth"] = "iam-password"
        return None

    def _authenticate(self, scope: dict, method: str, path: str, headers: dict[str, str], body: bytes) -> Identity:
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
        return documented_error(
            "APIGW.0308",
            f"The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second",
            {"Retry-After": str(math.ceil(retry_after))},  # delay-seconds is a whole number (RFC 9110)
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



def _ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _host_name(host: str) -> str:
    """A Host header's name without its port, lower case ("[::1]:80" -> "[::1]")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host

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


def build_app(core: EmulatorCore) -> GatewayApp:
    return GatewayApp(core)
