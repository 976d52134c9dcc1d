"""The in-memory request log (admin route ``/_emulator/requests``), secrets redacted.

Headers are redacted when the request arrives; bodies are kept as bytes and parsed + redacted
only when the log is read, which keeps the hot path cheap.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 50_000
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


def decode_body(body: bytes) -> Any:
    """The body as parsed JSON with secrets masked; any other body is never logged (it may hold secrets)."""
    if not body:
        return None
    try:
        return _redact_body(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return f"<{len(body)} bytes, not JSON, not logged>"


class RequestLog:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

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
