"""Stop the embedded PostgreSQL (used by `make test` when it is done)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from config import embedded_db


class Command(BaseCommand):
    help = "Stop the embedded PostgreSQL server, if that is what this configuration uses."

    def handle(self, *args, **options) -> None:
        if not settings.USING_EMBEDDED_DB:
            self.stdout.write("DATABASE_URL is set: nothing to stop")
            return
        connections.close_all()
        embedded_db.stop(settings.EMBEDDED_PGDATA)
        self.stdout.write("stopped")
