"""The database cache's add and incr (core/cache.py): what the chat rate limits rely on."""

from __future__ import annotations

import base64
import pickle

import pytest
from django.core.cache import cache, caches
from django.db import connection

from core.cache import DatabaseCache

pytestmark = pytest.mark.django_db


def _expire(key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE groundwork_cache SET expires = now() - interval '1 second' WHERE cache_key = %s",
            [cache.make_key(key)],
        )


def _expires(key: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM groundwork_cache WHERE cache_key = %s", [cache.make_key(key)])
        return cursor.fetchone()[0]


def test_the_default_cache_is_ours():
    assert isinstance(caches["default"], DatabaseCache)


def test_add_sets_only_an_absent_or_expired_key():
    assert cache.add("k", 1, 60) is True
    assert cache.add("k", 2, 60) is False
    assert cache.get("k") == 1
    _expire("k")
    assert cache.add("k", 3, 60) is True
    assert cache.get("k") == 3


def test_add_without_timeout_never_expires():
    assert cache.add("forever", "x", None) is True
    assert _expires("forever").year == 9999
    assert cache.get("forever") == "x"


def test_incr_counts_and_keeps_the_expiry():
    cache.add("n", 1, 60)
    expires = _expires("n")
    assert cache.incr("n") == 2
    assert cache.incr("n", 5) == 7
    assert cache.decr("n") == 6
    assert cache.get("n") == 6
    # Unlike Django's get-then-set, the counter's window is not stretched to the default timeout.
    assert _expires("n") == expires


def test_incr_of_a_missing_or_expired_key_raises():
    with pytest.raises(ValueError, match="Key 'missing' not found"):
        cache.incr("missing")
    cache.add("old", 1, 60)
    _expire("old")
    with pytest.raises(ValueError):
        cache.incr("old")


def test_incr_loses_no_increment_when_another_process_writes_in_between():
    cache.add("shared", 1, 60)
    raced = []

    def another_process_increments_first(execute, sql, params, many, context):
        # Between our read (1) and our compare-and-set write, another process makes it 2.
        if sql.startswith("UPDATE") and not raced:
            raced.append(True)
            execute(
                "UPDATE groundwork_cache SET value = %s WHERE cache_key = %s",
                [base64.b64encode(pickle.dumps(2)).decode(), cache.make_key("shared")],
                False,
                context,
            )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(another_process_increments_first):
        assert cache.incr("shared") == 3
    assert raced and cache.get("shared") == 3


def test_add_culls_a_full_table_before_it_inserts():
    small = DatabaseCache(
        "groundwork_cache", {"OPTIONS": {"MAX_ENTRIES": 3, "CULL_FREQUENCY": 2, "CULL_CHECK_SECONDS": 0}}
    )
    for n in range(6):
        assert small.add(f"key{n}", n, 60) is True
        # The row just added survives its own cull.
        assert small.get(f"key{n}") == n
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM groundwork_cache")
        assert cursor.fetchone()[0] <= 4


def test_the_cull_check_runs_at_most_every_few_seconds(django_assert_num_queries):
    timed = DatabaseCache("groundwork_cache", {"OPTIONS": {"MAX_ENTRIES": 3, "CULL_CHECK_SECONDS": 60}})
    with django_assert_num_queries(2):  # the count, then the insert
        timed.add("first", 1, 60)
    with django_assert_num_queries(1):  # within the interval: the insert only
        timed.add("second", 2, 60)


def test_live_counters_survive_hundreds_of_other_keys(settings):
    # Django's default MAX_ENTRIES (300) culled by key order, so a rate-limit counter could vanish
    # (and its limit reset) once a few hundred conversations had keys.
    options = dict(settings.CACHES["default"]["OPTIONS"], CULL_CHECK_SECONDS=0)
    shared = DatabaseCache("groundwork_cache", {"OPTIONS": options})
    shared.add("aaa-ip-counter", 7, 60)
    for n in range(400):
        shared.add(f"conversation-{n}", 1, 60)
    assert shared.get("aaa-ip-counter") == 7


# --- Counters (DatabaseCache.count): the rate limits' one statement per turn -------------------


def _counter_expires(key: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM groundwork_cache_counter WHERE key = %s", [cache.make_key(key)])
        row = cursor.fetchone()
        return row[0] if row else None


def test_count_adds_one_to_several_counters_in_one_statement(django_assert_num_queries):
    counters = DatabaseCache("groundwork_cache", {"OPTIONS": {"CULL_CHECK_SECONDS": 60}})
    assert counters.count(["a", "b"], 60) == [1, 1]  # the first call also sweeps expired counters
    with django_assert_num_queries(1):
        assert counters.count(["a", "b", "c"], 60) == [2, 2, 1]
    with django_assert_num_queries(1):
        assert counters.count(["b"], 60) == [3]


def test_count_keeps_a_live_window_and_restarts_an_expired_one():
    assert cache.count(["w"], 60) == [1]
    opened = _counter_expires("w")
    assert cache.count(["w"], 3600) == [2]
    assert _counter_expires("w") == opened  # a fixed window: later events do not stretch it
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE groundwork_cache_counter SET expires = now() - interval '1 second' WHERE key = %s",
            [cache.make_key("w")],
        )
    assert cache.count(["w"], 60) == [1]
    assert _counter_expires("w") > opened


def test_count_counts_a_key_named_twice_once():
    assert cache.count(["twice", "twice"], 60) == [1, 1]
    assert cache.count(["twice"], 60) == [2]


def test_count_sweeps_expired_counters():
    sweeping = DatabaseCache("groundwork_cache", {"OPTIONS": {"CULL_CHECK_SECONDS": 0}})
    sweeping.count(["old"], 60)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE groundwork_cache_counter SET expires = now() - interval '1 second'")
    sweeping.count(["new"], 60)
    assert _counter_expires("old") is None and _counter_expires("new") is not None


def test_clear_empties_the_counters_too():
    cache.count(["cleared"], 60)
    cache.clear()
    assert _counter_expires("cleared") is None
    assert cache.count(["cleared"], 60) == [1]


def test_count_refuses_a_counter_that_would_never_expire():
    with pytest.raises(ValueError, match="positive timeout"):
        cache.count(["k"], 0)


def test_the_cache_tables_skip_the_write_ahead_log():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relpersistence FROM pg_class"
            " WHERE relname IN ('groundwork_cache', 'groundwork_cache_counter')"
        )
        assert dict(cursor.fetchall()) == {"groundwork_cache": "u", "groundwork_cache_counter": "u"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_counts_lose_no_event():
    import threading
    import uuid

    from django.db import connections

    key = f"race-{uuid.uuid4()}"
    start = threading.Barrier(2)

    def count_many():
        try:
            start.wait()
            for _ in range(40):
                caches["default"].count([key], 60)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=count_many) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert cache.count([key], 60) == [81]
