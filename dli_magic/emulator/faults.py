"""Switchable faults (the fault JSON of docs/emulator.md), shared by the CLI flags and admin routes.

Counted faults fire on the next ``count`` matching calls (default 1), then disarm (``count`` < 0:
never disarm); ``latency_ms``, ``bool_is_success`` and ``unknown_ids`` stay armed unless given a count.
``rate_limit`` with a count gives that many 429s, then lets every call through.
Without ``path``, a fault matches only DLI API calls (``/v1.0/…``); with ``path`` (a substring) it
may match IAM calls too. Admin routes are never faulted, so a test can always clear faults.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from typing import Any

from .paths import ADMIN_PATH_START, DLI_PATH_START

COUNTED = ("throttle", "error", "html_502", "drop", "short_response")
KNOWN = frozenset(COUNTED + ("rate_limit", "latency_ms", "bool_is_success", "unknown_ids"))


class FaultError(ValueError):
    """A fault document that does not follow the format."""


# Upper bounds: a fault must fire and end (an hour's latency is already far beyond any client timeout).
MAXIMUM = {"ms": 3_600_000, "retry_after": 86_400, "per_second": 1_000_000_000, "missing": 1_000_000_000,
           "status": 599}


def _number(name: str, key: str, value: Any, *, integer: bool = False, minimum: float = 0) -> None:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise FaultError(f"{name}.{key} must be {kind}, not {json.dumps(value)[:40]}")
    maximum = MAXIMUM.get(key, math.inf)
    if (isinstance(value, float) and not math.isfinite(value)) or not minimum <= value <= maximum:
        raise FaultError(f"{name}.{key} must be a finite number from {minimum:g} to {maximum:g}, not {value}")


def _normalise(faults: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The fault document checked and in its long form; FaultError (a ValueError) names what is wrong.

    Every value a fault fires with is checked here, so a bad document is refused when it is set
    (400 on the admin route, exit 2 on the CLI), never accepted and then failing every call.
    """
    if faults is None:
        return {}
    if not isinstance(faults, dict):
        raise FaultError("faults must be a JSON object")
    unknown = set(faults) - KNOWN
    if unknown:
        raise FaultError(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN))}")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in faults.items():
        if spec is None or spec is False:
            continue
        if name == "latency_ms" and isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"ms": spec}
        elif name == "bool_is_success" and spec is True:
            spec = {}
        elif name == "unknown_ids" and isinstance(spec, str):
            spec = {"mode": spec}
        elif name == "rate_limit" and isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"per_second": spec}
        if name == "unknown_ids" and not isinstance(spec, dict):
            raise FaultError(f'unknown_ids must be "item" or "error", not {json.dumps(spec)[:40]}')
        if not isinstance(spec, dict):
            raise FaultError(f"fault {name!r} must be an object, not {json.dumps(spec)[:40]}")
        spec = dict(spec)
        if name == "unknown_ids" and spec.get("mode") not in ("item", "error"):
            raise FaultError('unknown_ids must be "item" or "error" (or {"mode": "item"|"error", …})')
        for key in ("path", "method"):
            if key in spec and not isinstance(spec[key], str):
                raise FaultError(f"{name}.{key} must be a string, not {json.dumps(spec[key])[:40]}")
        if name in COUNTED or "count" in spec:  # latency etc. may be counted too when given a count
            count = spec.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool):
                raise FaultError(f"{name}.count must be an integer (< 0: never disarms), not {json.dumps(count)[:40]}")
            spec["count"] = count
        for key in ("ms", "retry_after"):
            if key in spec:
                _number(name, key, spec[key])
        if "missing" in spec:
            _number(name, "missing", spec["missing"], integer=True)
        if "status" in spec:
            _number(name, "status", spec["status"], integer=True)
        if name == "error" and not 400 <= spec.get("status", 503) <= 599:
            raise FaultError("error.status must be 400..599")
        for key in ("error_code", "error_msg"):
            if key in spec and not isinstance(spec[key], str):
                raise FaultError(f"{name}.{key} must be a string, not {json.dumps(spec[key])[:40]}")
        if name == "rate_limit":
            if "per_second" not in spec:
                raise FaultError("rate_limit.per_second is required")
            _number(name, "per_second", spec["per_second"])
            if spec["per_second"] <= 0:
                raise FaultError("rate_limit.per_second must be positive")
        elif name == "latency_ms" and "ms" not in spec:
            raise FaultError("latency_ms.ms is required")
        out[name] = spec
    return out


class FaultSet:
    def __init__(self, faults: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = _normalise(faults)
        self._window: deque[float] = deque()  # times of calls the rate limit counted (monotonic)

    @property
    def empty(self) -> bool:
        return not self._faults

    def replace(self, faults: dict[str, Any] | None) -> None:
        normalised = _normalise(faults)
        with self._lock:
            self._faults = normalised
            self._window.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {name: dict(spec) for name, spec in self._faults.items()}

    @staticmethod
    def _matches(spec: dict[str, Any], method: str, path: str) -> bool:
        want_path = spec.get("path")
        if want_path is None:
            if not path.startswith(DLI_PATH_START):
                return False
        elif want_path not in path:
            return False
        want_method = spec.get("method")
        return want_method is None or want_method.upper() == method

    def take(self, name: str, method: str, path: str) -> dict[str, Any] | None:
        """The fault's spec if it fires on this call (consuming one count), else None."""
        if not self._faults or path.startswith(ADMIN_PATH_START):
            return None
        with self._lock:
            spec = self._faults.get(name)
            if spec is None or not self._matches(spec, method, path):
                return None
            if "count" in spec:
                if spec["count"] == 0:
                    return None
                if spec["count"] > 0:
                    spec["count"] -= 1
            return dict(spec)

    def over_rate(self, method: str, path: str) -> dict[str, Any] | None:
        """The rate_limit spec if this call exceeds it (sliding 1 s window of wall-clock time)."""
        if not self._faults or path.startswith(ADMIN_PATH_START):
            return None
        with self._lock:
            spec = self._faults.get("rate_limit")
            if spec is None or not self._matches(spec, method, path):
                return None
            now = time.monotonic()
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= spec["per_second"]:
                if "count" in spec:  # with a count: that many 429s, then disarmed (< 0: never)
                    if spec["count"] == 0:
                        return None
                    if spec["count"] > 0:
                        spec["count"] -= 1
                return dict(spec)
            self._window.append(now)
            return None
