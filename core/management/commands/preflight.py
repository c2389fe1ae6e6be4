"""Check that the configured services answer; exit non-zero with one line if not."""

from django.core.management.base import BaseCommand

from core.startup import verify_services


class Command(BaseCommand):
    help = "Verify the database and (when configured) Redis are reachable."

    def handle(self, *args, **options) -> None:
        verify_services()
        self.stdout.write("ok")
