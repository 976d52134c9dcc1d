"""``DliClient``: the DLI Flink job endpoints, the project lookup and the job-names cache.

No IPython and no pandas here: the magics, the panel and the Python API build on this. Sending,
retries and the deadline are ``http.HttpSender``'s; chunking, workers and concurrent list pages
are ``batch``'s; reading an answer into typed results or an exception is done in ``errors``, the
endpoint URL check in ``config``, the checks of the list filters in ``checks.list_query``; what a
run/stop would send (a dry run) is described in ``dryrun``. A run/stop POST is never replayed after
a failure that may have reached the service (see ``http``).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote

from . import contract, dryrun, signing
from .auth import AkSkAuth, PasswordAuth, TokenAuth, make_auth, secret_values
from .batch import ChunkAnswered, fetch_pages, send_in_chunks
from .checks import check_bool, check_count, list_query
from .config import (
    CHUNK_SIZE_MAX, MAX_WORKERS_MAX, Settings, checked_base_url, env_var, resolve_settings, with_overrides,
)
from .errors import (
    BadInputError, ConfigError, MalformedResponseError, ServiceError, answer_object, chunk_outcomes, created_job_id,
    error_from_http, execute_graph, iam_projects, job_detail, listed_jobs, mark_may_have_taken_effect,
)
from .http import NO_AUTH, HttpSender
from .ids import check_job_id, validate_job_ids
from .redaction import get_logger, register_secrets
from .results import BatchResult, ExecuteGraph, Job

log = get_logger()


class DliClient:
    """A DLI Flink job client for one endpoint + project + credentials.

    ``session`` is its ``requests.Session``: mount adapters on it, or intercept its calls with
    ``responses`` / ``requests-mock`` in tests.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        if settings is None:
            settings = resolve_settings(explicit=overrides)
        elif overrides:
            settings = with_overrides(settings, overrides)
        self.settings = settings
        register_secrets(*secret_values(settings))
        self.endpoint = checked_base_url(settings.endpoint, settings, "endpoint")
        self.iam_endpoint = checked_base_url(settings.iam_endpoint or self.endpoint, settings, "iam_endpoint")
        self._project_id = settings.project_id
        self._auth: TokenAuth | AkSkAuth | PasswordAuth | None = None
        self._lock = threading.RLock()
        self.http = HttpSender(settings)
        # Names of the jobs this client has listed or read: a run/stop result shows them without
        # another request.
        self.job_names: dict[int, str | None] = {}

    @property
    def session(self):
        """The ``requests.Session`` every call of this client goes through."""
        return self.http.session

    # ---- lifecycle / repr

    def close(self) -> None:
        """Close the connections for good: every later call raises ConfigError and sends nothing."""
        self.http.close()

    @property
    def closed(self) -> bool:
        return self.http.closed

    def __enter__(self) -> "DliClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"DliClient(endpoint={self.endpoint!r}, project_id={self._project_id!r}, "
            f"auth={self.settings.auth_method() or 'none'!r})"
        )

    __str__ = __repr__

    # ---- auth and project

    @property
    def auth(self) -> TokenAuth | AkSkAuth | PasswordAuth:
        """The auth object (built on first use; ConfigError when no credentials are set)."""
        with self._lock:
            self.http.check_open()
            if self._auth is None:
                self._auth = make_auth(self.settings, iam_endpoint=self.iam_endpoint, post=self._iam_login)
            return self._auth

    def _iam_login(self, url: str, body: bytes):
        # Asking for a token twice is harmless, so this POST may be replayed like a GET.
        response, attempts = self.http.send(
            "POST", url, body, auth=NO_AUTH, idempotent=True, what="IAM login", setting="iam_endpoint"
        )
        if response.status_code >= 300:
            raise error_from_http(response, attempts=attempts)
        return response

    @property
    def project_id(self) -> str:
        with self._lock:
            if not self._project_id:
                self._project_id = self._lookup_project_id()
            return self._project_id

    def _lookup_project_id(self) -> str:
        auth = self.auth
        if isinstance(auth, PasswordAuth) and auth.project_id:
            return auth.project_id
        region = self.settings.region
        # Without a region, list what the credentials can see: one project is unambiguous.
        query = signing.canonical_query([("name", region)] if region else [])
        url = f"{self.iam_endpoint}/v3/projects" + (f"?{query}" if query else "")
        response, attempts = self.http.send(
            "GET", url, auth=auth, idempotent=True, what="IAM project lookup", setting="iam_endpoint"
        )
        projects = iam_projects(response, attempts)
        found = [p for p in projects if isinstance(p, dict) and p.get("id") and (not region or p.get("name") == region)]
        if len(found) == 1:
            log.debug("project id for region %s looked up via IAM: %s", found[0].get("name"), found[0]["id"])
            return str(found[0]["id"])
        if region:
            raise ConfigError(
                f"IAM at {self.iam_endpoint} lists no project named {region!r} for these credentials; "
                f"set {env_var('project_id')} or check {env_var('region')}."
            )
        names = ", ".join(sorted(str(p.get("name")) for p in found)) or "none"
        raise ConfigError(
            f"No project id: set {env_var('project_id')}, or {env_var('region')} (projects visible: {names})."
        )

    # ---- one call

    def _api_url(self, path: str, params: Iterable[tuple[str, object]] | None = None) -> str:
        self.http.check_open()
        url = f"{self.endpoint}{contract.API_PREFIX.format(project_id=quote(self.project_id, safe=''))}/{path}"
        query = signing.canonical_query(params or [])
        return f"{url}?{query}" if query else url

    def _send(self, method: str, url: str, body: bytes | None = None, *, idempotent: bool,
              job_ids: Sequence[int] = (), what: str = ""):
        """A DLI call with this client's credentials and the SDK's project header."""
        headers = {"X-Project-Id": self.project_id}  # as the official SDK sends on every DLI call
        if body is not None:
            log.debug("%s %s body %s", method, url, body[:300].decode("utf-8", "replace"))
        return self.http.send(method, url, body, auth=self.auth, idempotent=idempotent, headers=headers,
                              job_ids=job_ids, what=what)

    def _call(self, method: str, path: str, *, params=None, payload=None, what: str, idempotent: bool,
              job_ids: Sequence[int] = ()) -> tuple[dict, Any, int]:
        """A JSON-object call whose body carries ``is_success`` (list, detail, create, delete): the
        body, the response and the HTTP attempts it took (retries included)."""
        url = self._api_url(path, params)
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8") if payload is not None else None
        response, attempts = self._send(method, url, body, idempotent=idempotent, job_ids=job_ids, what=what)
        try:
            return answer_object(response, attempts, what, job_ids), response, attempts
        except (ServiceError, MalformedResponseError) as error:
            if not idempotent:  # the service got the call (create / delete): it may have been processed
                mark_may_have_taken_effect(error)
            raise

    # ---- run / stop

    def run_jobs(self, job_ids, resume_savepoint: bool = False, *, chunk_size=None, max_workers=None) -> BatchResult:
        """Submit jobs to run (``POST jobs/run``), ``chunk_size`` ids per request, in id order."""
        return self.batch("run", job_ids, resume_savepoint, chunk_size=chunk_size, max_workers=max_workers)

    def stop_jobs(self, job_ids, trigger_savepoint: bool = False, *, chunk_size=None, max_workers=None) -> BatchResult:
        """Stop jobs (``POST jobs/stop``), ``chunk_size`` ids per request, in id order."""
        return self.batch("stop", job_ids, trigger_savepoint, chunk_size=chunk_size, max_workers=max_workers)

    def batch(self, action: str, job_ids, option: bool = False, *, chunk_size=None, max_workers=None) -> BatchResult:
        """Send a batch action of ``contract.ACTIONS`` (run or stop) for ``job_ids``: a row per id, or
        one error when nothing was done for sure (``batch.send_in_chunks``)."""
        try:
            spec = contract.action(action)
        except ValueError as exc:
            raise BadInputError(f"{exc}.") from None
        options = {spec.option: check_bool(spec.option, option)}
        self.http.check_open()
        ids = validate_job_ids(job_ids).ids
        size, workers = self._chunking(chunk_size, max_workers)
        url = self._api_url(f"jobs/{spec.name}")  # settles project id and credentials before sending
        self.auth  # noqa: B018 -- credentials are checked before the first chunk goes out
        started = datetime.now(timezone.utc)
        rows = send_in_chunks(ids, size, workers, lambda chunk: self._send_chunk(url, spec.name, chunk, options))
        return BatchResult(
            action=spec.name,
            outcomes=rows.outcomes,
            endpoint=self.endpoint,
            project_id=self.project_id,
            options=dict(options),
            started=started,
            finished=datetime.now(timezone.utc),
            attempts=rows.attempts,
            requests=rows.requests,
            interrupted=rows.interrupted,
        )

    def _chunking(self, chunk_size, max_workers) -> tuple[int, int]:
        size = self.settings.chunk_size if chunk_size is None else chunk_size
        workers = self.settings.max_workers if max_workers is None else max_workers
        return (
            check_count("chunk_size", size, 1, CHUNK_SIZE_MAX),
            check_count("max_workers", workers, 1, MAX_WORKERS_MAX),
        )

    def _send_chunk(self, url: str, action: str, chunk: list[int], options: dict) -> ChunkAnswered:
        body = json.dumps({"job_ids": chunk, **options}, separators=(",", ":")).encode("utf-8")
        what = f"{action} request"
        response, attempts = self._send("POST", url, body, idempotent=False, job_ids=chunk, what=what)
        try:
            return ChunkAnswered(chunk_outcomes(response, attempts, what, chunk), attempts)
        except (ServiceError, MalformedResponseError) as error:
            # The service received this run/stop (a 5xx, or a 2xx we cannot read): it may have acted.
            raise mark_may_have_taken_effect(error)

    # ---- list / get

    def iter_jobs(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        job_type: str | None = None,
        queue_name: str | None = None,
        tags: str | Mapping[str, str] | None = None,
        order: str = "desc",
        show_detail: bool = False,
        page_size: int = contract.LIST_PAGE_MAX,
        expected: int | None = None,
    ) -> Iterator[Job]:
        """Every matching job, yielded in order. The first page gives ``total_count``; the other
        pages are then fetched concurrently (``page_workers`` at most, under the gateway's rate).
        ``expected``: about how many jobs match, when the caller knows (e.g. the jobs it waits for):
        their pages are requested together with the first, saving a round trip."""
        self.http.check_open()
        params = list_query(status=status, name=name, job_type=job_type, queue_name=queue_name, tags=tags,
                            order=order, show_detail=show_detail, page_size=page_size)
        if expected is not None:
            check_count("expected", expected, 0, contract.INT64_MAX)
        return fetch_pages(lambda offset: self._page(params, page_size, offset), page_size, expected or 0,
                           self.page_workers)

    @property
    def page_workers(self) -> int:
        """Concurrent list-page requests: reads are light, so twice the chunk workers (the call
        rate limit still holds)."""
        return 2 * self.settings.max_workers

    def _page(self, params: list[tuple[str, object]], page_size: int, offset: int) -> tuple[list[Job], Any]:
        data, response, attempts = self._call(
            "GET", "jobs", params=params + [("limit", page_size), ("offset", offset)],
            what="job list request", idempotent=True,
        )
        jobs, total = listed_jobs(data, response, attempts)
        return [self._remember(job) for job in jobs], total

    def list_jobs(self, **filters: Any) -> list[Job]:
        """All matching jobs (every page); same filters as ``iter_jobs``."""
        return list(self.iter_jobs(**filters))

    def get_job(self, job_id: int) -> Job:
        self.http.check_open()
        job_id = check_job_id(job_id)
        data, response, attempts = self._call("GET", f"jobs/{job_id}", what="job detail request",
                                              idempotent=True, job_ids=[job_id])
        return self._remember(job_detail(data, response, attempts, job_id))

    def get_execute_graph(self, job_id: int) -> ExecuteGraph:
        """Flink's own state of a job (``GET jobs/{id}/execute-graph``): RUNNING, RESTARTING, …"""
        self.http.check_open()
        job_id = check_job_id(job_id)
        data, response, attempts = self._call("GET", f"jobs/{job_id}/execute-graph",
                                              what="execute-graph request", idempotent=True, job_ids=[job_id])
        return execute_graph(data, response, attempts, job_id)

    def trigger_savepoint(self, job_id: int, savepoint_path: str) -> str:
        """Trigger a savepoint of a running job without stopping it (``POST jobs/{id}/savepoint``,
        action TRIGGER, into ``savepoint_path``: ``bucket/dir/``, documented on Huawei Cloud only);
        the service's message. The job then spends a while in ``job_savepointing``."""
        self.http.check_open()
        job_id = check_job_id(job_id)
        if not isinstance(savepoint_path, str) or not savepoint_path.strip():
            raise BadInputError("savepoint_path must be an OBS path such as obs://bucket/dir/.")
        data, _, _ = self._call("POST", f"jobs/{job_id}/savepoint", what="savepoint request", idempotent=False,
                                payload={"action": "TRIGGER", "savepoint_path": savepoint_path}, job_ids=[job_id])
        return str(data.get("message") or "")

    def _remember(self, job: Job) -> Job:
        self.job_names[job.job_id] = job.name
        return job

    # ---- create / delete

    def _create(self, path: str, kind: str, name: str, fields: dict) -> int:
        self.http.check_open()
        if not isinstance(name, str) or not name.strip() or len(name) > contract.JOB_NAME_MAX:
            raise BadInputError(f"A job name must be 1 to {contract.JOB_NAME_MAX} characters, not {name!r}.")
        tags = fields.get("tags")
        if isinstance(tags, Mapping):
            fields["tags"] = [{"key": str(k), "value": str(v)} for k, v in tags.items()]
        payload = {"name": name, **fields}
        data, response, attempts = self._call("POST", path, payload=payload, what=f"create {kind} job request",
                                              idempotent=False)
        return created_job_id(data, response, attempts, kind)

    def create_sql_job(self, name: str, sql_body: str = "", **fields: Any) -> int:
        """Create a Flink SQL job (``POST sql-jobs``); returns its job id."""
        return self._create("sql-jobs", "SQL", name, {"sql_body": sql_body, **fields})

    def create_jar_job(self, name: str, **fields: Any) -> int:
        """Create a Flink Jar job (``POST flink-jobs``); returns its job id."""
        return self._create("flink-jobs", "Jar", name, dict(fields))

    def delete_job(self, job_id: int) -> None:
        self.http.check_open()
        job_id = check_job_id(job_id)
        self._call("DELETE", f"jobs/{job_id}", what="delete request", idempotent=False, job_ids=[job_id])

    # ---- dry run

    def describe_request(self, action: str, job_ids, **options: Any) -> dict:
        """What ``run_jobs``/``stop_jobs`` would send (first chunk), secrets redacted; sends nothing."""
        return dryrun.describe_request(self, action, job_ids, **options)
