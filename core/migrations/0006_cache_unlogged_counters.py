"""The database cache's table UNLOGGED, and its counter table (core.cache.DatabaseCache.count)."""

from django.db import migrations

from core.cache import prepare_tables


def forward(apps, schema_editor):
    prepare_tables(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0005_cache_table")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
