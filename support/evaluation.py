"""Offline evaluation of the pipeline on a question set.

Each row: {"question", "expected_kind", "expected_document", "must_contain": [...]}.
Nothing is recorded: the pipeline runs without a conversation.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.choices import ReplyKind as Kind
from core.errors import ApplicationError
from knowledge.models import Chunk
from support.pipeline import run


@dataclass
class Row:
    question: str
    expected_kind: str
    expected_document: str | None
    must_contain: list[str]


@dataclass
class RowResult:
    row: Row
    kind: str
    text: str
    cited_documents: list[str]
    retrieved_documents: list[str]
    outcome: str  # correct, incomplete, wrong, missed, escalated_ok, clarify_ok, ...
    reason: str
    ms: float


@dataclass
class Report:
    results: list[RowResult] = field(default_factory=list)

    def _of(self, kind: str) -> list[RowResult]:
        return [r for r in self.results if r.row.expected_kind == kind]

    @property
    def summary(self) -> dict:
        answerable = self._of(Kind.GROUNDED)
        unanswerable = self._of(Kind.ESCALATED)
        vague = self._of(Kind.CLARIFY)
        with_doc = [r for r in answerable if r.row.expected_document]

        def share(items, pred):
            return round(sum(1 for r in items if pred(r)) / len(items), 4) if items else None

        outcomes = Counter(r.outcome for r in self.results)
        return {
            "questions": len(self.results),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "vague": len(vague),
            "retrieval_hit_at_1": share(with_doc, lambda r: r.retrieved_documents[:1] == [r.row.expected_document]),
            "retrieval_hit_at_5": share(with_doc, lambda r: r.row.expected_document in r.retrieved_documents[:5]),
            "answered_correctly": share(answerable, lambda r: r.outcome == "correct"),
            "answered_incomplete": share(answerable, lambda r: r.outcome == "incomplete"),
            "answerable_escalated": share(answerable, lambda r: r.kind in (Kind.ESCALATED, Kind.CLARIFY)),
            "unanswerable_escalated": share(unanswerable, lambda r: r.kind == Kind.ESCALATED),
            "vague_clarified": share(vague, lambda r: r.kind == Kind.CLARIFY),
            "wrong_answers": outcomes.get("wrong", 0),
            "latency_ms_p50": round(statistics.median(r.ms for r in self.results), 1) if self.results else None,
            "outcomes": dict(outcomes),
        }


def load_rows(path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            rows.append(
                Row(
                    question=data["question"],
                    expected_kind=data.get("expected_kind", Kind.GROUNDED),
                    expected_document=data.get("expected_document"),
                    must_contain=list(data.get("must_contain") or []),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a question row ({exc})") from None
    return rows


def _contains(text: str, needle: str) -> bool:
    norm = lambda s: " ".join(s.replace("–", "-").replace("—", "-").lower().split())  # noqa: E731
    return norm(needle) in norm(text)


def evaluate_row(row: Row) -> RowResult:
    start = time.perf_counter()
    try:
        turn, reply = run.answer(text=row.question)
    except ApplicationError as exc:
        return RowResult(row, "error", exc.message, [], [], "error", exc.code, 0.0)
    ms = (time.perf_counter() - start) * 1000
    chunk_ids = [r["chunk_id"] for r in turn.signals.get("retrieved", [])]
    keys = dict(Chunk.objects.filter(id__in=chunk_ids).values_list("id", "version__document__source_key"))
    retrieved = list(dict.fromkeys(keys[c] for c in chunk_ids if c in keys))
    cited_keys = dict(
        Chunk.objects.filter(id__in=[p.chunk_id for p in reply.passages]).values_list(
            "id", "version__document__source_key"
        )
    )
    cited = list(dict.fromkeys(cited_keys[p.chunk_id] for p in reply.passages if p.chunk_id in cited_keys))
    answered = reply.kind in (Kind.GROUNDED, Kind.APPROVED)
    if row.expected_kind == Kind.GROUNDED:
        if not answered:
            outcome = "missed"
        elif all(_contains(reply.text, s) for s in row.must_contain) and (
            not row.expected_document or row.expected_document in cited or reply.kind == Kind.APPROVED
        ):
            outcome = "correct"
        elif row.expected_document and row.expected_document not in cited and reply.kind == Kind.GROUNDED:
            outcome = "wrong"
        else:
            outcome = "incomplete"
    elif answered:
        outcome = "wrong"
    elif reply.kind == row.expected_kind:
        outcome = "ok"
    else:
        outcome = "other_kind"
    why = turn.signals.get("answerability", {}).get("reason", reply.reason)
    return RowResult(row, reply.kind, reply.text, cited, retrieved, outcome, why, ms)


def evaluate(rows: list[Row]) -> Report:
    report = Report()
    for row in rows:
        report.results.append(evaluate_row(row))
    return report


# --- Regressions: accepted corrections must keep their approved answer ------------------------------
