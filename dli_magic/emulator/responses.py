"""Answer helpers shared by the routes and the gateway: JSON bodies and the error shapes."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import Response

from .auth import ApiError

# Any such segment is a project (its own namespace); the real ids are 32 hex characters.
PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(err: ApiError, request_id: str) -> Response:
    payload: dict[str, Any] = {"error_code": err.code, "error_msg": err.message}
    if err.code.startswith("APIGW."):
        payload["request_id"] = request_id
    elif err.code.startswith("IAM."):
        # IAM's own shape, next to the common one so any client finds the message.
        payload["error"] = {"code": err.status, "title": "Unauthorized" if err.status == 401 else "Bad Request",
                            "message": err.message}
    return json_response(err.status, payload, err.headers)
