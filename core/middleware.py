"""Request id (taken from X-Request-ID when a proxy sets one, else generated) and JSON errors under /api/."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import code_for_status
from core.logging import request_id_var

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiJsonErrorMiddleware:
    """Under /api/, every error response is JSON {"message", "code"}: a URL that matched nothing
    (a malformed conversation id), a refusal from another middleware, the 500/503 of
    `core.views.server_error`. DRF's own errors are JSON already and pass through untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not request.path.startswith("/api/")
            or response.status_code < 400
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        reason = response.reason_phrase or "Error"
        replaced = JsonResponse(
            {"message": f"{reason}.", "code": code_for_status(response.status_code)}, status=response.status_code
        )
        # Every header the response already carries stays (Retry-After, Allow, and the security headers
        # that middleware inside this one set: CSP, X-Frame-Options, nosniff, Referrer-Policy), and its
        # cookies; only the body and its type change.
        for header, value in response.items():
            if header.lower() not in {"content-type", "content-length"}:
                replaced[header] = value
        replaced.cookies = response.cookies
        return replaced
