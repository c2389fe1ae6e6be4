"""Write the guard's development set by attack family (guardrails/devset.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from guardrails import devset


class Command(BaseCommand):
    help = "Rebuild guardrails/data/dev_families.jsonl from the segment probe's validation split and team text."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"wrote {devset.write()} rows to {devset.DEV_FILE}")
