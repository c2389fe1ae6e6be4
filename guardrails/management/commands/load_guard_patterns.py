"""Load the seed injection patterns (with their embeddings) into the signature database."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from guardrails import services, training


class Command(BaseCommand):
    help = (
        "Insert the team-written injection patterns (guardrails/seeds/team_patterns.jsonl) that are not in the "
        "table yet; --with-train adds the patterns taken from the public benchmark's train part."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--with-train",
            action="store_true",
            help="also load guardrails/seeds/public_train_patterns.jsonl (the calibration expects them)",
        )

    def handle(self, *args, with_train: bool, **options) -> None:
        team = services.seed_patterns(with_train=False)
        added = services.patterns_load(team)
        self.stdout.write(f"team patterns: {added} added, {len(team) - added} already present")
        if with_train:
            public = training.read_seed_file(training.PUBLIC_TRAIN_FILE)
            added = services.patterns_load(public)
            self.stdout.write(f"public-train patterns: {added} added, {len(public) - added} already present")
