"""Train the segment probe and choose its flag point on a validation split (guardrails/segment_training.py)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from guardrails import segment_training


class Command(BaseCommand):
    help = "Fit the segment probe (character n-grams) and write guardrails/segment_probe.json and its weights."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print the validation figures, write nothing")

    def handle(self, *args, dry_run: bool, **options) -> None:
        data, weights = segment_training.train(log=self.stderr.write)
        self.stdout.write(json.dumps({k: v for k, v in data.items() if k != "sha256"}, indent=1))
        if not dry_run:
            segment_training.write(data, weights)
            self.stdout.write(f"wrote {segment_training.segment_probe.PROBE_FILE}")
