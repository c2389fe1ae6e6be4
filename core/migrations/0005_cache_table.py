"""The database cache's table, so `migrate` alone leaves a working install."""

from django.core.management import call_command
from django.db import migrations


def create(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_audit_append_only")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
