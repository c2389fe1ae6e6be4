"""The database cache (the default when REDIS_URL is unset), with `add` and
`incr` made cheap: they are what the chat rate limits run on every turn.

Django's DatabaseCache runs `add` as COUNT + SELECT + INSERT in a savepoint
(five statements) and `incr` as a `get` plus a full `set` (six statements).
Two rate limits per chat turn made that about half of a turn's queries.
Here, on PostgreSQL (Groundwork's only database):

- `add` keeps Django's cull check, then one INSERT ... ON CONFLICT that
  replaces a row only when it has expired (Django's rule for `add`);
- `incr` reads the value and writes the sum back with a compare-and-set
  UPDATE, retried when another process changed it first: no increment is
  lost (Django's get-then-set can lose one), and the key keeps its expiry,
  as with Redis (Django's `set` reset it to the default five minutes).

Counters (`count`) live in a companion table, `<table>_counter`, as integers:
one INSERT ... ON CONFLICT adds one to several counters at once, where
`incr`/`add` on pickled values cost two statements per counter. Both tables
are UNLOGGED (migration core 0006): a cache needs no crash safety, and a
write then skips the WAL flush (after a crash PostgreSQL empties them, which
resets rate-limit windows, the breaker and the LLM retry totals: what a restarted Redis does too).

Everything else is Django's DatabaseCache.
"""

from __future__ import annotations

import base64
import pickle
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router
from django.utils import timezone


class DatabaseCache(DjangoDatabaseCache):
    def __init__(self, table: str, params: dict) -> None:
        super().__init__(table, params)
        # Django counts the whole table before every add to decide whether to cull. The count grows
        # with the table, and a turn adds a key or two; counting at most every few seconds per cache
        # instance keeps the table bounded (MAX_ENTRIES plus what arrives in between) at a fraction
        # of the cost.
        self._cull_check_seconds = float(params.get("OPTIONS", {}).get("CULL_CHECK_SECONDS", 10))
        self._next_cull_check = 0.0
        self._next_counter_sweep = 0.0
        self._counter_table = f"{table}_counter"  # created by migration core 0006

    def _encode(self, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")

    def add(self, key: str, value: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        """Set `key` only if it is absent or expired; True when this call set it."""
        key = self.make_and_validate_key(key, version=version)
        backend_timeout = self.get_backend_timeout(timeout)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        now = timezone.now().replace(microsecond=0)
        if backend_timeout is None:
            expires = datetime.max
        else:
            expires = datetime.fromtimestamp(backend_timeout, tz=UTC if settings.USE_TZ else None)
        expires = connection.ops.adapt_datetimefield_value(expires.replace(microsecond=0))
        with connection.cursor() as cursor:
            # Cull before inserting, as Django does, so the row written below is never culled.
            if time.monotonic() >= self._next_cull_check:
                self._next_cull_check = time.monotonic() + self._cull_check_seconds
                cursor.execute(f"SELECT COUNT(*) FROM {table}")
                num = cursor.fetchone()[0]
                if num > self._max_entries:
                    self._cull(db, cursor, now, num)
            cursor.execute(
                f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s)"
                f" ON CONFLICT (cache_key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires"
                f" WHERE {table}.expires < %s RETURNING 1",
                [key, self._encode(value), expires, connection.ops.adapt_datetimefield_value(now)],
            )
            return cursor.fetchone() is not None

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> Any:
        """Add `delta` atomically; ValueError when the key is absent or expired (like every backend)."""
        full_key = self.make_and_validate_key(key, version=version)
        connection = connections[router.db_for_write(self.cache_model_class)]
        table = connection.ops.quote_name(self._table)
        with connection.cursor() as cursor:
            while True:
                now = connection.ops.adapt_datetimefield_value(timezone.now())
                cursor.execute(f"SELECT value FROM {table} WHERE cache_key = %s AND expires >= %s", [full_key, now])
                row = cursor.fetchone()
                if row is None:
                    raise ValueError(f"Key '{key}' not found.")
                # Our own table, written by this class and Django's: pickled like every cached value.
                new_value = pickle.loads(base64.b64decode(row[0].encode())) + delta  # noqa: S301
                cursor.execute(
                    f"UPDATE {table} SET value = %s WHERE cache_key = %s AND value = %s",
                    [self._encode(new_value), full_key, row[0]],
                )
                if cursor.rowcount == 1:
                    return new_value
                # Another process changed (or culled) the row between the two statements: read it again.

    def clear(self) -> None:
        super().clear()
        with connections[router.db_for_write(self.cache_model_class)].cursor() as cursor:
            cursor.execute(f"DELETE FROM {cursor.db.ops.quote_name(self._counter_table)}")

    def count(self, keys: Sequence[str], timeout: int) -> list[int]:
        """Add one to each counter and return the new values, in one statement.

        A counter that is absent or expired starts again at 1 and expires `timeout` seconds
        from now; a live one keeps its expiry (a fixed window). Expired counters are swept
        at most every CULL_CHECK_SECONDS."""
        if timeout <= 0:
            raise ValueError("a counter needs a positive timeout")
        full = [self.make_and_validate_key(key) for key in keys]
        connection = connections[router.db_for_write(self.cache_model_class)]
        table = connection.ops.quote_name(self._counter_table)
        now = timezone.now()
        with connection.cursor() as cursor:
            if time.monotonic() >= self._next_counter_sweep:
                self._next_counter_sweep = time.monotonic() + self._cull_check_seconds
                # SKIP LOCKED: a row another call holds is left for the next sweep, never waited on.
                cursor.execute(
                    f"DELETE FROM {table} WHERE key IN"
                    f" (SELECT key FROM {table} WHERE expires < %s FOR UPDATE SKIP LOCKED)",
                    [now],
                )
            cursor.execute(
                f"INSERT INTO {table} AS c (key, value, expires)"
                f" SELECT k, 1, %(expires)s FROM unnest(%(keys)s::text[]) AS k"
                f" ON CONFLICT (key) DO UPDATE"
                f" SET value = CASE WHEN c.expires < %(now)s THEN 1 ELSE c.value + 1 END,"
                f" expires = CASE WHEN c.expires < %(now)s THEN EXCLUDED.expires ELSE c.expires END"
                f" RETURNING key, value",
                # One row per distinct key: ON CONFLICT may not touch a row twice in one statement.
                # Sorted: concurrent calls lock shared rows in one order, so they cannot deadlock.
                {"keys": sorted(set(full)), "now": now, "expires": now + timedelta(seconds=timeout)},
            )
            values = dict(cursor.fetchall())
        return [values[key] for key in full]


def count(keys: Sequence[str], timeout: int) -> list[int]:
    """Count one event on each key of the default cache and return the new values; a counter
    that is absent or expired starts at 1 and lives `timeout` seconds (a fixed window).

    On the database cache: one statement for all keys (`DatabaseCache.count`). On any other
    cache (Redis): `incr` per key, with `add` for a window's first event; each is one command."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, DatabaseCache):
        return backend.count(keys, timeout)
    return [_incr_or_start(backend, key, timeout) for key in keys]


def _incr_or_start(backend, key: str, timeout: int) -> int:
    try:
        return backend.incr(key)  # the counter usually exists: every event after a window's first
    except ValueError:
        pass
    if backend.add(key, 1, timeout):
        return 1
    try:
        return backend.incr(key)  # another process added it between our two calls
    except ValueError:  # ...and it expired already
        backend.set(key, 1, timeout)
        return 1
