"""The DLI Flink job client: keep-alive urllib3 pools (transport.py), bounded retries, chunked
batches, typed results.

No IPython and no pandas here: the magic layer and the Python API build on this.

Retry policy (why it is this strict): a run/stop POST is replayed only when the service provably
did not process it — a 429, or a connection that failed before anything was sent. After a read
timeout or a dropped connection the jobs may already be starting, so the caller gets a
``TransportError`` saying so instead of a silent second submission.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote, urlsplit

from . import __version__, contract, signing
from .auth import AkSkAuth, PasswordAuth, TokenAuth, get_logger, make_auth, register_secrets, scrub, secret_values
from .config import CHUNK_SIZE_MAX, MAX_WORKERS_MAX, Settings, env_var, is_loopback, resolve_settings, with_overrides
from .errors import (
    MAY_HAVE_TAKEN_EFFECT_HINT,
    PLAIN_HTTP_HINT,
    BadInputError,
    ConfigError,
    DLIError,
    MalformedResponseError,
    NotFoundError,
    RequestRejectedError,
    ServiceError,
    TransportError,
    error_from_response,
    excerpt,
)
from .ids import check_job_id, validate_job_ids
from .results import BatchResult, Job, JobOutcome
from .transport import TRANSPORT_ERRORS, Response, Transport, classify, tls_reason

log = get_logger()

USER_AGENT = f"dli-magic/{__version__}"
THROTTLE_CODE = "APIGW.0308"
_RETRY_STATUSES_GET = frozenset({502, 503, 504})
_BATCH_OPTIONS = {"run": "resume_savepoint", "stop": "trigger_savepoint"}
_ORDERS = ("asc", "desc")

# Errors about one chunk's content (an unknown id, a refused job): the other chunks still go out.
# Anything else (auth, throttling, transport) would fail every chunk, so sending stops.
_CHUNK_SPECIFIC = (NotFoundError, RequestRejectedError)

CLOSED_MESSAGE = (
    "this DLI client was closed (credentials cleared or settings changed); open a new panel or call again"
)
# Said by a TransportError whose POST may have been processed (a row says it its own way).
_MAY_HAVE_TAKEN_EFFECT_TEXT = " The call may have taken effect: check `%dli_jobs` before sending it again."
_MAY_HAVE_TAKEN_EFFECT_ROW = "may have taken effect — check %dli_jobs"


# --- small helpers ------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _validate_base_url(url: str | None, settings: Settings, name: str) -> str:
    if not url:
        raise ConfigError(
            f"No DLI endpoint: set {env_var('endpoint')} (e.g. https://dli.eu-de.otc.t-systems.com) "
            f"or {env_var('region')} (e.g. eu-de)."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Setting {name}={url!r} is not an http(s) URL.")
    if parts.username or parts.password:
        raise ConfigError(f"Setting {name} must not carry credentials in the URL; use the auth settings.")
    if parts.query or parts.fragment:
        raise ConfigError(f"Setting {name}={url!r} must not have a query or fragment.")
    if parts.scheme == "http" and not settings.allow_http and not is_loopback(parts.hostname):
        raise ConfigError(
            f"Refusing plain http:// for {parts.hostname} ({name} from {settings.source(name)}): "
            f"credentials would travel unencrypted. Use https://, or set allow_http=True "
            f"({env_var('allow_http')}=1) for a trusted network.",
            hint=PLAIN_HTTP_HINT.format(name=name, env=env_var(name)),
        )
    return url.rstrip("/")


# Nothing was sent for these kinds: the request never reached a server.
_NOT_SENT = frozenset({"dns", "refused", "connect"})
# A refused connection means nothing listens on that port: one quick retry covers a service that is
# restarting; the full max_retries budget (with its doubling backoff, ~8 s at the defaults) would
# only make a wrong endpoint slow to report. A host that does not resolve is not retried at all.
REFUSED_RETRIES = 1


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - _utcnow()).total_seconds())


def _decode_json(response: Response) -> Any:
    """The JSON body, or a sentinel when there is none / it is not JSON."""
    if not response.content:
        return _NO_JSON
    try:
        return json.loads(response.content)
    except ValueError:
        return _NO_JSON


_NO_JSON = object()
_DEFAULT = object()


def _scrubbed(error: DLIError) -> DLIError:
    """Errors built from a server's words: make sure no secret we know rides along."""
    error.message = scrub(error.message)
    if error.error_msg:
        error.error_msg = scrub(str(error.error_msg))
    error.args = (error.message,)
    return error


def _may_have_taken_effect(error: DLIError) -> DLIError:
    """Mark an error from a call the service received (5xx, unreadable 2xx): it may have been processed."""
    error.may_have_taken_effect = True
    error.hint = MAY_HAVE_TAKEN_EFFECT_HINT
    return error


def _is_job_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad_job_id(entry: Mapping[str, Any]) -> str:
    try:
        shown = json.dumps(dict(entry), default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(entry)
    return f"a job whose job_id is not an integer ({excerpt(scrub(shown), 120)})"


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise BadInputError(f"{name} must be True or False, not {value!r}.")
    return value


def _check_count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInputError(f"{name} must be an integer from {low} to {high}, not {value!r}.")
    return value


def _suggest(value: str, choices: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(value, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else f" Choose from: {', '.join(choices)}."


def _failure_row(error: DLIError) -> str:
    """The message of a row whose chunk failed: the error, its request id, and whether it may have acted."""
    text = error.message
    if error.may_have_taken_effect and text.endswith(_MAY_HAVE_TAKEN_EFFECT_TEXT):
        text = text[: -len(_MAY_HAVE_TAKEN_EFFECT_TEXT)]  # said below, once
    rid = f" (request id {error.request_id})" if error.request_id else ""
    message = f"{type(error).__name__}: {text}{rid}"
    if error.may_have_taken_effect:
        message += f"; {_MAY_HAVE_TAKEN_EFFECT_ROW}"
    return message


@dataclass
class _ChunkOk:
    outcomes: list[JobOutcome]
    attempts: int


@dataclass
class _ChunkFailed:
    job_ids: list[int]
    error: DLIError


@dataclass
class _ChunkSkipped:
    job_ids: list[int]
    interrupted: bool = False  # never started because of Ctrl-C (else: a fatal error set halt)


# --- the client ---------------------------------------------------------------------------------


class DliClient:
    """A DLI Flink job client for one endpoint + project + credentials."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        if settings is None:
            settings = resolve_settings(explicit=overrides)
        elif overrides:
            settings = with_overrides(settings, overrides)
        self.settings = settings
        register_secrets(*secret_values(settings))
        self.endpoint = _validate_base_url(settings.endpoint, settings, "endpoint")
        self.iam_endpoint = _validate_base_url(settings.iam_endpoint or self.endpoint, settings, "iam_endpoint")
        self._project_id = settings.project_id
        self._auth: TokenAuth | AkSkAuth | PasswordAuth | None = None
        self._lock = threading.RLock()
        # Proxy and CA-bundle variables are read once per client, like every other setting (no
        # .netrc either: a stray credential must not ride along). Retries are off in urllib3:
        # every retry decision is made (and counted) in _send.
        self._transport = Transport(
            {self.endpoint, self.iam_endpoint},
            verify_tls=settings.verify_tls,
            pool_maxsize=max(10, settings.max_workers + 2),
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
        self.transport_environment = self._transport.environment
        self._sleep = time.sleep
        # Names of the jobs this client has listed or read: a run/stop result shows them without
        # another request (a second round trip would double the cost of every %dli_run).
        self.job_names: dict[int, str | None] = {}
        self._closed = False

    # ---- lifecycle / repr

    def close(self) -> None:
        """Close the connections for good: every later call raises ConfigError and sends nothing.

        (Closed urllib3 pools would silently reopen, so a panel holding a client whose credentials
        were cleared would keep working with them.)
        """
        with self._lock:
            self._closed = True
        self._transport.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError(
                CLOSED_MESSAGE,
                hint="Open a new panel (%dli_panel) or run the call again: the magics build a fresh client.",
            )

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
            self._check_open()
            if self._auth is None:
                self._auth = make_auth(self.settings, iam_endpoint=self.iam_endpoint, post=self._iam_post)
            return self._auth

    def _iam_post(self, url: str, body: bytes) -> Response:
        # Asking for a token twice is harmless, so this POST may be replayed like a GET.
        response, attempts = self._send("POST", url, body, idempotent=True, auth=None, dli=False,
                                        what="IAM login")
        if response.status_code >= 300:
            raise self._error(response, attempts=attempts)
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
        response, attempts = self._send("GET", url, idempotent=True, auth=auth, dli=False,
                                        what="IAM project lookup")
        data = self._ok_json(response, attempts, what="the IAM project lookup")
        projects = data.get("projects") if isinstance(data, dict) else None
        if not isinstance(projects, list):
            raise self._malformed(response, attempts, "the IAM project lookup", "no `projects` array")
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

    # ---- HTTP core

    def _api_url(self, path: str, params: Iterable[tuple[str, object]] | None = None) -> str:
        self._check_open()
        url = f"{self.endpoint}{contract.API_PREFIX.format(project_id=quote(self.project_id, safe=''))}/{path}"
        query = signing.canonical_query(params or [])
        return f"{url}?{query}" if query else url

    def _send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        *,
        idempotent: bool,
        auth: Any = _DEFAULT,
        dli: bool = True,
        job_ids: Sequence[int] = (),
        what: str = "",
    ) -> tuple[Response, int]:
        """Send with the retry policy; returns the final response (any status) and the attempt count."""
        self._check_open()
        s = self.settings
        if auth is _DEFAULT:
            auth = self.auth
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if dli:
            headers["X-Project-Id"] = self.project_id  # as the official SDK does on every DLI call
        base = self.endpoint if dli else self.iam_endpoint
        deadline = time.monotonic() + s.retry_deadline
        attempts = retries = 0
        reauthenticated = False
        while True:
            self._check_open()  # a client closed during a retry's backoff sends nothing more
            attempts += 1
            started = time.monotonic()
            if body is not None and dli:
                log.debug("%s %s attempt %d body %s", method, url, attempts, excerpt(body, 300))
            try:
                # No redirects are followed: a redirect must not carry X-Auth-Token elsewhere.
                response = self._transport.send(base, method, url, body, headers, auth)
            except TRANSPORT_ERRORS as exc:
                kind = classify(exc)
                log.debug("%s %s attempt %d failed: %s (%s)", method, url, attempts, kind, exc)
                retryable = kind == "connect" or (idempotent and kind == "dropped")
                budget = s.max_retries
                if kind == "refused":
                    retryable, budget = True, min(budget, REFUSED_RETRIES)
                if retryable and retries < budget and time.monotonic() < deadline:
                    retries += 1
                    self._backoff(retries, None, deadline, f"{kind} failure")
                    continue
                setting = "endpoint" if dli else "iam_endpoint"
                raise self._transport_error(
                    exc, kind, method, url, idempotent, job_ids, attempts, what, setting
                ) from None
            request_id = response.headers.get(contract.REQUEST_ID_HEADER)
            log.debug(
                "%s %s attempt %d -> HTTP %d in %.0f ms (request id %s)",
                method, url, attempts, response.status_code, (time.monotonic() - started) * 1000, request_id,
            )
            status = response.status_code
            if status == 401 and not reauthenticated and auth is not None and auth.invalidate():
                reauthenticated = True  # the IAM token may have expired early: renew once
                log.debug("HTTP 401: renewing the IAM token and retrying once")
                continue
            retryable = status == 429 or (idempotent and status in _RETRY_STATUSES_GET)
            if retryable and retries < s.max_retries and time.monotonic() < deadline:
                retries += 1
                self._backoff(retries, _retry_after(response), deadline, f"HTTP {status}")
                continue
            return response, attempts

    def _backoff(self, retry: int, retry_after: float | None, deadline: float, why: str) -> None:
        base = self.settings.backoff_base
        delay = retry_after if retry_after is not None else base * 2 ** (retry - 1) * random.uniform(0.5, 1.5)
        delay = max(0.0, min(delay, deadline - time.monotonic()))
        log.debug("retry %d after %s in %.3f s", retry, why, delay)
        if delay:
            self._sleep(delay)

    def _transport_error(
        self,
        exc: Exception,
        kind: str,
        method: str,
        url: str,
        idempotent: bool,
        job_ids: Sequence[int],
        attempts: int,
        what: str,
        setting: str = "endpoint",
    ) -> TransportError:
        parts = urlsplit(url)
        host = parts.netloc
        label = what or f"{method} request"
        source = self.settings.source(setting)
        if source == "default" and setting == "iam_endpoint":
            source = "the endpoint"  # the client falls back to the DLI endpoint
        origin = source if source.startswith("derived") else f"from {source}"
        if kind == "dns":
            text = f"host {parts.hostname} not found: check the {setting} ({origin}); nothing was sent."
            hint = (
                f"Check the spelling of {setting} (`%dli_config` shows it and where it came from), "
                "or the DNS / VPN of this machine."
            )
        elif kind in _NOT_SENT:
            text = f"Could not connect to {host} for the {label}; nothing was sent."
            if kind == "refused":
                text = f"Could not connect to {host} for the {label} (connection refused); nothing was sent."
            hint = (
                f"Nothing was sent: check the {setting} ({origin}; `%dli_config` shows it) and the network "
                "(proxy, VPN, firewall), then run it again."
            )
        elif kind == "tls":
            text = f"TLS handshake with {host} failed ({tls_reason(exc)}); nothing was sent. Fix the certificate or endpoint."
            hint = (
                "Nothing was processed: check that the endpoint is the service's https:// URL; for a private "
                "CA set REQUESTS_CA_BUNDLE to its bundle."
            )
        elif kind == "timeout":
            text = f"No answer from {host} within {self.settings.read_timeout:g} s to the {label}."
            hint = None
        elif kind == "dropped":
            text = f"The connection to {host} was closed before an answer to the {label} arrived."
            hint = None
        else:
            text = f"The answer from {host} to the {label} could not be read ({type(exc).__name__})."
            hint = None
        # Unless the request provably never left (no connection, or a refused TLS handshake), the
        # service may have received and processed it.
        uncertain = not idempotent and kind not in _NOT_SENT and kind != "tls"
        if uncertain:
            text += _MAY_HAVE_TAKEN_EFFECT_TEXT
            hint = "Do not resend blindly: `%dli_jobs` (or get_job) shows whether the jobs are starting."
        elif kind in ("timeout", "dropped", "other"):
            # A read (list, detail, IAM) changes nothing: running it again is safe.
            hint = (
                "Run it again: this request changes nothing. If it keeps failing, check the network"
                + (f" or raise read_timeout (now {self.settings.read_timeout:g} s)." if kind == "timeout" else ".")
            )
        return TransportError(scrub(text), job_ids=job_ids, attempts=attempts, hint=hint,
                              may_have_taken_effect=uncertain, kind=kind)

    def _error(self, response: Response, *, job_ids: Sequence[int] = (), attempts: int) -> DLIError:
        data = _decode_json(response)
        body = data if isinstance(data, dict) else None
        if response.status_code == 429 and body is not None and not (body.get("error_code") or body.get("code")):
            body = {**body, "error_code": THROTTLE_CODE}
        elif response.status_code == 429 and body is None:
            body = {"error_code": THROTTLE_CODE, "error_msg": f"Throttled by the API gateway (HTTP 429)"}
        error = error_from_response(
            response.status_code,
            body,
            request_id=response.headers.get(contract.REQUEST_ID_HEADER),
            job_ids=job_ids,
            raw=None if body is not None else scrub(response.text),
            retry_after=_retry_after(response),
            attempts=attempts,
        )
        return _scrubbed(error)

    def _malformed(self, response: Response, attempts: int, what: str, why: str,
                   job_ids: Sequence[int] = ()) -> MalformedResponseError:
        text = (
            f"DLI answered HTTP {response.status_code} to {what} with {why}: "
            f"{excerpt(scrub(response.text)) or '(empty body)'}"
        )
        return MalformedResponseError(
            text,
            status=response.status_code,
            request_id=response.headers.get(contract.REQUEST_ID_HEADER),
            job_ids=job_ids,
            attempts=attempts,
        )

    def _ok_json(self, response: Response, attempts: int, *, what: str, job_ids: Sequence[int] = ()) -> Any:
        """The decoded body of a successful answer; error answers raise the mapped DLIError."""
        if response.status_code >= 300:
            raise self._error(response, job_ids=job_ids, attempts=attempts)
        data = _decode_json(response)
        if data is _NO_JSON:
            raise self._malformed(response, attempts, what, "a body that is not JSON", job_ids)
        return data

    def _call(self, method: str, path: str, *, params=None, payload=None, what: str, idempotent: bool,
              job_ids: Sequence[int] = ()) -> tuple[dict, Response]:
        """A JSON-object call whose body carries ``is_success`` (list, detail, create, delete)."""
        url = self._api_url(path, params)
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8") if payload is not None else None
        response, attempts = self._send(method, url, body, idempotent=idempotent, job_ids=job_ids, what=what)
        try:
            data = self._ok_json(response, attempts, what=f"the {what}", job_ids=job_ids)
            if not isinstance(data, dict):
                raise self._malformed(response, attempts, f"the {what}", "JSON that is not an object", job_ids)
            ok = contract.parse_is_success(data["is_success"]) if "is_success" in data else True
            if ok is None:
                raise self._malformed(response, attempts, f"the {what}", "an unreadable is_success", job_ids)
        except (ServiceError, MalformedResponseError) as error:
            if not idempotent:  # the service got the call (create / delete): it may have been processed
                _may_have_taken_effect(error)
            raise
        if not ok:
            raise _scrubbed(
                RequestRejectedError(
                    str(data.get("message") or f"DLI refused the {what}"),
                    status=response.status_code,
                    request_id=response.headers.get(contract.REQUEST_ID_HEADER),
                    job_ids=job_ids,
                    attempts=attempts,
                )
            )
        return data, response

    # ---- run / stop

    def run_jobs(self, job_ids, resume_savepoint: bool = False, *, chunk_size=None, max_workers=None) -> BatchResult:
        """Submit jobs to run (``POST jobs/run``), ``chunk_size`` ids per request, in id order."""
        options = {"resume_savepoint": _check_bool("resume_savepoint", resume_savepoint)}
        return self._batch("run", job_ids, options, chunk_size, max_workers)

    def stop_jobs(self, job_ids, trigger_savepoint: bool = False, *, chunk_size=None, max_workers=None) -> BatchResult:
        """Stop jobs (``POST jobs/stop``), ``chunk_size`` ids per request, in id order."""
        options = {"trigger_savepoint": _check_bool("trigger_savepoint", trigger_savepoint)}
        return self._batch("stop", job_ids, options, chunk_size, max_workers)

    def _chunking(self, chunk_size, max_workers) -> tuple[int, int]:
        size = self.settings.chunk_size if chunk_size is None else chunk_size
        workers = self.settings.max_workers if max_workers is None else max_workers
        return (
            _check_count("chunk_size", size, 1, CHUNK_SIZE_MAX),
            _check_count("max_workers", workers, 1, MAX_WORKERS_MAX),
        )

    def _batch(self, action: str, job_ids, options: dict, chunk_size, max_workers) -> BatchResult:
        """Send the chunks; a row per id, or one error when nothing was done for sure.

        One error (naming every id) only when no chunk succeeded and no failed chunk may have taken
        effect (``DLIError.may_have_taken_effect``); otherwise rows, so a call the service may have
        processed is never hidden behind another chunk's error. Ctrl-C during a multi-chunk call
        stops sending, waits for the requests in flight and returns the rows (``interrupted=True``).
        """
        self._check_open()
        ids = validate_job_ids(job_ids).ids
        size, workers = self._chunking(chunk_size, max_workers)
        url = self._api_url(f"jobs/{action}")  # settles project id and credentials before sending
        self.auth
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        halt = threading.Event()
        halt_lock = threading.Lock()
        halted_by: list[DLIError] = []  # the error that actually set halt (none: Ctrl-C or no halt)

        def stop_sending(error: DLIError | None) -> None:
            with halt_lock:
                if not halt.is_set():
                    if error is not None:
                        halted_by.append(error)
                    halt.set()

        def send(chunk: list[int]):
            if halt.is_set():
                return _ChunkSkipped(chunk)
            try:
                return self._send_chunk(url, action, chunk, options)
            except DLIError as error:
                if not isinstance(error, _CHUNK_SPECIFIC):
                    stop_sending(error)
                return _ChunkFailed(chunk, error)

        started = _utcnow()
        interrupted = False
        if len(chunks) == 1:
            results = [send(chunks[0])]  # no pool: Ctrl-C propagates as usual
            if isinstance(results[0], _ChunkFailed):
                raise results[0].error  # one request for every id: its error says all there is
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(chunks)), thread_name_prefix="dli-chunk") as pool:
                futures: list[Future] = []
                try:
                    for chunk in chunks:
                        futures.append(pool.submit(send, chunk))
                    results = [future.result() for future in futures]  # id order
                except KeyboardInterrupt:
                    # Ctrl-C: send nothing more, but keep what was done. Requests in flight are
                    # already out: wait for their answers. Chunks not started are "not sent".
                    interrupted = True
                    stop_sending(None)
                    for future in futures:
                        future.cancel()
                    results = []
                    for index, chunk in enumerate(chunks):
                        future = futures[index] if index < len(futures) else None
                        if future is None or future.cancelled():
                            results.append(_ChunkSkipped(chunk, interrupted=True))
                        else:
                            results.append(future.result())
        finished = _utcnow()

        failures = [r for r in results if isinstance(r, _ChunkFailed)]
        if (
            failures
            and not interrupted
            and not any(isinstance(r, _ChunkOk) for r in results)
            and not any(f.error.may_have_taken_effect for f in failures)
        ):
            # Nothing took effect for sure: one error, about every id of the call (failed and
            # skipped alike). The error that stopped the sending explains the skipped chunks.
            error = halted_by[0] if halted_by else failures[0].error
            error.job_ids = list(ids)
            raise error
        outcomes: list[JobOutcome] = []
        attempts = 0
        for result in results:
            if isinstance(result, _ChunkOk):
                outcomes.extend(result.outcomes)
                attempts += result.attempts
            elif isinstance(result, _ChunkFailed):
                err = result.error
                attempts += err.attempts or 1
                outcomes.extend(JobOutcome(j, None, _failure_row(err), request_id=err.request_id)
                                for j in result.job_ids)
            else:
                if result.interrupted or not halted_by:
                    message = "not sent (interrupted)"
                else:
                    cause = halted_by[0]
                    message = f"not sent: stopped after {type(cause).__name__} in another chunk: {cause.message}"
                outcomes.extend(JobOutcome(j, None, message) for j in result.job_ids)
        return BatchResult(
            action=action,
            outcomes=outcomes,
            endpoint=self.endpoint,
            project_id=self.project_id,
            options=dict(options),
            started=started,
            finished=finished,
            attempts=attempts,
            requests=sum(1 for r in results if not isinstance(r, _ChunkSkipped)),
            interrupted=interrupted,
        )

    def _send_chunk(self, url: str, action: str, chunk: list[int], options: dict) -> _ChunkOk:
        body = json.dumps({"job_ids": chunk, **options}, separators=(",", ":")).encode("utf-8")
        what = f"{action} request"
        response, attempts = self._send("POST", url, body, idempotent=False, job_ids=chunk, what=what)
        try:
            return self._chunk_outcomes(response, attempts, what, chunk)
        except (ServiceError, MalformedResponseError) as error:
            # The service received this run/stop (a 5xx, or a 2xx we cannot read): it may have acted.
            raise _may_have_taken_effect(error)

    def _chunk_outcomes(self, response: Response, attempts: int, what: str, chunk: list[int]) -> _ChunkOk:
        data = self._ok_json(response, attempts, what=f"the {what}", job_ids=chunk)
        request_id = response.headers.get(contract.REQUEST_ID_HEADER)
        if not isinstance(data, list):
            raise self._malformed(response, attempts, f"the {what}", "JSON that is not an array", chunk)
        if len(data) != len(chunk):
            # Never guess which element belongs to which job.
            message = (
                f"the service answered {len(data)} results for {len(chunk)} jobs; outcome unknown — "
                "check %dli_jobs"
            )
            return _ChunkOk([JobOutcome(j, None, message, request_id=request_id) for j in chunk], attempts)
        outcomes = []
        for job_id, element in zip(chunk, data):
            ok = contract.parse_is_success(element.get("is_success")) if isinstance(element, dict) else None
            if ok is None:
                raise self._malformed(
                    response, attempts, f"the {what}", "an element without a readable is_success", chunk
                )
            message = element.get("message")
            outcomes.append(JobOutcome(job_id, ok, "" if message is None else str(message), request_id=request_id))
        return _ChunkOk(outcomes, attempts)

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
    ) -> Iterator[Job]:
        """Every matching job, fetched lazily one page (offset/limit) at a time."""
        self._check_open()
        params = self._list_params(status, name, job_type, queue_name, tags, order, show_detail, page_size)
        return self._pages(params, page_size)

    def _pages(self, params: list[tuple[str, object]], page_size: int) -> Iterator[Job]:
        offset = 0
        while True:
            data, response = self._call(
                "GET", "jobs", params=params + [("limit", page_size), ("offset", offset)],
                what="job list request", idempotent=True,
            )
            listing = data.get("job_list")
            jobs = listing.get("jobs") if isinstance(listing, dict) else None
            if not isinstance(jobs, list) or not all(isinstance(j, dict) and "job_id" in j for j in jobs):
                raise self._malformed(response, 1, "the job list request", "no readable job_list.jobs")
            for job in jobs:
                if not _is_job_id(job["job_id"]):
                    raise self._malformed(response, 1, "the job list request", _bad_job_id(job))
            for job in jobs:
                yield self._remember(Job.from_api(job))
            total = listing.get("total_count")
            offset += len(jobs)
            if not jobs or (isinstance(total, int) and offset >= total) or (total is None and len(jobs) < page_size):
                return

    @staticmethod
    def _list_params(status, name, job_type, queue_name, tags, order, show_detail, page_size):
        params: list[tuple[str, object]] = []
        if status is not None:
            if status not in contract.JOB_STATUSES:
                raise BadInputError(f"Unknown job status {status!r}." + _suggest(str(status), contract.JOB_STATUSES))
            params.append(("status", status))
        if job_type is not None:
            if job_type not in contract.JOB_TYPES:
                raise BadInputError(f"Unknown job type {job_type!r}." + _suggest(str(job_type), contract.JOB_TYPES))
            params.append(("job_type", job_type))
        if name is not None:
            if not isinstance(name, str) or len(name) > contract.JOB_NAME_MAX:
                raise BadInputError(f"name must be a string of at most {contract.JOB_NAME_MAX} characters.")
            params.append(("name", name))
        if queue_name is not None:
            params.append(("queue_name", str(queue_name)))
        if tags:
            if isinstance(tags, Mapping):
                tags = ",".join(f"{k}={v}" for k, v in tags.items())
            params.append(("tags", str(tags)))
        if order not in _ORDERS:
            raise BadInputError(f"order must be 'asc' or 'desc', not {order!r}.")
        params.append(("order", order))
        if _check_bool("show_detail", show_detail):
            params.append(("show_detail", True))
        _check_count("page_size", page_size, 1, contract.LIST_PAGE_MAX)
        return params

    def list_jobs(self, **filters: Any) -> list[Job]:
        """All matching jobs (every page); same filters as ``iter_jobs``."""
        return list(self.iter_jobs(**filters))

    def get_job(self, job_id: int) -> Job:
        self._check_open()
        job_id = check_job_id(job_id)
        data, response = self._call("GET", f"jobs/{job_id}", what="job detail request", idempotent=True,
                                    job_ids=[job_id])
        detail = data.get("job_detail")
        if not isinstance(detail, dict) or "job_id" not in detail:
            raise self._malformed(response, 1, "the job detail request", "no readable job_detail", [job_id])
        if not _is_job_id(detail["job_id"]):
            raise self._malformed(response, 1, "the job detail request", _bad_job_id(detail), [job_id])
        return self._remember(Job.from_api(detail))

    def _remember(self, job: Job) -> Job:
        self.job_names[job.job_id] = job.name
        return job

    # ---- create / delete

    def _create(self, path: str, kind: str, name: str, fields: dict) -> int:
        self._check_open()
        if not isinstance(name, str) or not name.strip() or len(name) > contract.JOB_NAME_MAX:
            raise BadInputError(f"A job name must be 1 to {contract.JOB_NAME_MAX} characters, not {name!r}.")
        tags = fields.get("tags")
        if isinstance(tags, Mapping):
            fields["tags"] = [{"key": str(k), "value": str(v)} for k, v in tags.items()]
        payload = {"name": name, **fields}
        data, response = self._call("POST", path, payload=payload, what=f"create {kind} job request",
                                    idempotent=False)
        job = data.get("job")
        job_id = job.get("job_id") if isinstance(job, dict) else None
        if not _is_job_id(job_id):
            # The job may well exist now: say so rather than invite a second create.
            raise _may_have_taken_effect(
                self._malformed(response, 1, f"the create {kind} job request", "no job.job_id")
            )
        return job_id

    def create_sql_job(self, name: str, sql_body: str = "", **fields: Any) -> int:
        """Create a Flink SQL job (``POST sql-jobs``); returns its job id."""
        return self._create("sql-jobs", "SQL", name, {"sql_body": sql_body, **fields})

    def create_jar_job(self, name: str, **fields: Any) -> int:
        """Create a Flink Jar job (``POST flink-jobs``); returns its job id."""
        return self._create("flink-jobs", "Jar", name, dict(fields))

    def delete_job(self, job_id: int) -> None:
        self._check_open()
        job_id = check_job_id(job_id)
        self._call("DELETE", f"jobs/{job_id}", what="delete request", idempotent=False, job_ids=[job_id])

    # ---- dry run

    def describe_request(self, action: str, job_ids, **options: Any) -> dict:
        """What ``run_jobs``/``stop_jobs`` would send (first chunk), secrets redacted; sends nothing."""
        self._check_open()
        if action not in _BATCH_OPTIONS:
            raise BadInputError(f"action must be 'run' or 'stop', not {action!r}.")
        option = _BATCH_OPTIONS[action]
        chunk_size = options.pop("chunk_size", None)
        options.pop("max_workers", None)
        unknown = set(options) - {option}
        if unknown:
            raise BadInputError(f"Unknown option(s) for {action}: {', '.join(sorted(unknown))}; only {option}.")
        value = _check_bool(option, options.get(option, False))
        ids = validate_job_ids(job_ids).ids
        size, _ = self._chunking(chunk_size, None)
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        project = self._project_id or "{project_id}"
        url = f"{self.endpoint}{contract.API_PREFIX.format(project_id=project)}/jobs/{action}"
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Project-Id": project}
        try:
            headers.update(self.auth.describe_headers())
        except ConfigError as exc:
            headers["X-Auth-Token"] = f"(no credentials configured: {exc.message})"
        described = {
            "method": "POST",
            "url": url,
            "headers": {k: scrub(v) for k, v in headers.items()},
            "json": {"job_ids": chunks[0], option: value},
            "requests": len(chunks),
        }
        if not self._project_id:
            described["note"] = "the project id is looked up via IAM when the call is made"
        return described
