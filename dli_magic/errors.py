"""The one exception hierarchy, and every mapping to it: an HTTP error answer, a bad answer (read
here into the typed results, or refused as malformed), a failed exchange.

Every error carries what a user needs to act: HTTP status, ``error_code``, ``error_msg``, the
service's ``X-Request-Id`` (what cloud support asks for), the job ids concerned and a next step.
``_render_traceback_`` keeps a notebook cell short while IPython still publishes a real ``error``
output, so papermill and nbclient fail the cell. No IPython import here.
"""

from __future__ import annotations

import json
import traceback
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import contract
from .redaction import scrub, scrub_in_use

if TYPE_CHECKING:
    from .results import ExecuteGraph, Job, JobOutcome

# Set by ``%config DliMagic.debug = True`` (or DLI_DEBUG=1): show the full traceback instead.
SHOW_FULL_TRACEBACK = False

_MAX_IDS_SHOWN = 8


def _format_ids(job_ids: Sequence[int]) -> str:
    ids = list(job_ids)
    shown = ", ".join(str(i) for i in ids[:_MAX_IDS_SHOWN])
    if len(ids) > _MAX_IDS_SHOWN:
        shown += f", … ({len(ids)} in all)"
    return shown


class DLIError(Exception):
    """Base of every dli-magic error."""

    hint = "Check the message above; set `%config DliMagic.debug = True` for the full traceback."
    # True when the call reached the service and may have been processed (a run/stop POST that
    # timed out, lost its connection, got a 5xx or an unreadable 2xx answer): never resend blindly.
    may_have_taken_effect = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        error_msg: str | None = None,
        request_id: str | None = None,
        job_ids: Iterable[int] | None = None,
        hint: str | None = None,
        attempts: int | None = None,
        may_have_taken_effect: bool = False,
    ) -> None:
        # Every message passes the one scrubber: a secret pasted into another setting or argument,
        # or echoed by a server or an expression, never reaches a user.
        message = scrub_in_use(str(message))
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.error_msg = scrub(str(error_msg)) if error_msg is not None else None
        self.request_id = request_id
        self.job_ids: list[int] = list(job_ids or [])
        self.attempts = attempts
        self.may_have_taken_effect = bool(may_have_taken_effect)
        if hint is not None:
            self.hint = hint

    def details(self) -> str:
        parts = []
        if self.job_ids:
            parts.append(f"jobs: {_format_ids(self.job_ids)}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}" + (f" {self.error_code}" if self.error_code else ""))
        elif self.error_code:
            parts.append(self.error_code)
        if self.request_id:
            parts.append(f"request id: {self.request_id}")
        if self.attempts and self.attempts > 1:
            parts.append(f"attempts: {self.attempts}")
        return " | ".join(parts)

    def __str__(self) -> str:
        details = self.details()
        return scrub(f"{self.message} ({details})" if details else self.message)

    def _render_traceback_(self) -> list[str]:
        if SHOW_FULL_TRACEBACK:
            return [scrub(line) for line in traceback.format_exception(type(self), self, self.__traceback__)]
        lines = [f"{type(self).__name__}: {self.message}"]
        details = self.details()
        if details:
            lines.append(f"  {details}")
        if self.hint:
            lines.append(f"  What to do: {self.hint}")
        return [scrub(line) for line in lines]


class BadInputError(DLIError, ValueError):
    """Invalid arguments or settings, found before anything was sent."""

    hint = "Fix the input; nothing was sent to DLI."


class ConfigError(BadInputError):
    """Missing or inconsistent settings (endpoint, project id, credentials)."""

    # Right for the non-secret settings; errors about credentials, plain http, the profile file and
    # setting names carry their own hint (below).
    hint = (
        "Set or fix it with `%dli_config NAME=VALUE` (or %config DliMagic.NAME), an environment variable "
        "or the profile file; `%dli_config` shows every setting and where it came from."
    )


# Secrets are refused by %dli_config, %config and every magic line: never point there for them.
MISSING_CREDENTIALS_HINT = (
    "Credentials are not taken by %dli_config, %config or a magic line: in a notebook use %dli_login "
    "(asks without echo), or set DLI_AUTH_TOKEN, DLI_AK + DLI_SK or DLI_USERNAME + DLI_PASSWORD in the "
    "environment, or auth_token / ak + sk / username + password in the profile file "
    "(~/.config/dli-magic/config.toml)."
)
# .format(name="endpoint", env="DLI_ENDPOINT") (or the IAM endpoint's names)
PLAIN_HTTP_HINT = (
    "Use an https:// URL (`%dli_config {name}=https://…` or {env}). Only on a trusted network: "
    "`%dli_config allow_http=true` or DLI_ALLOW_HTTP=1."
)
PROFILE_FILE_HINT = (
    "Create or fix the profile file (TOML, one [section] of settings per profile), or choose another "
    "profile with --profile NAME / DLI_PROFILE (unset it to use [default])."
)
UNKNOWN_SETTING_HINT = (
    "Fix the name where it was given; `%dli_config` lists every setting. Secrets (auth_token, sk, "
    "password) go through %dli_login, the environment or the profile file."
)


class AuthError(DLIError):
    """Authentication or authorisation refused (401/403, IAM failures)."""

    hint = "Check the token or AK/SK (and the machine clock for AK/SK); `%dli_config` shows where each came from."


class NotFoundError(DLIError):
    """The job (or API) does not exist."""

    hint = "Check the job id; `%dli_jobs` lists the jobs of this project."


# The gateway has no such API: the URL is wrong, not the job id.
API_NOT_FOUND_HINT = (
    "Check the endpoint (`%dli_config` shows it and where it came from): it must be the DLI endpoint of "
    "your region, without a path; this region may also not offer this call."
)


class JobNotFoundError(NotFoundError):
    """A job id this project does not have (DLI.16001): one line says all there is."""

    def _render_traceback_(self) -> list[str]:
        if SHOW_FULL_TRACEBACK:
            return super()._render_traceback_()
        details = self.details()
        return [scrub(f"{type(self).__name__}: {self.message}" + (f" ({details})" if details else ""))]


class ThrottledError(DLIError):
    """429 from the gateway after the retry budget was spent."""

    hint = "The service is throttling: wait a few seconds, or lower --chunk-size / concurrency, and retry."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RequestRejectedError(DLIError):
    """The service refused the request as a whole (a 400 other than not-found)."""

    hint = "Read error_msg above: the service says what it refused; nothing was started."


class ServiceError(DLIError):
    """The service failed (5xx, gateway pages, DLI.0999)."""

    hint = "The service failed; retry later and quote the request id to support if it persists."


class TransportError(DLIError):
    """The request could not be completed: host not found, connection refused, reset or timed out.

    ``kind`` says which: "dns", "connect" (nothing was sent), "timeout", "dropped", "tls" or
    "other"; the client gives each kind its own hint."""

    hint = "Check the endpoint and the network (proxy, VPN, firewall)."

    def __init__(self, message: str, *, kind: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.kind = kind


MAY_HAVE_TAKEN_EFFECT_HINT = (
    "The call reached the service and may have taken effect: check `%dli_jobs` (or get_job) before "
    "sending it again; quote the request id to support."
)


class MalformedResponseError(DLIError):
    """The service answered something that is not the documented shape."""

    hint = "The answer did not match the DLI API; quote the request id to support. Nothing was guessed."


class InterruptedBeforeRetry(KeyboardInterrupt):
    """Ctrl-C while waiting to send a request again, or the call cancelled (``http.cancelled_by``: a
    batch halted, a background wait stopped) while no attempt was out: nothing more was sent.

    ``after``: what the last attempt met ("HTTP 429", "connection failure (refused)", ...); None
    when the call was cancelled before its first attempt. ``attempts``: the attempts that went out.
    ``took_no_effect``: every attempt was refused unprocessed (HTTP 429, 401) or never left (a
    refused connection), so nothing was done; False when an idempotent request was repeated after
    an answer that may have acted."""

    def __init__(self, after: str | None, took_no_effect: bool, attempts: int) -> None:
        super().__init__(after or "cancelled before the first attempt")
        self.after = after
        self.took_no_effect = took_no_effect
        self.attempts = attempts


def excerpt(body: bytes | str | None, limit: int = 160) -> str:
    """A short, single-line view of a response body for error messages."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = " ".join(body.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_from_response(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    job_ids: Iterable[int] | None = None,
    raw: bytes | str | None = None,
    retry_after: float | None = None,
    attempts: int | None = None,
) -> DLIError:
    """Map an HTTP error answer (status + decoded JSON body or None) to the hierarchy."""
    error_code = error_msg = None
    if isinstance(body, dict):
        error_code = body.get("error_code") or body.get("code")
        error_msg = body.get("error_msg") or body.get("message") or body.get("msg")
        request_id = request_id or body.get("request_id")
    common = dict(
        status=status,
        error_code=error_code,
        error_msg=error_msg,
        request_id=request_id,
        job_ids=job_ids,
        attempts=attempts,
    )
    if error_msg:
        text = str(error_msg)
    elif raw:
        text = f"HTTP {status} with a non-JSON body: {excerpt(raw)}"
    else:
        text = f"HTTP {status}"
    if error_code in contract.API_NOT_FOUND_CODES:
        common["hint"] = API_NOT_FOUND_HINT
    kind = contract.error_kind(status, str(error_code) if error_code else None)
    if kind == "throttled":
        return ThrottledError(text, retry_after=retry_after, **common)
    return _ERROR_CLASSES[kind](text, **common)


_ERROR_CLASSES: dict[str, type[DLIError]] = {
    "auth": AuthError,
    "not_found": NotFoundError,
    "service": ServiceError,
    "rejected": RequestRejectedError,
}


# --- an HTTP answer -> a value or an error ------------------------------------------------------
# ``response`` is a ``requests.Response`` (status_code, headers, content, text).

NO_JSON = object()  # decode_json's answer for an empty or non-JSON body


def decode_json(response: Any) -> Any:
    if not response.content:
        return NO_JSON
    try:
        return json.loads(response.content)
    except ValueError:
        return NO_JSON


def retry_after_seconds(response: Any) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date); None when absent or unreadable."""
    from email.utils import parsedate_to_datetime

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
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def request_id_of(response: Any) -> str | None:
    return response.headers.get(contract.REQUEST_ID_HEADER)


def error_from_http(response: Any, *, attempts: int, job_ids: Sequence[int] = ()) -> DLIError:
    """The error for an answer with an error status (a 429 without a code is the gateway's throttling)."""
    data = decode_json(response)
    body = data if isinstance(data, dict) else None
    if response.status_code == 429 and body is not None and not (body.get("error_code") or body.get("code")):
        body = {**body, "error_code": contract.THROTTLED_CODE}
    elif response.status_code == 429 and body is None:
        body = {"error_code": contract.THROTTLED_CODE, "error_msg": "Throttled by the API gateway (HTTP 429)"}
    return error_from_response(
        response.status_code,
        body,
        request_id=request_id_of(response),
        job_ids=job_ids,
        raw=None if body is not None else response.text,
        retry_after=retry_after_seconds(response),
        attempts=attempts,
    )


def malformed_answer(
    response: Any, attempts: int, what: str, why: str, job_ids: Sequence[int] = ()
) -> MalformedResponseError:
    """A 2xx answer that is not the documented shape (``why`` says how)."""
    return MalformedResponseError(
        f"DLI answered HTTP {response.status_code} to {what} with {why}: {excerpt(response.text) or '(empty body)'}",
        status=response.status_code,
        request_id=request_id_of(response),
        job_ids=job_ids,
        attempts=attempts,
    )


def ok_json(response: Any, attempts: int, *, what: str, job_ids: Sequence[int] = ()) -> Any:
    """The decoded body of a successful answer; an error answer raises its DLIError."""
    if response.status_code >= 300:
        raise error_from_http(response, attempts=attempts, job_ids=job_ids)
    data = decode_json(response)
    if data is NO_JSON:
        raise malformed_answer(response, attempts, what, "a body that is not JSON", job_ids)
    return data


def mark_may_have_taken_effect(error: DLIError) -> DLIError:
    """An error from a call the service received (5xx, unreadable 2xx): it may have been processed."""
    error.may_have_taken_effect = True
    error.hint = MAY_HAVE_TAKEN_EFFECT_HINT
    return error


def bad_job_id_description(entry: Mapping[str, Any]) -> str:
    try:
        shown = json.dumps(dict(entry), default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(entry)
    return f"a job whose job_id is not an integer ({excerpt(shown, 120)})"


# --- a DLI answer's body -> typed results, or the error it means ---------------------------------
# (results is imported inside each function: %load_ext imports this module and stays light)


def _is_job_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def answer_object(response: Any, attempts: int, what: str, job_ids: Sequence[int] = ()) -> dict:
    """The JSON object of an answer that carries ``is_success`` (list, detail, create, delete);
    RequestRejectedError when it says false."""
    data = ok_json(response, attempts, what=f"the {what}", job_ids=job_ids)
    if not isinstance(data, dict):
        raise malformed_answer(response, attempts, f"the {what}", "JSON that is not an object", job_ids)
    ok = contract.parse_is_success(data["is_success"]) if "is_success" in data else True
    if ok is None:
        raise malformed_answer(response, attempts, f"the {what}", "an unreadable is_success", job_ids)
    if not ok:
        raise RequestRejectedError(
            str(data.get("message") or f"DLI refused the {what}"),
            status=response.status_code,
            request_id=request_id_of(response),
            job_ids=job_ids,
            attempts=attempts,
        )
    return data


def chunk_outcomes(response: Any, attempts: int, what: str, chunk: list[int]) -> list[JobOutcome]:
    """A run/stop answer (an array, one element per job of ``chunk``): a row per job."""
    from .results import JobOutcome
    data = ok_json(response, attempts, what=f"the {what}", job_ids=chunk)
    request_id = request_id_of(response)
    if not isinstance(data, list):
        raise malformed_answer(response, attempts, f"the {what}", "JSON that is not an array", chunk)
    if len(data) != len(chunk):
        # Never guess which element belongs to which job.
        message = (
            f"the service answered {len(data)} results for {len(chunk)} jobs; outcome unknown — "
            "check %dli_jobs"
        )
        return [JobOutcome(j, None, message, request_id=request_id) for j in chunk]
    outcomes = []
    for job_id, element in zip(chunk, data):
        ok = contract.parse_is_success(element.get("is_success")) if isinstance(element, dict) else None
        if ok is None:
            raise malformed_answer(
                response, attempts, f"the {what}", "an element without a readable is_success", chunk
            )
        message = element.get("message")
        outcomes.append(JobOutcome(job_id, ok, "" if message is None else str(message), request_id=request_id))
    return outcomes


def iam_projects(response: Any, attempts: int) -> list:
    """The ``projects`` array of an IAM project lookup."""
    data = ok_json(response, attempts, what="the IAM project lookup")
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, list):
        raise malformed_answer(response, attempts, "the IAM project lookup", "no `projects` array")
    return projects


def listed_jobs(data: Mapping[str, Any], response: Any, attempts: int) -> tuple[list[Job], int | None]:
    """One page of the job list (``job_list.jobs``) and the list's ``total_count`` (None when absent)."""
    from .results import Job
    listing = data.get("job_list")
    jobs = listing.get("jobs") if isinstance(listing, dict) else None
    if not isinstance(jobs, list) or not all(isinstance(j, dict) and "job_id" in j for j in jobs):
        raise malformed_answer(response, attempts, "the job list request", "no readable job_list.jobs")
    for job in jobs:
        if not _is_job_id(job["job_id"]):
            raise malformed_answer(response, attempts, "the job list request", bad_job_id_description(job))
    total = listing.get("total_count")
    return [Job.from_api(job) for job in jobs], total if _is_job_id(total) else None


def job_detail(data: Mapping[str, Any], response: Any, attempts: int, job_id: int) -> Job:
    from .results import Job
    detail = data.get("job_detail")
    if not isinstance(detail, dict) or "job_id" not in detail:
        raise malformed_answer(response, attempts, "the job detail request", "no readable job_detail", [job_id])
    if not _is_job_id(detail["job_id"]):
        raise malformed_answer(response, attempts, "the job detail request", bad_job_id_description(detail), [job_id])
    return Job.from_api(detail)


def execute_graph(data: Mapping[str, Any], response: Any, attempts: int, job_id: int) -> ExecuteGraph:
    from .results import ExecuteGraph
    graph = data.get("execute_graph")
    if not isinstance(graph, dict):
        raise malformed_answer(response, attempts, "the execute-graph request", "no readable execute_graph", [job_id])
    return ExecuteGraph.from_api(job_id, graph)


def created_job_id(data: Mapping[str, Any], response: Any, attempts: int, kind: str) -> int:
    """The ``job.job_id`` of a create answer."""
    job = data.get("job")
    job_id = job.get("job_id") if isinstance(job, dict) else None
    if not _is_job_id(job_id):
        # The job may well exist now: say so rather than invite a second create.
        raise mark_may_have_taken_effect(
            malformed_answer(response, attempts, f"the create {kind} job request", "no job.job_id")
        )
    return job_id


# --- a failed exchange -> an error ----------------------------------------------------------------

# Nothing was sent for these kinds: the request never reached a server.
NOT_SENT_KINDS = frozenset({"dns", "refused", "connect"})
# Said by a TransportError whose POST may have been processed (a row says it its own way).
MAY_HAVE_TAKEN_EFFECT_TEXT = " The call may have taken effect: check `%dli_jobs` before sending it again."


def _exception_chain(exc: BaseException):
    """The exception and everything it wraps (args, .reason, __cause__, __context__)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__]
        linked.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        stack.extend(e for e in linked if isinstance(e, BaseException))


# ssl reasons of a failed handshake (before any request byte was sent): the certificate, or no
# common protocol (e.g. https:// to a plain-http port).
_HANDSHAKE_REASONS = frozenset({
    "CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE",
    "UNKNOWN_PROTOCOL", "SSLV3_ALERT_HANDSHAKE_FAILURE", "TLSV1_ALERT_PROTOCOL_VERSION", "HTTP_REQUEST",
    "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_INTERNAL_ERROR",
})


def _is_handshake_failure(exc: BaseException) -> bool:
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    return isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None) in _HANDSHAKE_REASONS


def tls_reason(exc: BaseException) -> str:
    """The ssl library's reason for a failed handshake (e.g. CERTIFICATE_VERIFY_FAILED), for messages."""
    import ssl

    for inner in _exception_chain(exc):
        if isinstance(inner, ssl.SSLError) and getattr(inner, "reason", None):
            return str(inner.reason)
    return type(exc).__name__


def classify_transport_failure(exc: BaseException) -> str:
    """"dns" (host not found), "refused" or "connect" (nothing was sent either way), "timeout"
    (read timeout), "tls" (a refused handshake), "dropped" or "other"."""
    import socket

    from urllib3.exceptions import (
        ConnectTimeoutError,
        NameResolutionError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    import requests
    from urllib3.exceptions import DecodeError

    chain = list(_exception_chain(exc))
    # NameResolutionError is a NewConnectionError: look for it (or the socket's gaierror) first.
    if any(isinstance(e, (NameResolutionError, socket.gaierror)) for e in chain):
        return "dns"
    if any(isinstance(e, (NewConnectionError, ConnectTimeoutError)) for e in chain):
        # A NewConnectionError is a ConnectTimeoutError too: a refusal is named for what it is.
        return "refused" if any(isinstance(e, ConnectionRefusedError) for e in chain) else "connect"
    if any(isinstance(e, ReadTimeoutError) for e in chain):
        return "timeout"
    if any(_is_handshake_failure(e) for e in chain):
        return "tls"
    if any(isinstance(e, DecodeError) for e in chain):
        return "other"  # an answer arrived but cannot be decoded
    # Any other TLS error (a corrupt record mid-answer) is a broken connection: the request may
    # have been read and processed, so it must not be reported as a refused handshake. (requests'
    # own exceptions are OSErrors too: only what they wrap counts.)
    causes = [e for e in chain if not isinstance(e, requests.RequestException)]
    if any(isinstance(e, (ProtocolError, SSLError, ConnectionError, OSError)) for e in causes):
        return "dropped"
    return "other"


def config_error_before_sending(exc: BaseException, url: str, setting: str, env_name: str) -> ConfigError | None:
    """A failure that is the configuration's, found before anything was sent (a URL that cannot be
    parsed, a header no request can carry, a CA bundle file that does not exist, a proxy URL that is
    not one); None for a failure of the exchange itself. The messages never quote the value: it may
    be a token, or a proxy URL with its password."""
    import requests

    nothing_sent = " Nothing was sent."
    if isinstance(exc, requests.exceptions.InvalidHeader) or isinstance(exc, UnicodeError) or (
        isinstance(exc, ValueError) and "header" in str(exc).lower()
    ):
        return ConfigError(
            "A request header cannot carry a value of these settings (a line break or a non-ASCII "
            "character in the token, AK or a header value?); copy the credential again." + nothing_sent
        )
    if isinstance(exc, requests.exceptions.InvalidProxyURL) or (
        isinstance(exc, (requests.exceptions.InvalidURL, ValueError)) and _proxy_for(url)
    ):
        return ConfigError(
            "The proxy the environment names for this endpoint is not a valid URL: check HTTPS_PROXY, "
            "HTTP_PROXY and ALL_PROXY (or exempt the host with NO_PROXY)." + nothing_sent,
            hint="Fix the proxy variable; nothing was sent.",
        )
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                        requests.exceptions.MissingSchema)):
        return ConfigError(
            f"The {setting} is not a usable URL (check its host and port: a port is a number from 1 to "
            f"65535)." + nothing_sent,
            hint=f"Fix {setting} (`%dli_config` shows it and where it came from; {env_name}).",
        )
    if isinstance(exc, OSError) and "CA certificate bundle" in str(exc):
        return ConfigError(
            "The CA bundle named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE does not exist or cannot be "
            "read." + nothing_sent,
            hint="Point REQUESTS_CA_BUNDLE at a PEM file (or a directory of hashed certificates), or unset it.",
        )
    return None


def _proxy_for(url: str) -> str | None:
    from requests.utils import get_environ_proxies, select_proxy

    try:
        return select_proxy(url, get_environ_proxies(url)) or None
    except ValueError:
        return None


def transport_error(
    exc: BaseException,
    kind: str,
    *,
    url: str,
    label: str,
    idempotent: bool,
    job_ids: Sequence[int],
    attempts: int,
    settings: Any,
    setting: str = "endpoint",
) -> TransportError:
    """The error for an exchange that failed (``kind`` from ``classify_transport_failure``), with a
    hint of its own per kind, and whether the call may have taken effect."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.netloc
    source = settings.source(setting)
    if source == "default" and setting == "iam_endpoint":
        source = "the endpoint"  # the client falls back to the DLI endpoint
    origin = source if source.startswith("derived") else f"from {source}"
    hint: str | None = None
    if kind == "dns":
        text = f"host {parts.hostname} not found: check the {setting} ({origin}); nothing was sent."
        hint = (
            f"Check the spelling of {setting} (`%dli_config` shows it and where it came from), "
            "or the DNS / VPN of this machine."
        )
    elif kind in NOT_SENT_KINDS:
        refused = " (connection refused)" if kind == "refused" else ""
        text = f"Could not connect to {host} for the {label}{refused}; nothing was sent."
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
        text = f"No answer from {host} within {settings.read_timeout:g} s to the {label}."
    elif kind == "dropped":
        text = f"The connection to {host} was closed before an answer to the {label} arrived."
    else:
        text = f"The answer from {host} to the {label} could not be read ({type(exc).__name__})."
    # Unless the request provably never left (no connection, or a refused TLS handshake), the
    # service may have received and processed it.
    uncertain = not idempotent and kind not in NOT_SENT_KINDS and kind != "tls"
    if uncertain:
        text += MAY_HAVE_TAKEN_EFFECT_TEXT
        hint = "Do not resend blindly: `%dli_jobs` (or get_job) shows whether the jobs are starting."
    elif kind in ("timeout", "dropped", "other"):
        # A read (list, detail, IAM) changes nothing: running it again is safe.
        hint = (
            "Run it again: this request changes nothing. If it keeps failing, check the network"
            + (f" or raise read_timeout (now {settings.read_timeout:g} s)." if kind == "timeout" else ".")
        )
    return TransportError(text, job_ids=job_ids, attempts=attempts, hint=hint,
                          may_have_taken_effect=uncertain, kind=kind)
