"""`manage.py evaluate_triggers --examples FEWSHOT.jsonl --test TEST.jsonl`: trigger matching on a
public intent set, through the matcher the chat uses.

One temporary flow per intent is built from the example rows ({"text", "intent"}), approved, and
every test message is classified as one flow or none (FLOW_TRIGGER_THRESHOLD, or --threshold). The
flows live in a transaction that is rolled back, so the database is left as it was; the shop's own
approved flows are set aside inside it and take no part. Rows whose intent is "oos" (out of scope)
are right when no flow fires. The last line is JSON:
{"accuracy", "in_scope_accuracy", "oos_recall", "n"}.

`--hold-out N` measures "no flow" on a set without out-of-scope rows: N intents drawn with
`random.Random(--seed)` get no flow, and their test rows count as out of scope.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core import embeddings
from core.text import normalize_question
from flows import selectors, services
from flows.models import FlowVersion

OOS = "oos"


def _rows(path: str) -> list[dict]:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file")
    rows = []
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise CommandError(f"{path}:{n}: not JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("intent"), str):
            raise CommandError(f'{path}:{n}: each line must be {{"text": ..., "intent": ...}}')
        rows.append(row)
    return rows


def _name(intent: str) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", intent.lower()).strip("-")[:60]
    return name if name[:1].isalpha() else f"i-{name}"[:60]


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Trigger accuracy on an intent set: one temporary flow per intent from few-shot examples."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--examples", required=True, help='few-shot rows, JSON lines {"text", "intent"}')
        parser.add_argument("--test", required=True, help="test rows, same format; intent 'oos' = no flow")
        parser.add_argument("--threshold", type=float, default=None, help="default: FLOW_TRIGGER_THRESHOLD")
        parser.add_argument("--limit", type=int, default=0, help="only the first N test rows")
        parser.add_argument("--hold-out", type=int, default=0, help="N intents get no flow; their rows count as oos")
        parser.add_argument("--seed", type=int, default=7, help="which intents --hold-out draws")

    def handle(
        self,
        *args,
        examples: str,
        test: str,
        threshold: float | None,
        limit: int,
        hold_out: int,
        seed: int,
        **options,
    ) -> None:
        shots, tests = _rows(examples), _rows(test)
        if limit:
            tests = tests[:limit]
        if hold_out:
            intents = sorted({r["intent"] for r in shots if r["intent"] != OOS})
            if not 0 < hold_out < len(intents):
                raise CommandError(f"--hold-out must be between 1 and {len(intents) - 1}")
            held = set(random.Random(seed).sample(intents, hold_out))
            shots = [r for r in shots if r["intent"] not in held]
            tests = [{**r, "intent": OOS} if r["intent"] in held else r for r in tests]
        by_intent: dict[str, list[str]] = defaultdict(list)
        for row in shots:
            if row["intent"] != OOS:
                by_intent[row["intent"]].append(row["text"])
        if not by_intent:
            raise CommandError(f"{examples}: no in-scope examples")
        names = {_name(i): i for i in by_intent}
        if len(names) != len(by_intent):
            raise CommandError("two intents give the same flow name")
        base = settings.FLOW_TRIGGER_THRESHOLD if threshold is None else threshold
        started = time.monotonic()
        predicted: list[str | None] = []
        try:
            with transaction.atomic():
                # Only the temporary flows are matched: the shop's approved flows are retired inside
                # the transaction (the rollback restores them).
                FlowVersion.objects.filter(status=FlowVersion.Status.APPROVED).update(status=FlowVersion.Status.RETIRED)
                for name, intent in names.items():
                    version = services.flow_version_create(
                        definition={
                            "name": name,
                            "objective": f"evaluation of {intent}",
                            "triggers": by_intent[intent],
                            "steps": [{"handoff": "evaluation"}],
                        },
                        note="evaluate_triggers",
                    )
                    services.flow_version_approve(version=version)
                build_s = time.monotonic() - started
                # The first match fits the matcher for these flows; timed apart from the messages.
                probe = selectors.trigger_matches(vector=embeddings.embed_query("hello"), threshold=base)
                fit_s = time.monotonic() - started - build_s
                for row in tests:
                    text = row["text"]
                    vector = embeddings.embed_query(normalize_question(text) or text)
                    hit = selectors.trigger_match(vector=vector, threshold=base)
                    predicted.append(names[hit.name] if hit else None)
                raise _Rollback
        except _Rollback:
            pass
        timing = {"build_s": build_s, "fit_s": fit_s, "run_s": time.monotonic() - started - build_s - fit_s}
        self._report(tests, predicted, base, probe[0].threshold, len(names), timing)

    def _report(
        self, tests: list[dict], predicted: list[str | None], base: float, used: float, flows: int, timing: dict
    ) -> None:
        gold = [r["intent"] for r in tests]
        pairs = list(zip(gold, predicted, strict=True))
        in_scope = [(g, p) for g, p in pairs if g != OOS]
        oos = [(g, p) for g, p in pairs if g == OOS]
        right = sum((p is None) if g == OOS else (p == g) for g, p in pairs)
        confusion: dict[str, Counter] = defaultdict(Counter)
        for g, p in in_scope:
            confusion[g][p or "(no flow)"] += 1
        self.stdout.write(f"{'intent':40} {'n':>4} {'right':>6} {'no flow':>8}  most confused with")
        for intent in sorted(confusion):
            counts = confusion[intent]
            n = sum(counts.values())
            wrong = [(k, c) for k, c in counts.most_common() if k not in (intent, "(no flow)")][:2]
            shown = ", ".join(f"{k} ({c})" for k, c in wrong)
            self.stdout.write(f"{intent[:40]:40} {n:>4} {counts[intent]:>6} {counts['(no flow)']:>8}  {shown}")
        fired = [(g, p) for g, p in pairs if p is not None]
        result = {
            "accuracy": round(right / len(pairs), 4) if pairs else None,
            "in_scope_accuracy": round(sum(g == p for g, p in in_scope) / len(in_scope), 4) if in_scope else None,
            "oos_recall": round(sum(p is None for _, p in oos) / len(oos), 4) if oos else None,
            "n": len(pairs),
        }
        self.stdout.write(
            f"threshold {base} ({used:.3f} for {flows} flows); {flows} flows built in {timing['build_s']:.1f} s, "
            f"matcher fitted in {timing['fit_s']:.2f} s; {len(pairs)} messages in {timing['run_s']:.1f} s; "
            f"a flow fired for {len(fired)} ({sum(g == p for g, p in fired)} right), none for {len(pairs) - len(fired)}"
        )
        self.stdout.write(json.dumps(result))
