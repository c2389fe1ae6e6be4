"""The database cache's table UNLOGGED, and its counter table (core.cache.DatabaseCache.count).

The SQL is written out here rather than imported, so this migration stays what it was when later
code changes. The default table's counters are always created, so a database first migrated while
the cache was Redis can later run on the database cache (its cache table, made then by
`createcachetable`, stays logged: correct, only without the saved WAL flush).
"""

from django.conf import settings
from django.db import migrations


def _tables() -> list[str]:
    configured = [
        spec["LOCATION"] for spec in settings.CACHES.values() if spec["BACKEND"] == "core.cache.DatabaseCache"
    ]
    return list(dict.fromkeys(["groundwork_cache", *configured]))


def forward(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    for table in _tables():
        counters = f"{table}_counter"
        schema_editor.execute(f"ALTER TABLE IF EXISTS {quote(table)} SET UNLOGGED")
        schema_editor.execute(
            f"CREATE UNLOGGED TABLE IF NOT EXISTS {quote(counters)}"
            " (key varchar(255) PRIMARY KEY, value bigint NOT NULL, expires timestamptz NOT NULL)"
        )
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(counters + '_expires')} ON {quote(counters)} (expires)"
        )


def backward(apps, schema_editor):
    quote = schema_editor.connection.ops.quote_name
    for table in _tables():
        schema_editor.execute(f"DROP TABLE IF EXISTS {quote(table + '_counter')}")
        schema_editor.execute(f"ALTER TABLE IF EXISTS {quote(table)} SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("core", "0005_cache_table")]
    operations = [migrations.RunPython(forward, backward)]
