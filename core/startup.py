"""Checks run when a process starts, so a bad configuration fails at once
with one line that says what to fix, instead of on the first request."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection


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
