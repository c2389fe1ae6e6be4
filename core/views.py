"""Health endpoints and the landing page."""

from __future__ import annotations

import sys
import time

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.http import require_GET

from core import embeddings
from core.errors import unavailable


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the process answers. Touches no dependency."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_pgvector() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the vector extension is not installed: run migrations")
    return f"ok ({row[0]})"


def _check_cache() -> str:
    key = "readyz:probe"
    value = str(time.monotonic())
    cache.set(key, value, 10)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return what was stored")
    return "ok"


def _check_broker() -> str:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok" if settings.REDIS_URL or settings.CELERY_BROKER_URL != "filesystem://" else "ok (filesystem)"


def _check_model() -> str:
    if not embeddings.is_loaded():
        raise RuntimeError("the embedding model is not loaded yet")
    return "ok"


_CHECKS = {
    "database": _check_database,
    "pgvector": _check_pgvector,
    "cache": _check_cache,
    "broker": _check_broker,
    "model": _check_model,
}


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: every dependency a chat turn needs answers. 503 names the failing ones."""
    results: dict[str, str] = {}
    ready = True
    for name, check in _CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # each failure is reported, not raised
            ready = False
            results[name] = f"error: {exc}"
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page links: send them to the real icon
    instead of filling the log with 404s."""
    response = HttpResponseRedirect(static("favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. A dependency that is down (the database restarting, the cache or broker gone)
    is a 503 with Retry-After, so clients and proxies retry instead of showing an error page;
    anything else is Django's 500. Under /api/ the body becomes JSON (ApiJsonErrorMiddleware)."""
    error = unavailable(sys.exc_info()[1] or Exception())
    if error is None:
        return defaults.server_error(request)
    response = HttpResponse(f"{error.message}\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(error.extra["retry_after"])
    return response
