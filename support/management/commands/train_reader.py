"""python manage.py train_reader [--out PATH] [--report-test] [--cache DIR] [--data DIR]"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from support.reader import training


class Command(BaseCommand):
    help = (
        "Train the reader (sentence ranker + calibrated answerability) on doc2dial and write its model JSON. "
        "The committed weights are refreshed with --out support/reader/model.json (make reader)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # A plain retrain writes under var/, so it never overwrites the committed weights by accident.
        parser.add_argument("--out", type=Path, default=settings.VAR_DIR / "models" / "reader.json")
        parser.add_argument(
            "--report-test", action="store_true", help="also print the held-out test figures (reporting only)"
        )
        parser.add_argument("--cache", type=Path, help="keep the parsed and embedded corpus here for the next run")
        parser.add_argument("--data", type=Path, default=training.DEFAULT_DATA, help="the doc2dial folder")
        parser.add_argument("--split", type=Path, default=training.SPLIT_PATH, help="the document split (JSON)")
        parser.add_argument(
            "--no-later-turns",
            action="store_true",
            help="train on the dialogues' first turns only (without support/reader/data/doc2dial_later_turns.jsonl)",
        )
        parser.add_argument(
            "--shops",
            type=Path,
            help="also train on help centres written as training data (<shop>/kb/*.md + questions.jsonl), "
            f"e.g. {training.SHOPS.relative_to(settings.BASE_DIR)}; the committed weights were trained without them",
        )

    def handle(
        self,
        *args,
        out: Path,
        report_test: bool,
        cache: Path | None,
        data: Path,
        split: Path,
        no_later_turns: bool,
        shops: Path | None,
        **options,
    ) -> None:
        try:
            training.check_data(data, split)
        except training.DataMissing as exc:
            raise CommandError(str(exc)) from None
        missing = [m for m in ("lightgbm", "sklearn") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(f"{' and '.join(missing)} not installed: pip install -r requirements-dev.txt")
        start = time.perf_counter()

        def log(line: str) -> None:
            self.stdout.write(f"[{time.perf_counter() - start:6.1f}s] {line}")
            self.stdout.flush()

        later = None if no_later_turns else training.LATER_TURNS
        result = training.run(
            out,
            data_dir=data,
            split_path=split,
            cache_dir=cache,
            report=report_test,
            log=log,
            later_turns=later,
            shops=shops,
        )
        threshold = result["model"]["threshold"]
        self.stdout.write(f"answer threshold on P(answerable): {threshold:.4f} (chosen on the calib split)")
        self.stdout.write(f"done in {time.perf_counter() - start:.0f}s: {out}")
