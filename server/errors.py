"""The error hierarchy, and the one JSON shape every REST error takes.

    SparringError                 500 internal_error
    ├── BadRequest                400 bad_request      (malformed JSON, unreadable body)
    ├── Unauthorized              401 unauthorized     (no, bad, expired or revoked credentials)
    ├── Forbidden                 403 forbidden        (authenticated, but the role may not)
    ├── NotFound                  404 not_found        (also: another dealership's resource)
    ├── MethodNotAllowed          405 method_not_allowed
    ├── Conflict                  409 conflict
    ├── PayloadTooLarge           413 payload_too_large
    ├── UnsupportedMediaType      415 unsupported_media_type
    ├── ValidationFailed          422 validation_error (details: per-field list)
    ├── RateLimited               429 rate_limited     (Retry-After header)
    └── ServiceUnavailable        503 service_unavailable (details.retryable; also any lost
                                  dependency, whatever the route: server/outage.py)

Shape: {"error": {"code": str, "message": str, "details": any}}. Handlers in `server.app`
map these, Starlette's HTTPException and anything unexpected onto it; no traceback ever
leaves the process.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class SparringError(Exception):
    status = 500
    code = "internal_error"
    message = "Something went wrong on our side."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        if code:
            self.code = code
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(SparringError):
    status = 400
    code = "bad_request"
    message = "The request could not be read."


class Unauthorized(SparringError):
    status = 401
    code = "unauthorized"
    message = "Authentication required."


class Forbidden(SparringError):
    status = 403
    code = "forbidden"
    message = "You do not have permission to do this."


class NotFound(SparringError):
    status = 404
    code = "not_found"
    message = "Not found."


class MethodNotAllowed(SparringError):
    status = 405
    code = "method_not_allowed"
    message = "Method not allowed."


class Conflict(SparringError):
    status = 409
    code = "conflict"
    message = "Conflict with the current state."


class PayloadTooLarge(SparringError):
    status = 413
    code = "payload_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(SparringError):
    status = 415
    code = "unsupported_media_type"
    message = "Unsupported media type."


class ValidationFailed(SparringError):
    status = 422
    code = "validation_error"
    message = "The request is not valid."


class RateLimited(SparringError):
    status = 429
    code = "rate_limited"
    message = "Too many requests; try again later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message, details={"retry_after": seconds}, headers={"Retry-After": str(seconds)})


class ServiceUnavailable(SparringError):
    status = 503
    code = "service_unavailable"
    message = "A service we depend on is unavailable; try again."


_BY_STATUS: dict[int, type[SparringError]] = {
    cls.status: cls
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict,
                PayloadTooLarge, UnsupportedMediaType, ValidationFailed, ServiceUnavailable)
}


def error_for_status(status: int, message: str | None = None) -> SparringError:
    cls = _BY_STATUS.get(status, SparringError)
    error = cls(message)
    if cls is SparringError:
        error.status = status
    return error


def error_body(code: str, message: str, details: Any = None) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, "details": details}})


def error_response(error: SparringError) -> Response:
    return Response(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )
