"""Content-Security-Policy: no inline scripts anywhere; framing only where the
widget lives (the chat page), and only by the configured sites."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


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
    Uploads have their own, larger limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        upload = request.path.startswith("/kb/upload/")
        limit = settings.UPLOAD_MAX_REQUEST_BYTES if upload else settings.MAX_REQUEST_BYTES
        if length > limit:
            from django.http import JsonResponse

            return JsonResponse(
                {"message": f"The request body is {length:,} bytes; the limit is {limit:,}.", "code": "too_large"},
                status=413,
            )
        return self.get_response(request)
