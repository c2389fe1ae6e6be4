"""Content-Security-Policy: no inline scripts anywhere; framing only where the
widget lives (the chat page), and only by the configured sites."""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        embeddable = getattr(response, "xframe_options_exempt", False)
        ancestors = " ".join(["'self'", *settings.WIDGET_ALLOWED_ORIGINS]) if embeddable else "'none'"
        # Django's admin uses a few inline style attributes; our own pages use none.
        style = "'self' 'unsafe-inline'" if request.path.startswith("/admin/") else "'self'"
        response["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; "
            f"style-src {style}; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; "
            f"frame-ancestors {ancestors}"
        )
        return response


class RequestSizeLimitMiddleware:
    """Refuse oversized bodies before anything reads them: 413 with a JSON error.
    Uploads have their own, larger limit.

    A chunked body (`Transfer-Encoding: chunked`, no Content-Length) would otherwise be read as
    empty: Django reads CONTENT_LENGTH bytes. Where the server de-chunks it, it is read here, at
    most MAX_REQUEST_BYTES + 1 bytes on every path, and handed on with its length, so it is parsed
    like any other body and held to the same limit. The upload limit is for bodies that say their
    length (browsers always do): a chunked one is read into memory before anyone is authenticated,
    so it never gets more than the small limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        upload = request.path.startswith("/kb/upload/")
        limit = settings.UPLOAD_MAX_REQUEST_BYTES if upload else settings.MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        # wsgi.input_terminated (gunicorn sets it): the server de-chunks and ends the stream, so reading
        # to the end is safe; a server without it would hand over the raw, unterminated socket.
        if chunked and not length and request.META.get("wsgi.input_terminated"):
            limit = settings.MAX_REQUEST_BYTES
            body = request.META["wsgi.input"].read(limit + 1)
            length = len(body)
            if length <= limit:
                request._stream = LimitedStream(io.BytesIO(body), length)  # type: ignore[attr-defined]
                request.META["CONTENT_LENGTH"] = str(length)
        if length > limit:
            shown = f"over {limit:,}" if chunked else f"{length:,}"
            return JsonResponse(
                {"message": f"The request body is {shown} bytes; the limit is {limit:,}.", "code": "too_large"},
                status=413,
            )
        return self.get_response(request)
