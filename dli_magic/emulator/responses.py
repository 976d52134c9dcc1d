"""Answers: JSON bodies, the emulator's error type and the error shapes of the gateway, DLI and IAM."""

from __future__ import annotations

import json
from typing import Any, Mapping

from starlette.responses import Response

from ..contract import ERROR_CODES


class ApiError(Exception):
    """An error answer: HTTP status, error code and message (gateway codes also carry request_id).

    ``body_rejected``: why the request's body was refused as such ("not JSON", "refused by the
    gateway"…); the request log then keeps only a marker with that reason.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        body_rejected: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.body_rejected = body_rejected


def documented_error(code: str, message: str, headers: Mapping[str, str] | None = None, **kwargs: Any) -> ApiError:
    """An ApiError with a documented code and the HTTP status the contract gives it."""
    return ApiError(ERROR_CODES[code][0], code, message, headers, **kwargs)


def bad_parameter(field: str, why: str, *, body_rejected: str = "") -> ApiError:
    return documented_error("DLI.0001", f"Parameter check error: {field} {why}.", body_rejected=body_rejected)


def job_not_found(job_id: int) -> ApiError:
    return documented_error("DLI.16001", f"The job {job_id} does not exist.")


def api_not_found() -> ApiError:
    return documented_error("APIGW.0101", "The API does not exist or has not been published in the environment.")


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=dict(headers or {}))


def error_response(err: ApiError, request_id: str) -> Response:
    payload: dict[str, Any] = {"error_code": err.code, "error_msg": err.message}
    if err.code.startswith("APIGW."):
        payload["request_id"] = request_id
    elif err.code.startswith("IAM."):
        # IAM's own shape, next to the common one so any client finds the message.
        payload["error"] = {"code": err.status, "title": "Unauthorized" if err.status == 401 else "Bad Request",
                            "message": err.message}
    return json_response(err.status, payload, err.headers)
