"""The three ways to authenticate a DLI call, as ``requests`` auth objects.

- ``TokenAuth``: a static IAM token in ``X-Auth-Token``.
- ``AkSkAuth``: ``SDK-HMAC-SHA256`` signing (``dli_magic.signing``) of the exact bytes sent.
- ``PasswordAuth``: username/password → IAM token (``POST {iam}/v3/auth/tokens``), cached in memory
  per (IAM endpoint, user, domain, scope) and renewed before it expires.

Every secret these objects hold or obtain is registered with the one scrubber (``redaction``) so
no message or log record can carry it; their reprs show only the scheme.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

import requests

from . import signing
from .config import Settings, default_profile_path, env_var
from .errors import MISSING_CREDENTIALS_HINT, ConfigError, MalformedResponseError, excerpt
from .redaction import REDACTED, register_secrets, scrub

# Renew an IAM token this long before it expires (capped at a tenth of its lifetime for short ones).
RENEW_MARGIN_SECONDS = 300.0


# --- auth objects -------------------------------------------------------------------------------


class TokenAuth(requests.auth.AuthBase):
    scheme = "token"

    def __init__(self, token: str) -> None:
        self._token = token
        register_secrets(token)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self._token
        return r

    def describe_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": f"{REDACTED} (static IAM token)"}

    def invalidate(self) -> bool:
        return False  # nothing to renew: a 401 is final

    def __repr__(self) -> str:
        return f"TokenAuth(token={REDACTED})"


# Transport headers that proxies and http.client may rewrite: signing them buys nothing.
_UNSIGNED = frozenset({"connection", "accept-encoding", "accept", "content-length"})


class AkSkAuth(requests.auth.AuthBase):
    scheme = "aksk"

    def __init__(self, ak: str, sk: str) -> None:
        self.ak = ak
        self._sk = sk
        register_secrets(sk)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        to_sign = {k: v for k, v in r.headers.items() if k.lower() not in _UNSIGNED}
        body = r.body.encode("utf-8") if isinstance(r.body, str) else (r.body or b"")
        # r.url is the URL sent; callers build its query with signing.canonical_query.
        r.headers.update(signing.sign_request(r.method, r.url, to_sign, body, self.ak, self._sk))
        return r

    def describe_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"{signing.ALGORITHM} Access={self.ak}, SignedHeaders=…, Signature={REDACTED}",
            signing.DATE_HEADER: "(time of sending)",
        }

    def invalidate(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"AkSkAuth(ak={self.ak!r}, sk={REDACTED})"


@dataclass
class _CachedToken:
    token: str
    renew_at: float  # time.monotonic() value after which the token is renewed
    expires_at: str | None
    project_id: str | None


_TOKEN_CACHE: dict[tuple[str, ...], _CachedToken] = {}
_CACHE_LOCK = threading.Lock()


def clear_token_cache() -> None:
    with _CACHE_LOCK:
        _TOKEN_CACHE.clear()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# (url, body bytes) -> response; the client supplies it so IAM calls share its session and retries.
IamPost = Callable[[str, bytes], requests.Response]


class PasswordAuth(requests.auth.AuthBase):
    scheme = "password"

    def __init__(
        self,
        iam_endpoint: str,
        username: str,
        password: str,
        domain: str | None,
        *,
        project_id: str | None,
        project_name: str | None,
        post: IamPost,
    ) -> None:
        if not (project_id or project_name):
            raise ConfigError(
                f"Password login needs a project scope: set {env_var('region')} (e.g. eu-de) or "
                f"{env_var('project_id')}."
            )
        self.iam_endpoint = iam_endpoint.rstrip("/")
        self.username = username
        self.domain = domain or username  # an account's own login: domain name == user name
        self._password = password
        self._project_id = project_id
        self._project_name = project_name
        self._post = post
        self._lock = threading.Lock()
        register_secrets(password)
        scope = f"id:{project_id}" if project_id else f"name:{project_name}"
        # The password's digest is in the key so a changed password never reuses an old token.
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        self._key = (self.iam_endpoint, username, self.domain, scope, digest)
        self.fetches = 0  # IAM token requests made by this object

    @property
    def token_url(self) -> str:
        return f"{self.iam_endpoint}/v3/auth/tokens"

    def _body(self) -> bytes:
        project = {"id": self._project_id} if self._project_id else {"name": self._project_name}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "password": self._password,
                            "domain": {"name": self.domain},
                        }
                    },
                },
                "scope": {"project": project},
            }
        }
        return json.dumps(body).encode("utf-8")

    def _fetch(self) -> _CachedToken:
        self.fetches += 1
        response = self._post(self.token_url, self._body())
        token = response.headers.get("X-Subject-Token")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not token:
            raise MalformedResponseError(
                f"IAM answered HTTP {response.status_code} without an X-Subject-Token header: "
                f"{excerpt(scrub(response.text))}",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
            )
        register_secrets(token)
        info = data.get("token", {}) if isinstance(data, dict) else {}
        info = info if isinstance(info, dict) else {}
        expires = _parse_time(info.get("expires_at"))
        issued = _parse_time(info.get("issued_at")) or datetime.now(timezone.utc)
        # Lifetime from the server's own clock pair, so client/server clock skew does not matter.
        lifetime = (expires - issued).total_seconds() if expires else 3600.0
        margin = min(RENEW_MARGIN_SECONDS, max(lifetime, 0.0) / 10)
        project = info.get("project") if isinstance(info.get("project"), dict) else {}
        return _CachedToken(
            token=token,
            renew_at=time.monotonic() + lifetime - margin,
            expires_at=info.get("expires_at"),
            project_id=project.get("id") or self._project_id,
        )

    def current(self) -> _CachedToken:
        """A valid token, from the cache when it is not about to expire."""
        with self._lock:
            with _CACHE_LOCK:
                cached = _TOKEN_CACHE.get(self._key)
            if cached is not None and time.monotonic() < cached.renew_at:
                return cached
            fresh = self._fetch()
            with _CACHE_LOCK:
                _TOKEN_CACHE[self._key] = fresh
            return fresh

    @property
    def project_id(self) -> str | None:
        """The project id IAM reported for the token's scope (None if it did not say)."""
        return self.current().project_id

    def invalidate(self) -> bool:
        """Drop the cached token (after a 401); True: a retry with a fresh token makes sense."""
        with _CACHE_LOCK:
            _TOKEN_CACHE.pop(self._key, None)
        return True

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self.current().token
        return r

    def describe_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": f"{REDACTED} (IAM token for user {self.username!r}, domain {self.domain!r})"}

    def __repr__(self) -> str:
        return (
            f"PasswordAuth(iam={self.iam_endpoint!r}, user={self.username!r}, domain={self.domain!r}, "
            f"password={REDACTED})"
        )


def missing_credentials_message(settings: Settings) -> str:
    """Where credentials can come from. Never %dli_config / %config: both refuse secrets."""
    partial = ""
    if settings.ak and not settings.sk:
        partial = f" ({env_var('ak')} is set but {env_var('sk')} is not.)"
    elif settings.sk and not settings.ak:
        partial = f" ({env_var('sk')} is set but {env_var('ak')} is not.)"
    elif settings.username and not settings.password:
        partial = f" ({env_var('username')} is set but {env_var('password')} is not.)"
    return (
        f"No DLI credentials: in a notebook run %dli_login; or set {env_var('auth_token')}, or "
        f"{env_var('ak')} + {env_var('sk')}, or {env_var('username')} + {env_var('password')} "
        f"(+ {env_var('domain')}) in the environment; or auth_token, ak + sk, or username + password "
        f"in the profile file {default_profile_path()}.{partial}"
    )


def make_auth(settings: Settings, *, iam_endpoint: str | None, post: IamPost):
    """The credential kind ``settings.auth_method()`` picks (the highest layer holding a complete
    token, AK/SK pair or user + password); none → ConfigError."""
    method = settings.auth_method()
    if method == "token":
        return TokenAuth(settings.auth_token)  # type: ignore[arg-type]
    if method == "aksk":
        return AkSkAuth(settings.ak, settings.sk)  # type: ignore[arg-type]
    if method == "password":
        if not iam_endpoint:
            raise ConfigError(f"Password login needs an IAM endpoint: set {env_var('iam_endpoint')} or {env_var('region')}.")
        return PasswordAuth(
            iam_endpoint,
            settings.username,  # type: ignore[arg-type]
            settings.password,  # type: ignore[arg-type]
            settings.domain,
            project_id=settings.project_id,
            project_name=settings.region,
            post=post,
        )
    raise ConfigError(missing_credentials_message(settings), hint=MISSING_CREDENTIALS_HINT)


def secret_values(settings: Settings) -> Iterable[str]:
    return [v for v in (settings.auth_token, settings.sk, settings.password) if v]
