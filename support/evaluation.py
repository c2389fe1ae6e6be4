"""Offline evaluation of the pipeline on a question set.

Each row of a question set: {"question", "expected_kind", "expected_document", "must_contain": [...]}.
Nothing is recorded: the pipeline runs without a conversation. Replies are scored by the same judge as
the public sets (support.judge: correct, wrong, escalated, reply words).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.choices import ReplyKind as Kind
from core.errors import ApplicationError
from knowledge.models import Chunk
from support.judge import CORRECT, Gold, Verdict, headline_table, judge, tally
from support.pipeline import run
from support.reader import confidence as confidence_model


@dataclass
class Row:
    question: str
    expected_kind: str
    expected_document: str | None
    must_contain: list[str]
    yes_no: str | None = None  # "yes" / "no" where one rule decides: the reply must state it

    @property
    def gold(self) -> Gold:
        """Grounded rows: must_contain are the facts and the expected document must be cited;
        escalated / clarify rows are unanswerable (escalating or clarifying is right there)."""
        if self.expected_kind == Kind.GROUNDED:
            return Gold(
                facts=list(self.must_contain),
                yes_no=self.yes_no,
                cite=[self.expected_document] if self.expected_document else [],
            )
        return Gold(answerable=False, facts=list(self.must_contain))


@dataclass
class RowResult:
    row: Row
    kind: str
    text: str
    cited_documents: list[str]
    retrieved_documents: list[str]
    # The finer outcome the demo report has always shown: correct, incomplete (answered from the
    # expected document, a fact missing), wrong (another document cited, or an unanswerable question
    # answered), missed (answerable, not answered), ok (the expected kind), other_kind, error.
    outcome: str
    reason: str
    ms: float
    verdict: Verdict
    # The probability the answer threshold applied to: P(reply correct) where the reply-confidence gate ran,
    # else the reader's P(answerable) (the name is the older one).
    p_answerable: float | None = None


@dataclass
class Report:
    results: list[RowResult] = field(default_factory=list)

    def _of(self, kind: str) -> list[RowResult]:
        return [r for r in self.results if r.row.expected_kind == kind]

    @property
    def headline(self) -> dict:
        """correct / wrong / escalated / escalated_correctly (counts and shares) and reply words."""
        return tally(r.verdict for r in self.results)

    def table(self) -> str:
        groups = [("all", [r.verdict for r in self.results])]
        for kind in (Kind.GROUNDED, Kind.ESCALATED, Kind.CLARIFY):
            if rows := self._of(kind):
                groups.append((f"expected {kind}", [r.verdict for r in rows]))
        return headline_table(groups)

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
            **self.headline,
            "unanswerable": len(unanswerable),
            "vague": len(vague),
            "retrieval_hit_at_1": share(with_doc, lambda r: r.retrieved_documents[:1] == [r.row.expected_document]),
            "retrieval_hit_at_5": share(with_doc, lambda r: r.row.expected_document in r.retrieved_documents[:5]),
            "answered_correctly": share(answerable, lambda r: r.outcome == "correct"),
            "answered_incomplete": share(answerable, lambda r: r.outcome == "incomplete"),
            "answerable_escalated": share(answerable, lambda r: r.kind in (Kind.ESCALATED, Kind.CLARIFY)),
            "unanswerable_escalated": share(unanswerable, lambda r: r.kind == Kind.ESCALATED),
            "vague_clarified": share(vague, lambda r: r.kind == Kind.CLARIFY),
            # The older, narrower count: another document cited, or an unanswerable question answered.
            # "wrong" above (every answered reply that is not correct) is the one that must reach zero.
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
                    yes_no=_yes_no(data.get("yes_no")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a question row ({exc})") from None
    return rows


def _yes_no(value: object) -> str | None:
    if value in (None, ""):
        return None
    if value not in ("yes", "no"):
        raise ValueError(f"yes_no must be 'yes' or 'no', not {value!r}")
    return str(value)


def row_outcome(row: Row, kind: str, cited: Sequence[str], verdict: Verdict) -> str:
    """The finer demo outcome (see RowResult.outcome), consistent with the verdict."""
    if row.expected_kind == Kind.GROUNDED:
        if not verdict.answered:
            return "missed"
        if verdict.outcome == CORRECT:
            return "correct"
        if row.expected_document and row.expected_document not in cited and kind == Kind.GROUNDED:
            return "wrong"
        return "incomplete"
    if verdict.answered:
        return "wrong"
    return "ok" if kind == row.expected_kind else "other_kind"


def evaluate_row(row: Row) -> RowResult:
    start = time.perf_counter()
    try:
        turn, reply = run.answer(text=row.question)
    except ApplicationError as exc:
        verdict = judge(kind="error", text=exc.message, gold=row.gold)
        return RowResult(row, "error", exc.message, [], [], "error", exc.code, 0.0, verdict)
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
    verdict = judge(kind=reply.kind, text=reply.text, gold=row.gold, cited=cited)
    outcome = row_outcome(row, reply.kind, cited, verdict)
    why = reply.detail or reply.reason
    p = deciding_p(turn.signals)
    return RowResult(row, reply.kind, reply.text, cited, retrieved, outcome, why, ms, verdict, p)


def deciding_p(signals: dict) -> float | None:
    """The probability the answer threshold applies to: the reply-confidence gate's where its weights are
    installed (None where it did not run: nothing was quoted), else the reader's P(answerable)."""
    if confidence_model.load() is not None:
        return (signals.get("confidence") or {}).get("p")
    return (signals.get("reader") or {}).get("p_answerable")


def evaluate(rows: list[Row]) -> Report:
    report = Report()
    for row in rows:
        report.results.append(evaluate_row(row))
    return report


# --- Regressions: accepted corrections must keep their approved answer ------------------------------
