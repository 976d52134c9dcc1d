"""The route handlers of the DLI Flink job API and the IAM calls: they check the request, call the
store, and turn its results and typed errors into the service's answers and messages.

``request.state`` carries what the gateway (app.py) found: raw body, identity, fired faults.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..contract import INT64_MAX, JOB_NAME_MAX, JOB_STATUSES, LIST_PAGE_DEFAULT, LIST_PAGE_MAX
from .auth import Identity
from .bodies import request_json
from .core import PROJECT_ID_RE, EmulatorCore
from .responses import ApiError, api_not_found, bad_parameter, documented_error, job_not_found, json_response
from .store import InvalidJob, JobInWrongStatus, JobNotFound, StoreError, user_id_for

_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses

# The service's documented answers (dli-api.md section 1).
RUN_ACCEPTED = "The request for submitting DLI jobs is delivered successfully."
STOP_ACCEPTED = "The request for stopping DLI jobs is delivered successfully."
DELETED = "The job is deleted successfully."
DETAIL_OK = "Querying of the job details succeeds."
LIST_OK = "Querying of the job list succeeds."
CREATED = "A DLI job is created successfully."
EXECUTE_GRAPH_OK = "Querying the job execution graph succeeds."  # dli_02_0236's example
# dli_02_0392's example answer (Huawei Cloud): the message is itself a JSON text.
SAVEPOINT_OK = '{"is_success":"true","message":"api.msg.deal_savepoint_success"}'
SAVEPOINT_ACTIONS = ("TRIGGER",)
# An OBS bucket name (3-63 characters: lower-case letters, digits, "." and "-"), then the directory.
_SAVEPOINT_PATH = re.compile(r"(?:obs://)?([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s\x00-\x1f\x7f]*)?")
SAVEPOINT_PATH_MAX = 1024


def item_message(error: StoreError, verb: str) -> str:
    """A per-item failure of a batch, in words (the emulator's own; the service documents none)."""
    if isinstance(error, JobNotFound):
        return f"The job {error.job_id} does not exist (DLI.16001)."
    if isinstance(error, JobInWrongStatus):
        return f"The job {error.job_id} cannot be {verb}: its status is {error.status}."
    raise TypeError(f"no message for {error!r}")


async def _payload(request: Request) -> Any:
    return await request_json(request, lambda why: bad_parameter("body", why))


def _job_ids(payload: Any) -> list[int]:
    if not isinstance(payload, dict):
        raise bad_parameter("body", "must be a JSON object")
    if "job_ids" not in payload or payload["job_ids"] is None:
        raise bad_parameter("job_ids", "is mandatory")
    ids = payload["job_ids"]
    if not isinstance(ids, list):
        raise bad_parameter("job_ids", "must be a list of job ids")
    if not ids:
        raise bad_parameter("job_ids", "must not be empty")
    for index, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_parameter(f"job_ids[{index}]", f"is not an integer: {json.dumps(value)[:40]}")
        if not 0 < value <= INT64_MAX:
            raise bad_parameter(f"job_ids[{index}]", f"is out of range: {value}")
    return ids


def _flag(payload: dict, field: str) -> bool:
    value = payload.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_parameter(field, f"must be a boolean (true/false), not {json.dumps(value)[:40]}")
    return value


def savepoint_dir(value: Any) -> str:
    """The ``obs://bucket/dir/`` a savepoint_path names (``bucket/dir/`` as documented, or with ``obs://``)."""
    if not isinstance(value, str) or not value.strip():
        raise bad_parameter("savepoint_path", "is mandatory (an OBS path such as bucket-name/dir/savepoint/)")
    match = _SAVEPOINT_PATH.fullmatch(value)
    if len(value) > SAVEPOINT_PATH_MAX or match is None or "/../" in f"{match.group(2) or ''}/":
        raise bad_parameter("savepoint_path", f"is not an OBS path such as bucket-name/dir/savepoint/: {value[:60]!r}")
    return f"obs://{match.group(1)}{(match.group(2) or '').rstrip('/')}/"


# A batch is processed this many ids at a time, yielding to the event loop in between: a call with
# 100,000 ids must not stall every other client until it is done.
BATCH_SLICE = 200


async def _in_slices(operation: Callable[..., list], project_id: str, ids: list[int], *args: Any) -> list:
    results: list = []
    for start in range(0, len(ids), BATCH_SLICE):
        if start:
            await asyncio.sleep(0)
        results += operation(project_id, ids[start : start + BATCH_SLICE], *args)
    return results


def path_job_id(request: Request) -> int:
    text = request.path_params["job_id"]
    if not re.fullmatch(r"[0-9]{1,19}", text) or not 0 < int(text) <= INT64_MAX:
        raise bad_parameter("job_id", f"is not a valid job id: {text[:40]!r}")
    return int(text)


class DliHandlers:
    """The DLI Flink job routes and the IAM routes."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    # -- helpers -----------------------------------------------------------------------------------

    def _fault(self, request: Request, name: str) -> dict | None:
        spec = self.core.fault_set.take(name, request.method, request.scope["path"])
        if spec is not None:
            request.state.fired.append(name)
        return spec

    def _succ(self, request: Request, ok: bool) -> Any:
        """One is_success value; take it once per answer (a counted fault is one per response)."""
        return self._succ_all(request, [ok])[0]

    def _succ_all(self, request: Request, oks: list[bool]) -> list[Any]:
        if self._fault(request, "bool_is_success") is not None:  # consumed once for the whole answer
            return list(oks)
        return ["true" if ok else "false" for ok in oks]

    def _unknown_mode(self, request: Request) -> str:
        spec = self._fault(request, "unknown_ids")
        return spec["mode"] if spec else self.core.unknown_ids

    def _check_unknown(self, request: Request, project_id: str, ids: list[int]) -> None:
        if self._unknown_mode(request) == "error":
            found = self.core.store.existing(project_id, ids)
            missing = [i for i in ids if i not in found]
            if missing:
                raise job_not_found(missing[0])

    async def _batch(self, request: Request, errors: list[StoreError | None], accepted: str, verb: str) -> Response:
        flags = self._succ_all(request, [err is None for err in errors])
        short = self._fault(request, "short_response")
        if short is not None:
            errors = errors[: max(0, len(errors) - int(short.get("missing", 1)))]
        # Encoded a slice at a time, yielding in between, like the work itself: the answer to 100,000
        # ids (each unknown id has its own message) must not stall the other clients either.
        encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        ok_part = None
        parts: list[str] = []
        for start in range(0, len(errors), BATCH_SLICE * 10):
            if start:
                await asyncio.sleep(0)
            for flag, err in zip(flags[start : start + BATCH_SLICE * 10], errors[start : start + BATCH_SLICE * 10]):
                if err is None and ok_part is not None:
                    parts.append(ok_part)
                    continue
                part = encode({"is_success": flag, "message": accepted if err is None else item_message(err, verb)})
                if err is None:
                    ok_part = part
                parts.append(part)
        return Response(("[" + ",".join(parts) + "]").encode("utf-8"), status_code=200, media_type="application/json")

    # -- DLI routes ----------------------------------------------------------------------------------

    async def run(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        payload = await _payload(request)
        ids = _job_ids(payload)
        resume = _flag(payload, "resume_savepoint")
        self._check_unknown(request, project_id, ids)
        errors = await _in_slices(self.core.store.run, project_id, ids, resume)
        return await self._batch(request, errors, RUN_ACCEPTED, "started")

    async def stop(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        payload = await _payload(request)
        ids = _job_ids(payload)
        savepoint = _flag(payload, "trigger_savepoint")
        self._check_unknown(request, project_id, ids)
        errors = await _in_slices(self.core.store.stop, project_id, ids, savepoint)
        return await self._batch(request, errors, STOP_ACCEPTED, "stopped")

    async def delete_many(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        ids = _job_ids(await _payload(request))
        self._check_unknown(request, project_id, ids)
        return await self._batch(request, await _in_slices(self.core.store.delete, project_id, ids), DELETED, "deleted")

    async def detail(self, request: Request) -> Response:
        job_id = path_job_id(request)
        try:
            job = self.core.store.get(request.path_params["project_id"], job_id, detail=True)
        except JobNotFound:
            raise job_not_found(job_id)
        return json_response(200, {"is_success": self._succ(request, True), "message": DETAIL_OK, "job_detail": job})

    async def execute_graph(self, request: Request) -> Response:
        job_id = path_job_id(request)
        try:
            graph = self.core.store.execution_graph(request.path_params["project_id"], job_id)
        except JobNotFound:
            raise job_not_found(job_id)
        return json_response(
            200, {"is_success": self._succ(request, True), "message": EXECUTE_GRAPH_OK, "execute_graph": graph}
        )

    async def savepoint(self, request: Request) -> Response:
        if not self.core.savepoint_api:
            raise api_not_found()
        job_id = path_job_id(request)
        payload = await _payload(request)
        if not isinstance(payload, dict):
            raise bad_parameter("body", "must be a JSON object")
        action = payload.get("action")
        if action not in SAVEPOINT_ACTIONS:
            raise bad_parameter("action", f"must be {' or '.join(SAVEPOINT_ACTIONS)}, not {json.dumps(action)[:40]}")
        directory = savepoint_dir(payload.get("savepoint_path"))
        try:
            self.core.store.trigger_savepoint(request.path_params["project_id"], job_id, directory)
        except JobNotFound:
            raise job_not_found(job_id)
        except JobInWrongStatus as err:
            raise documented_error(
                "DLI.0007", f"The job {job_id} is {err.status}: a savepoint can only be triggered on a running job."
            )
        return json_response(200, {"is_success": self._succ(request, True), "message": SAVEPOINT_OK})

    async def delete_one(self, request: Request) -> Response:
        job_id = path_job_id(request)
        [error] = self.core.store.delete(request.path_params["project_id"], [job_id])
        if error is not None:
            raise job_not_found(job_id)
        return json_response(200, {"is_success": self._succ(request, True), "message": DELETED})

    async def list_jobs(self, request: Request) -> Response:
        q = request.query_params

        def integer(name: str, default: int) -> int:
            text = q.get(name)
            if text is None or text == "":
                return default
            if not _INTEGER.fullmatch(text):
                raise bad_parameter(name, f"must be an integer, not {text[:40]!r}")
            # the length check first: int() refuses (ValueError) strings of more than 4300 digits
            if len(text.lstrip("-")) > 19 or abs(int(text)) > INT64_MAX:
                raise bad_parameter(name, f"is out of range (at most {INT64_MAX}): {text[:40]}")
            return int(text)

        limit = integer("limit", LIST_PAGE_DEFAULT)
        if limit < 0 or limit > LIST_PAGE_MAX:
            raise bad_parameter("limit", f"must be between 0 and {LIST_PAGE_MAX}, not {limit}")
        offset = integer("offset", 0)
        if offset < 0:
            raise bad_parameter("offset", f"must not be negative, not {offset}")
        order = q.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise bad_parameter("order", f"must be asc or desc, not {order[:40]!r}")
        status = q.get("status") or None
        if status is not None and status not in JOB_STATUSES:
            raise bad_parameter("status", f"is not a job status: {status[:40]!r}")
        show_detail = (q.get("show_detail") or "false").lower()
        if show_detail not in ("true", "false"):
            raise bad_parameter("show_detail", f"must be true or false, not {show_detail[:40]!r}")
        name = q.get("name") or None
        if name is not None and len(name) > JOB_NAME_MAX:
            raise bad_parameter("name", f"is longer than {JOB_NAME_MAX} characters")
        tags: list[tuple[str, str]] = []
        for part in filter(None, (q.get("tags") or "").split(",")):
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise bad_parameter("tags", f"must look like k=v,k2=v2, not {part[:40]!r}")
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
        return json_response(
            200,
            {
                "is_success": self._succ(request, True),
                "message": LIST_OK,
                "job_list": {"total_count": total, "jobs": jobs},
            },
        )

    async def _create(self, request: Request, job_type_default: str, allowed_types: tuple[str, ...]) -> Response:
        payload = await _payload(request)
        if not isinstance(payload, dict):
            raise bad_parameter("body", "must be a JSON object")
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_parameter("name", "is mandatory")
        if len(name) > JOB_NAME_MAX:
            raise bad_parameter("name", f"is longer than {JOB_NAME_MAX} characters")
        job_type = payload.get("job_type") or job_type_default
        if job_type not in allowed_types:
            raise bad_parameter("job_type", f"must be one of {', '.join(allowed_types)}, not {str(job_type)[:40]!r}")
        tags = payload.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, dict) and "key" in t for t in tags):
            raise bad_parameter("tags", "must be a list of {\"key\", \"value\"} objects")
        config_keys = ("checkpoint_enabled", "checkpoint_interval", "checkpoint_mode", "cu_number",
                       "parallel_number", "manager_cu_number", "log_enabled", "obs_bucket",
                       "restart_when_exception", "entrypoint", "dependency_jars", "dependency_files",
                       "flink_version", "tm_cus", "tm_slot_num")
        job_config = {k: payload[k] for k in config_keys if k in payload}  # the store adds the defaults
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
        try:
            job_id = self.core.store.create(request.path_params["project_id"], fields)
        except InvalidJob as exc:  # a field the API takes as is but that cannot be stored (too long…)
            raise bad_parameter("body", str(exc)) from None
        return json_response(
            200,
            {
                "is_success": self._succ(request, True),
                "message": CREATED,
                "job": {"job_id": job_id, "status_name": "job_init", "status_desc": ""},
            },
        )

    async def create_sql(self, request: Request) -> Response:
        types = ("flink_sql_job", "flink_opensource_sql_job", "flink_sql_edge_job", "flink_edge_sql_job")
        return await self._create(request, "flink_sql_job", types)

    async def create_jar(self, request: Request) -> Response:
        return await self._create(request, "flink_jar_job", ("flink_jar_job",))

    # -- IAM routes -----------------------------------------------------------------------------------

    async def iam_tokens(self, request: Request) -> Response:
        def bad(why: str) -> ApiError:
            return ApiError(400, "IAM.0001", f"The request body is invalid: {why}.")

        payload = await request_json(request, bad)
        try:
            ident = payload["auth"]["identity"]
            scope = payload["auth"].get("scope") or {}
        except (KeyError, TypeError, AttributeError):
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
        return json_response(201, body, {"X-Subject-Token": token})

    def _resolve_project(self, project: dict) -> tuple[str, str]:
        if project.get("id"):
            pid = str(project["id"])
            if not PROJECT_ID_RE.match(pid):
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
        return json_response(200, {"projects": projects, "links": {"self": str(request.url)}})
