"""Request bodies from strangers: read within a size limit, parse as JSON within limits.

A body the gateway or a handler refuses as such (too large, not JSON, nested too deeply, an integer
beyond 64 bits) is never kept in the request log.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from starlette.requests import Request

    from .responses import ApiError

# The API gateway's documented cap on a request body (dli-api.md section 1: 12 MB).
DEFAULT_MAX_BODY_BYTES = 12 * 1024 * 1024
MAX_DEPTH = 32  # the API's deepest body is 5 levels (IAM's auth document)
MAX_INTEGER_DIGITS = 20  # 2^64 has 20 digits: anything longer cannot be a 64-bit id or count
# Bodies larger than this are parsed off the event loop, so one huge call does not stall the others.
PARSE_INLINE_BYTES = 256 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class BadBody(ValueError):
    """A body that is not acceptable JSON; the message says why, for a 400."""


async def read_body(receive: Callable[[], Awaitable[dict]], headers: dict[str, str], limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to exceed ``limit`` (nothing more is kept;
    uvicorn discards what the client still sends once the answer is complete)."""
    declared = headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    raise BadBody(f"holds {name}, which is not JSON")


def _checked_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise BadBody(f"holds an integer of {len(text.lstrip('-'))} digits (at most {MAX_INTEGER_DIGITS}: 64 bits)")
    return int(text)


def _checked_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadBody(f"holds a number too large for a double: {text[:40]}")
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """True if containers nest deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, (dict, list)))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return False


def parse_json(body: bytes) -> Any:
    """The body as JSON, or BadBody naming what is wrong (empty, not UTF-8, not JSON, NaN/Infinity,
    an integer beyond 64 bits, nesting deeper than MAX_DEPTH)."""
    if not body.strip():
        raise BadBody("is empty; a JSON object is required")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_int=_checked_int, parse_float=_checked_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadBody(f"is nested more than {MAX_DEPTH} levels deep") from None
    except BadBody:
        raise
    except json.JSONDecodeError as exc:
        raise BadBody(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # a number int() or float() refuses
        raise BadBody(f"is not valid JSON ({str(exc)[:80]})") from None
    # Cheap first: without that many brackets the body cannot nest that deep.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth_over(value, MAX_DEPTH):
        raise BadBody(f"is nested more than {MAX_DEPTH} levels deep")
    return value


async def request_json(request: "Request", refuse: Callable[[str], "ApiError"]) -> Any:
    """The request's body as JSON; ``refuse(why)`` makes the error answer for a bad one."""
    body: bytes = request.state.body
    try:
        if len(body) > PARSE_INLINE_BYTES:
            return await asyncio.to_thread(parse_json, body)
        return parse_json(body)
    except BadBody as exc:
        error = refuse(str(exc))
        error.body_rejected = "not JSON"
        raise error from None
