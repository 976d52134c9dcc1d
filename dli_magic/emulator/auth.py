"""Authentication as the API gateway does it: X-Auth-Token (static or IAM-issued) or AK/SK signing.

IAM tokens live in memory only (a restart invalidates them, like a rotated signing key would).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping

from .. import signing
from ..contract import SIGNATURE_MAX_SKEW_SECONDS
from .responses import ApiError, documented_error

DEFAULT_USER = "dli_user"  # the user name jobs get when the caller is not an IAM user
# Headers every AK/SK signature must cover (else a signature could be replayed to another host or time).
REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-sdk-date"})


@dataclass(frozen=True)
class Identity:
    method: str  # "token" | "aksk" | "iam-password"
    user_name: str
    project_id: str | None  # None: valid for every project (static token, AK/SK)


@dataclass(frozen=True)
class IssuedToken:
    user_name: str
    domain: str
    project_id: str
    project_name: str
    expires_ms: int


NO_CREDENTIALS = documented_error(
    "DLI.0013", "X-Auth-Token is not defined in request. It is mandatory. Please define and send the request."
)


class Authenticator:
    def __init__(
        self,
        *,
        now_ms: Callable[[], int],
        token: str | None,
        ak: str | None,
        sk: str | None,
        users: Iterable[tuple[str, str, str]],
        token_ttl: float,
    ) -> None:
        self._now = now_ms
        self._static_token = token
        self._ak = ak
        self._sk = sk
        self._users = [tuple(u) for u in users]
        self._ttl_ms = int(token_ttl * 1000)
        self._issued: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self.default_user = self._users[0][0] if self._users else DEFAULT_USER

    # -- X-Auth-Token ------------------------------------------------------------------------------

    def check_token(self, token: str) -> Identity:
        if self._static_token and hmac.compare_digest(token.encode(), self._static_token.encode()):
            return Identity("token", self.default_user, None)
        with self._lock:
            issued = self._issued.get(token)
        if issued is None:
            raise documented_error("APIGW.0301", "Incorrect IAM authentication information: verify token failed.")
        if issued.expires_ms <= self._now():
            raise documented_error("APIGW.0301", "Incorrect IAM authentication information: the token has expired.")
        return Identity("iam-password", issued.user_name, issued.project_id)

    # -- AK/SK ------------------------------------------------------------------------------------------

    def check_signature(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, authorization: str
    ) -> Identity:
        parsed = signing.parse_authorization(authorization)
        if parsed is None:
            raise documented_error(
                "APIGW.0301", "Incorrect app authentication information: malformed Authorization header."
            )
        signed = {name.strip().lower() for name in parsed["signedheaders"].split(";")}
        if not REQUIRED_SIGNED_HEADERS <= signed:  # the gateway refuses a signature that does not cover them
            raise documented_error(
                "APIGW.0301",
                "Incorrect app authentication information: SignedHeaders must include host and x-sdk-date.",
            )
        date_text = headers.get("x-sdk-date", "")
        try:
            signed_at = signing.parse_sdk_date(date_text)
        except ValueError:
            raise documented_error(
                "APIGW.0303", "Incorrect app authentication information: X-Sdk-Date is missing or invalid."
            )
        skew = abs(signed_at.timestamp() * 1000 - self._now()) / 1000
        if skew > SIGNATURE_MAX_SKEW_SECONDS:
            raise documented_error(
                "APIGW.0303",
                f"Incorrect app authentication information: the request time differs from the server time "
                f"by {int(skew)} s (at most {SIGNATURE_MAX_SKEW_SECONDS} s allowed).",
            )
        if not self._ak or not self._sk or not hmac.compare_digest(parsed["access"].encode(), self._ak.encode()):
            raise documented_error("APIGW.0301", "Incorrect app authentication information: AK not found.")
        if not signing.verify(method, path, query, headers, body, self._sk, parsed):
            raise documented_error(
                "APIGW.0301", "Incorrect app authentication information: signature verification failed."
            )
        return Identity("aksk", self.default_user, None)

    # -- IAM password flow -------------------------------------------------------------------------------

    def issue(self, user: str, password: str, domain: str, project_id: str, project_name: str) -> tuple[str, IssuedToken]:
        """A new token for a known user, or ApiError 401 (same answer for unknown user and bad password)."""
        known = any(
            hmac.compare_digest(u.encode(), user.encode())
            & hmac.compare_digest(p.encode(), password.encode())
            & (d == domain)
            for u, p, d in self._users
        )
        if not known:
            raise ApiError(401, "IAM.0002", "The username or password is wrong.")
        token = "MIIemu" + secrets.token_urlsafe(96)
        issued = IssuedToken(user, domain, project_id, project_name, self._now() + self._ttl_ms)
        with self._lock:
            self._issued[token] = issued
        return token, issued

    @staticmethod
    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
