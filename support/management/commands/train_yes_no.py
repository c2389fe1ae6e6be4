"""python manage.py train_yes_no [--shops DIR] [--out PATH]"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import embeddings
from core.text import normalize_question
from support.pipeline import polarity
from support.reader import training, yes_no


class Command(BaseCommand):
    help = (
        "Train the yes/no question detector on the training help centres' grounded questions and write its "
        "weights (support/reader/yes_no.json with --out; about a minute)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shops", type=Path, default=training.SHOPS, help="<shop>/questions.jsonl folders")
        parser.add_argument("--out", type=Path, default=settings.VAR_DIR / "models" / "yes_no.json")

    def handle(self, *args, shops: Path, out: Path, **options) -> None:
        if importlib.util.find_spec("sklearn") is None:
            raise CommandError("scikit-learn not installed: pip install -r requirements-dev.txt")
        files = sorted(shops.glob("*/questions.jsonl"))
        if not files:
            raise CommandError(f"no <shop>/questions.jsonl under {shops}")
        start = time.perf_counter()
        questions, labels, groups = [], [], []
        for path in files:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CommandError(f"{path}:{number}: not JSON ({exc.msg})") from None
                if row.get("expected_kind") != "grounded":
                    continue  # a question no article answers says nothing about how answers begin
                questions.append(normalize_question(row["question"]) or row["question"])  # as the turn sees it
                labels.append(row.get("yes_no") is not None)
                groups.append(path.parent.name)
        self.stdout.write(f"{len(questions)} grounded questions from {len(files)} shops; embedding them")
        vectors = [embeddings.embed_query(q) for q in questions]  # as the turn computes its vector
        spec = yes_no.fit(
            vectors,
            labels,
            groups,
            rule=lambda i: polarity.grammar_asks_yes_no(questions[i]),
            veto=lambda i: polarity.opens_with_question_word(questions[i]),
        )
        spec["data"] = shops.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(spec) + "\n")
        self.stdout.write(
            f"leave-one-shop-out accuracy {spec['leave_one_shop_out_accuracy']:.3f}, "
            f"{spec['leave_one_shop_out_accuracy_with_veto']:.3f} with the question-word veto "
            f"(the grammar rule: {spec['grammar_rule_accuracy']:.3f}); "
            f"done in {time.perf_counter() - start:.0f}s: {out}"
        )
