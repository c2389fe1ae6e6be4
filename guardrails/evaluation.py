"""Offline evaluation of the guard: recall, false-positive rate, confusion matrix, latency.

Each message goes through exactly what the pipeline does: sanitise (texts over
the length cap are cut to it), embed the normalised question, then
`scoring.score_message`. Embeddings are computed in batches first (the
pipeline embeds each question anyway, for retrieval), so the time reported
per message is the guard's own: heuristics, decoding, the pattern query,
and an extra embedding only when decoding changed the text.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.text import question_key
from guardrails import decoding, scoring, segment_probe, training
from guardrails.dataset import Row

DECISIONS = (scoring.BLOCKED, scoring.FLAGGED, scoring.ALLOWED)
LABELS = ("injection", "benign")


@dataclass
class Outcome:
    row: Row
    text: str
    result: scoring.GuardResult | None  # None: the pipeline would refuse the message as empty
    ms: float
    # CPU time of this process for the message: on a machine shared with other jobs the wall-clock time also
    # counts the waits for a core, which this does not.
    cpu_ms: float = 0.0

    @property
    def decision(self) -> str:
        return self.result.decision if self.result else scoring.ALLOWED

    @property
    def caught(self) -> bool:
        return self.decision in (scoring.BLOCKED, scoring.FLAGGED)


@dataclass
class Tally:
    matrix: dict[str, dict[str, int]] = field(
        default_factory=lambda: {lab: dict.fromkeys(DECISIONS, 0) for lab in LABELS}
    )

    def add(self, outcome: Outcome) -> None:
        self.matrix[outcome.row.label][outcome.decision] += 1

    def n(self, label: str) -> int:
        return sum(self.matrix[label].values())

    def rate(self, label: str, decisions: tuple[str, ...]) -> float | None:
        total = self.n(label)
        return sum(self.matrix[label][d] for d in decisions) / total if total else None

    @property
    def recall(self) -> float | None:
        return self.rate("injection", (scoring.BLOCKED, scoring.FLAGGED))

    @property
    def block_recall(self) -> float | None:
        return self.rate("injection", (scoring.BLOCKED,))

    @property
    def fpr(self) -> float | None:
        return self.rate("benign", (scoring.BLOCKED, scoring.FLAGGED))

    @property
    def block_fpr(self) -> float | None:
        return self.rate("benign", (scoring.BLOCKED,))


@dataclass
class Report:
    outcomes: list[Outcome]
    overall: Tally
    by_source: dict[str, Tally]
    p50_ms: float
    p95_ms: float
    by_family: dict[str, Tally] = field(default_factory=dict)
    family_ms: dict[str, tuple[float, float]] = field(default_factory=dict)  # family → (p50, p95)
    cpu_p50_ms: float = 0.0
    cpu_p95_ms: float = 0.0
    family_cpu_ms: dict[str, tuple[float, float]] = field(default_factory=dict)  # family → CPU (p50, p95)

    def errors(self) -> list[Outcome]:
        """Missed injections and caught benign messages."""
        return [o for o in self.outcomes if o.caught != o.row.is_injection]


def evaluate(rows: list[Row], *, source_name: Callable[[Row], str] | None = None, log=None) -> Report:
    """Score every row as the pipeline would (patterns must be loaded) and tally the results."""
    texts = [training.as_message(r.text) for r in rows]
    keys = [question_key(t) if t else "" for t in texts]
    if log:
        log(f"embedding {len(rows)} messages…")
    vectors = training.embed_keys(keys)
    if log:
        log("scoring…")
    # What a worker does at process start (core.startup warmers): the first message must not carry it.
    decoding.warm()
    segment_probe.warm()
    scoring.warm_patterns()
    outcomes: list[Outcome] = []
    for row, text, vector in zip(rows, texts, vectors, strict=True):
        if not text:
            outcomes.append(Outcome(row, text, None, 0.0))
            continue
        start, cpu_start = time.perf_counter(), time.process_time()
        result = scoring.score_message(text, np.asarray(vector))
        cpu = (time.process_time() - cpu_start) * 1000
        outcomes.append(Outcome(row, text, result, (time.perf_counter() - start) * 1000, cpu))
    name = source_name or (lambda r: r.dataset)
    overall = Tally()
    by_source: dict[str, Tally] = {}
    for o in outcomes:
        overall.add(o)
        by_source.setdefault(name(o.row), Tally()).add(o)
    by_family: dict[str, Tally] = {}
    family_times: dict[str, list[float]] = {}
    family_cpu: dict[str, list[float]] = {}
    for o in outcomes:
        if o.row.family:
            by_family.setdefault(o.row.family, Tally()).add(o)
            if o.result is not None:
                family_times.setdefault(o.row.family, []).append(o.ms)
                family_cpu.setdefault(o.row.family, []).append(o.cpu_ms)
    p50, p95 = percentiles([o.ms for o in outcomes if o.result is not None])
    cpu_p50, cpu_p95 = percentiles([o.cpu_ms for o in outcomes if o.result is not None])
    return Report(
        outcomes,
        overall,
        dict(sorted(by_source.items())),
        p50,
        p95,
        dict(sorted(by_family.items())),
        {name: percentiles(times) for name, times in sorted(family_times.items())},
        cpu_p50,
        cpu_p95,
        {name: percentiles(times) for name, times in sorted(family_cpu.items())},
    )


def percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p95) of the values; (0, 0) for none."""
    times = sorted(values) or [0.0]
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def format_report(report: Report, *, title: str) -> str:
    """The report as plain text (what `manage.py evaluate_guard` prints)."""
    t = report.overall
    lines = [
        title,
        f"messages: {t.n('injection')} injection, {t.n('benign')} benign",
        f"recall (blocked or flagged): {_pct(t.recall)}   block-only recall: {_pct(t.block_recall)}",
        f"false-positive rate (blocked or flagged): {_pct(t.fpr)}   blocked benign: {_pct(t.block_fpr)}",
        "",
        "confusion matrix (rows: label, columns: decision)",
        f"{'':>10} {'blocked':>8} {'flagged':>8} {'allowed':>8}",
    ]
    for label in LABELS:
        if t.n(label):
            lines.append(f"{label:>10} " + " ".join(f"{t.matrix[label][d]:>8}" for d in DECISIONS))
    lines += [
        "",
        "per source",
        f"{'source':<16} {'inj':>5} {'recall':>7} {'block':>7} {'benign':>7} {'FPR':>7} {'blocked':>8}",
    ]
    for name, tally in report.by_source.items():
        lines.append(
            f"{name:<16} {tally.n('injection'):>5} {_pct(tally.recall):>7} {_pct(tally.block_recall):>7} "
            f"{tally.n('benign'):>7} {_pct(tally.fpr):>7} {tally.matrix['benign'][scoring.BLOCKED]:>8}"
        )
    if report.by_family:
        lines += [
            "",
            "per family",
            f"{'family':<20} {'inj':>5} {'recall':>7} {'block':>7} {'benign':>7} {'FPR':>7} {'blocked':>8}"
            f" {'p50 ms':>7} {'p95 ms':>7} {'cpu p50':>7} {'cpu p95':>7}",
        ]
        for name, tally in report.by_family.items():
            p50, p95 = report.family_ms.get(name, (0.0, 0.0))
            cpu50, cpu95 = report.family_cpu_ms.get(name, (0.0, 0.0))
            lines.append(
                f"{name:<20} {tally.n('injection'):>5} {_pct(tally.recall):>7} {_pct(tally.block_recall):>7} "
                f"{tally.n('benign'):>7} {_pct(tally.fpr):>7} {tally.matrix['benign'][scoring.BLOCKED]:>8}"
                f" {p50:>7.2f} {p95:>7.2f} {cpu50:>7.2f} {cpu95:>7.2f}"
            )
    lines += [
        "",
        f"guard time per message (vector given): p50 {report.p50_ms:.2f} ms, p95 {report.p95_ms:.2f} ms",
        f"guard CPU time per message (this process only): p50 {report.cpu_p50_ms:.2f} ms, "
        f"p95 {report.cpu_p95_ms:.2f} ms",
    ]
    return "\n".join(lines)
