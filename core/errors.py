"""One domain error type with codes clients can act on, and one API handler."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ErrorCode(StrEnum):
    INVALID = "invalid"
    TOO_LONG = "too_long"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    CONFLICT = "conflict"
    UNSUPPORTED = "unsupported_type"
    TOO_LARGE = "too_large"
    EMPTY = "empty"


_STATUS = {
    ErrorCode.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorCode.EMPTY: status.HTTP_400_BAD_REQUEST,
    ErrorCode.UNSUPPORTED: status.HTTP_400_BAD_REQUEST,
    ErrorCode.TOO_LONG: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorCode.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
}


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.INVALID, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}

    @property
    def http_status(self) -> int:
        return _STATUS.get(self.code, status.HTTP_400_BAD_REQUEST)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API error is JSON {"message", "code"} with the matching status."""
    if isinstance(exc, ApplicationError):
        response = Response({"message": exc.message, "code": str(exc.code), **exc.extra}, status=exc.http_status)
        if exc.code == ErrorCode.RATE_LIMITED and "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail
        message = _first_message(detail)
        response.data = {"message": message, "code": str(ErrorCode.INVALID), "fields": detail}
    elif isinstance(exc, drf_exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = {"message": str(exc.detail), "code": code}
    return response


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)
