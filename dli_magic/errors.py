"""The one exception hierarchy, and the one mapping from an HTTP error answer to it.

Every error carries what a user needs to act: HTTP status, ``error_code``, ``error_msg``, the
service's ``X-Request-Id`` (what cloud support asks for), the job ids concerned and a next step.
``_render_traceback_`` keeps a notebook cell short while IPython still publishes a real ``error``
output, so papermill and nbclient fail the cell. No IPython import here.
"""

from __future__ import annotations

import traceback
from typing import Any, Iterable, Sequence

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
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
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
        return f"{self.message} ({details})" if details else self.message

    def _render_traceback_(self) -> list[str]:
        if SHOW_FULL_TRACEBACK:
            return traceback.format_exception(type(self), self, self.__traceback__)
        lines = [f"{type(self).__name__}: {self.message}"]
        details = self.details()
        if details:
            lines.append(f"  {details}")
        if self.hint:
            lines.append(f"  What to do: {self.hint}")
        return lines


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
    code = str(error_code or "")
    if status == 429 or code.endswith(".0308"):
        return ThrottledError(text, retry_after=retry_after, **common)
    if status in (401, 403) or code in ("DLI.0013", "DLI.0014", "DLI.0015", "DLI.0003"):
        return AuthError(text, **common)
    if code in ("DLI.16001", "DLI.0002", "DLI.0023") or status == 404:
        return NotFoundError(text, **common)
    if status >= 500 or code == "DLI.0999":
        return ServiceError(text, **common)
    return RequestRejectedError(text, **common)
