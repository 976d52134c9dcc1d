"""The in-memory request log (admin route ``/_emulator/requests``), secrets redacted.

Headers are redacted when the request arrives; bodies are kept as bytes and parsed + redacted
only when the log is read, which keeps the hot path cheap. The log is a ring: the last
``max_entries`` entries, holding at most MAX_BODY_BYTES of bodies in all (the oldest go first), and
no body larger than MAX_LOGGED_BODY nor one the gateway refused (only a marker saying so).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from typing import Any

DEFAULT_LOG_ENTRIES = 50_000
MAX_LOG_ENTRIES = 1_000_000
MAX_BODY_BYTES = 64 * 1024 * 1024  # the bodies of all entries together
MAX_LOGGED_BODY = 1024 * 1024  # a larger body is logged as a marker (a run of 100,000 ids is about 0.8 MB)
MASK = "***"
_SECRET_HEADERS = frozenset(
    {"x-auth-token", "x-subject-token", "x-security-token", "cookie", "proxy-authorization"}
)
_SECRET_KEYS = frozenset({"password", "secret", "sk", "secret_key", "secretkey", "token", "id_token"})
# signing.parse_authorization lower-cases field names and strips blanks around names and values,
# so "signature = abc" is a signature too: mask everything up to the next comma.
_SIGNATURE = re.compile(r"(signature\s*=)\s*[^,]*", re.IGNORECASE)


def redact_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name_b, value_b in raw:
        name = name_b.decode("latin-1").lower()
        value = value_b.decode("latin-1")
        if name in _SECRET_HEADERS:
            value = MASK
        elif name == "authorization":
            # Keep the scheme, AK and signed headers (useful to debug), drop the signature.
            value = _SIGNATURE.sub(r"\1" + MASK, value) if _SIGNATURE.search(value) else MASK
        out[name] = value
    return out


def _mask_all(value: Any) -> Any:
    """Every scalar below a secret-named key masked; the shape is kept (useful to debug)."""
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return MASK


def _redact_body(value: Any) -> Any:
    if isinstance(value, dict):
        # Everything below a secret-named key is masked, whatever its shape: IAM's
        # "token": {"id": …}, hw_ak_sk's "secret": {"key": …} and "password": {"user": {…}} alike.
        return {k: (_mask_all(v) if k.lower() in _SECRET_KEYS else _redact_body(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_body(v) for v in value]
    return value


def decode_body(body: bytes | str) -> Any:
    """The body as parsed JSON with secrets masked; any other body is never logged (it may hold secrets)."""
    if isinstance(body, str):  # already a marker
        return body
    if not body:
        return None
    try:
        return _redact_body(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return f"<{len(body)} bytes, not JSON, not logged>"


def _body_size(entry: dict[str, Any]) -> int:
    body = entry["body"]
    return len(body) if isinstance(body, bytes) else 0


class RequestLog:
    def __init__(self, max_entries: int = DEFAULT_LOG_ENTRIES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._entries: deque[dict[str, Any]] = deque()
        self._max_entries = max_entries
        self._max_body_bytes = max_body_bytes
        self._body_bytes = 0
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        body = entry.get("body")
        if isinstance(body, bytes) and len(body) > MAX_LOGGED_BODY:
            entry["body"] = f"<{len(body)} bytes, larger than {MAX_LOGGED_BODY} bytes, not logged>"
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            self._body_bytes += _body_size(entry)
            while len(self._entries) > self._max_entries or self._body_bytes > self._max_body_bytes:
                evicted = self._entries.popleft()
                self._body_bytes -= _body_size(evicted)
                evicted["body"] = None  # its bytes no longer count: an answer still to come must not subtract them
        return entry

    def forget_body(self, entry: dict[str, Any], why: str) -> None:
        """Keep only a marker of a body the gateway refused (too large, not JSON, unauthenticated…)."""
        with self._lock:
            body = entry["body"]
            if isinstance(body, bytes):
                self._body_bytes -= len(body)
                entry["body"] = f"<{len(body)} bytes, {why}, not logged>" if body else None

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries:
                entry["body"] = None  # an answer still to come must not subtract its bytes again
            self._entries.clear()
            self._body_bytes = 0

    def export(self, since: int = 0) -> list[dict[str, Any]]:
        """The entries (secrets masked), oldest first; with ``since``, only those after that seq."""
        with self._lock:
            entries = [entry for entry in self._entries if entry["seq"] > since] if since else list(self._entries)
        out = []
        for entry in entries:
            item = dict(entry)
            item["headers"] = dict(entry["headers"])
            item["body"] = decode_body(entry["body"])
            out.append(item)
        return out
