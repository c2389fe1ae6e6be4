"""Evaluate the input guard on a JSONL file of labelled messages."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from guardrails import evaluation, services
from guardrails.dataset import read_rows, split_of


class Command(BaseCommand):
    help = (
        'Score every row of FILE.jsonl ({"text" or "question", "label": injection|benign}; rows without a label '
        "count as benign) and print recall, false-positive rate, the confusion matrix, a per-source breakdown "
        "and the guard's time per message."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--split",
            choices=["all", "train", "test"],
            default="all",
            help="keep only public-benchmark rows of this part (by their 'source', see guardrails/dataset.py)",
        )
        parser.add_argument("--errors", type=int, default=0, help="print up to N misclassified messages")

    def handle(self, *args, file: Path, split: str, errors: int, **options) -> None:
        if not file.exists():
            raise CommandError(f"{file} does not exist")
        try:
            rows = list(read_rows(file, default_label="benign"))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if split != "all":
            rows = [r for r in rows if split_of(r.source) == split]
        if not rows:
            raise CommandError(f"no rows in {file} for --split {split}")
        added = services.patterns_ensure_loaded()
        if added:
            self.stdout.write(f"loaded {added} seed patterns into the empty pattern table")
        stem = file.stem

        def source_name(row) -> str:
            return row.dataset if row.source else stem

        report = evaluation.evaluate(rows, source_name=source_name, log=self.stderr.write)
        self.stdout.write(evaluation.format_report(report, title=f"{file} (split: {split})"))
        for outcome in report.errors()[:errors]:
            score = outcome.result.score if outcome.result else 0.0
            self.stdout.write(
                f"  {outcome.row.label:>9} {outcome.decision:>7} {score:.2f} "
                f"{outcome.row.source or '-'}: {outcome.text[:100]!r}"
            )
