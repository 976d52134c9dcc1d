"""HTTP for the client: urllib3 connection pools, proxies and CA bundle read once, failure kinds.

Why urllib3 and not a ``requests.Session``: on a keep-alive call the Session's per-request work
(cookie jars, hooks, merging environment settings, redirect bookkeeping, building a Response)
cost about 0.27 ms, a third of a whole loopback DLI call (benchmarks/, section 2). The client uses
none of it: the DLI API sets no cookies, a redirect must not carry credentials elsewhere, and every
retry is decided (and counted) by the client. What requests did that matters is kept: proxies and
NO_PROXY from the environment, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, certifi's CA bundle by default,
gzip answers. The auth objects (``requests.auth.AuthBase``) sign a ``Request`` the same way they
sign a ``requests.PreparedRequest``.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

# The environment variables a transport reads once, when it is made (proxies and CA bundles).
TRANSPORT_ENV_VARS: tuple[str, ...] = tuple(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    for name in (base, base.lower())
) + ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

# Sent on every call; the auth object adds its own (token, or the AK/SK signature).
BASE_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}


def transport_environment() -> tuple[str | None, ...]:
    """What a new transport would read from the environment: a long-lived caller (the magic) makes
    a new client when this differs from ``client.transport_environment``."""
    from .config import env_values

    return env_values(TRANSPORT_ENV_VARS)


class Request:
    """What an auth object reads and signs: the attributes of ``requests.PreparedRequest`` it uses."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


class Response:
    """A complete answer: status, case-insensitive headers, body bytes (what the client reads of it)."""

    __slots__ = ("status_code", "headers", "content", "url")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes, url: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class Transport:
    """Keep-alive pools for a client's base URLs (the DLI endpoint and IAM), each direct or through
    the proxy the environment names for it. Thread-safe; urllib3 retries and redirects are off."""

    def __init__(self, bases: Iterable[str], *, verify_tls: bool, pool_maxsize: int,
                 connect_timeout: float, read_timeout: float) -> None:
        # One read of the environment: what is used here is what the magic later compares.
        self.environment = transport_environment()
        read = dict(zip(TRANSPORT_ENV_VARS, self.environment))
        bundle = read["REQUESTS_CA_BUNDLE"] or read["CURL_CA_BUNDLE"]
        if verify_tls:
            import certifi  # requests' default trust store: the same answer with either library

            tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
            if bundle and os.path.isdir(bundle):  # a hashed CA directory (e.g. /etc/ssl/certs), as requests allows
                tls["ca_cert_dir"] = bundle
            else:
                tls["ca_certs"] = bundle or certifi.where()
        else:
            tls = {"cert_reqs": "CERT_NONE"}
        options = dict(num_pools=4, maxsize=pool_maxsize, block=False, retries=False, **tls)
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._managers: dict[str, urllib3.PoolManager] = {}
        direct: urllib3.PoolManager | None = None
        for base in bases:
            proxy = proxy_for(base)
            if proxy is None:
                direct = direct or urllib3.PoolManager(**options)
                self._managers[base] = direct
                continue
            try:
                self._managers[base] = _proxy_manager(proxy, options)
            except ValueError:  # e.g. a port that is not a number; the URL may hold a password: not shown
                from .errors import ConfigError

                raise ConfigError(
                    f"The proxy the environment names for {base} is not a valid URL: check HTTPS_PROXY, "
                    "HTTP_PROXY and ALL_PROXY (or exempt the host with NO_PROXY)."
                ) from None

    def send(self, base: str, method: str, url: str, body: bytes | None, headers: dict[str, str],
             auth: Callable[[Request], Any] | None) -> Response:
        """One HTTP exchange; urllib3's exceptions propagate (``classify`` names them)."""
        request = Request(method, url, {**BASE_HEADERS, **headers}, body)
        if auth is not None:
            auth(request)
        try:
            answer = self._managers[base].urlopen(
                method, url, body=body, headers=request.headers, redirect=False, retries=False,
                timeout=self._timeout, preload_content=True, decode_content=True,
            )
        except (ValueError, UnicodeError) as exc:
            if isinstance(exc, urllib3.exceptions.HTTPError):
                raise
            # http.client refuses a header value with a line break or a non-latin-1 character, and
            # its message quotes the value: it may be a token. Nothing was sent.
            from .errors import ConfigError

            raise ConfigError(
                "A request header cannot carry a value of these settings (a line break or a non-ASCII "
                "character in the token, AK or a header value?); copy the credential again. Nothing was sent."
            ) from None
        return Response(answer.status, answer.headers, answer.data, url)

    def close(self) -> None:
        for manager in set(self._managers.values()):
            manager.clear()


def proxy_for(base: str) -> str | None:
    """The proxy URL the environment names for ``base`` (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY), as
    requests would choose it; None for a direct connection."""
    from requests.utils import get_environ_proxies, select_proxy

    return select_proxy(base, get_environ_proxies(base)) or None


def _proxy_manager(proxy: str, options: dict[str, Any]) -> urllib3.PoolManager:
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    headers = None
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = urllib3.make_headers(proxy_basic_auth=credentials)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    url = f"{parts.scheme}://{netloc}"  # credentials go in the header, never in the proxy URL
    if parts.scheme.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            from .errors import ConfigError

            raise ConfigError(
                f"The environment names a SOCKS proxy ({url}); install PySocks (pip install pysocks) to use it."
            ) from None
        return SOCKSProxyManager(proxy if "://" in proxy else url, **options)
    return urllib3.ProxyManager(url, proxy_headers=headers, **options)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
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


# What a failed exchange raises: urllib3's errors, and the OS's when a socket fails outside them.
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)


def classify(exc: BaseException) -> str:
    """"dns" (host not found), "refused" or "connect" (nothing was sent either way), "timeout"
    (read timeout), "tls", "dropped" or "other"."""
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
    # Any other TLS error (a corrupt record mid-answer) is a broken connection: the request may
    # have been read and processed, so it must not be reported as a refused handshake.
    if any(isinstance(e, (ProtocolError, SSLError, ConnectionError, OSError)) for e in chain):
        return "dropped"
    return "other"


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
