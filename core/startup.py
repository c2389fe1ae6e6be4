"""Checks run when a process starts, so a bad configuration fails at once
with one line that says what to fix, instead of on the first request."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from core import embeddings


def verify_database() -> None:
    try:
        connection.ensure_connection()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImproperlyConfigured(f"cannot connect to the database in DATABASE_URL: {first}") from None


def verify_redis() -> None:
    if not settings.REDIS_URL:
        return
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        raise ImproperlyConfigured(
            f"cannot reach Redis at REDIS_URL={settings.REDIS_URL}: {exc}; start Redis or unset REDIS_URL"
        ) from None


def verify_services() -> None:
    verify_database()
    verify_redis()


# Work a process does once at start so no request or task pays for it (word tables, models).
# Apps add theirs in AppConfig.ready(); the web server and each worker process call process_start().
_warmers: list[Callable[[], None]] = []


def register_warmer(warm: Callable[[], None]) -> None:
    if warm not in _warmers:
        _warmers.append(warm)


def process_start(*, ingestion: bool = False) -> None:
    """Fail fast on a bad configuration, then load what every request or task needs."""
    verify_services()
    if settings.EMBEDDING_WARM_AT_START:
        embeddings.warm(ingestion=ingestion)
        for warm in _warmers:
            warm()


def warm_worker_process(**_: object) -> None:
    """Celery's worker_process_init: each worker process loads the models before its first task."""
    process_start(ingestion=True)
