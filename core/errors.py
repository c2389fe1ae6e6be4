"""One domain error type with codes clients can act on, and one API handler."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis import exceptions as redis_exceptions
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
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SERVER_ERROR = "server_error"


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
# The code an error response without one gets (a URL that matched nothing, a middleware's refusal).
_CODE_FOR_STATUS = {
    status.HTTP_400_BAD_REQUEST: ErrorCode.INVALID,
    status.HTTP_403_FORBIDDEN: ErrorCode.FORBIDDEN,
    status.HTTP_404_NOT_FOUND: ErrorCode.NOT_FOUND,
    status.HTTP_405_METHOD_NOT_ALLOWED: ErrorCode.METHOD_NOT_ALLOWED,
    status.HTTP_409_CONFLICT: ErrorCode.CONFLICT,
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: ErrorCode.TOO_LARGE,
    status.HTTP_429_TOO_MANY_REQUESTS: ErrorCode.RATE_LIMITED,
    status.HTTP_503_SERVICE_UNAVAILABLE: ErrorCode.UNAVAILABLE,
}

# A dependency that did not answer: the database (a restart, a failover), the cache or the broker.
# The request may succeed a few seconds later, so the client is told 503 and when to retry, not 500.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    BrokerUnavailable,
)


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.INVALID, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}

    @property
    def http_status(self) -> int:
        return _STATUS.get(self.code, status.HTTP_400_BAD_REQUEST)


def code_for_status(http_status: int) -> str:
    """The error code of a response that came without one."""
    if http_status >= 500 and http_status != status.HTTP_503_SERVICE_UNAVAILABLE:
        return str(ErrorCode.SERVER_ERROR)
    return str(_CODE_FOR_STATUS.get(http_status, ErrorCode.INVALID))


def unavailable(exc: BaseException) -> ApplicationError | None:
    """The 503 for an exception that means a dependency is down, else None."""
    if not isinstance(exc, UNAVAILABLE_ERRORS):
        return None
    return ApplicationError(
        "The service is briefly unavailable; please try again shortly.",
        code=ErrorCode.UNAVAILABLE,
        extra={"retry_after": settings.RETRY_AFTER_UNAVAILABLE_SECONDS},
    )


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API error is JSON {"message", "code"} with the matching status."""
    exc = unavailable(exc) or exc
    if isinstance(exc, ApplicationError):
        response = Response({"message": exc.message, "code": str(exc.code), **exc.extra}, status=exc.http_status)
        if "retry_after" in exc.extra:
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
