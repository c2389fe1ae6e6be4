"""The dashboard's reads: roll-ups for finished days, live figures for today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from escalation.models import Escalation
from flows.slots import mask
from insights import metrics
from insights.models import DailyRollup
from knowledge.models import Document
from knowledge.selectors import VersionStats, chunk_search
from support.models import Message


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    channel: str = ""
    document_id: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(
            self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.channel, self.document_id
        )


def period_data(period: Period, *, now=None) -> tuple[dict, list[tuple[date, dict]]]:
    """Merged data for the period and its per-day parts (for the charts).

    Finished days come from roll-ups (one query); today is computed live. A
    document filter has no roll-up, so it is computed live over the range."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if period.document_id:
        start, _ = metrics.day_bounds(period.start)
        _, end = metrics.day_bounds(period.end)
        data = metrics.compute(
            start=start, end=min(end, now), channel=period.channel, document_id=period.document_id, now=now
        )
        return data, []
    channel = period.channel or "all"
    rows = dict(
        DailyRollup.objects.filter(channel=channel, date__gte=period.start, date__lte=min(period.end, today))
        .exclude(date=today)
        .values_list("date", "data")
    )
    days: list[tuple[date, dict]] = []
    day = period.start
    while day <= period.end and day <= today:
        if day == today:
            start, _ = metrics.day_bounds(day)
            days.append((day, metrics.compute(start=start, end=now, channel=period.channel, now=now)))
        elif day in rows:
            days.append((day, rows[day]))
        day += timedelta(days=1)
    return metrics.merge([d for _, d in days]) if days else metrics.merge([]), days


def change(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


def daily_summaries(days: list[tuple[date, dict]]) -> list[tuple[date, dict]]:
    """Each day's charted figures, computed once for all the charts (and only those:
    a year of full summaries would cost more than the whole page may take)."""
    return [(d, metrics.day_figures(data)) for d, data in days]


def series(daily: list[tuple[date, dict]], key) -> list[tuple[date, float | None]]:
    return [(d, key(s)) for d, s in daily]


# --- knowledge ---------------------------------------------------------------------------------------------


@dataclass
class GapCluster:
    size: int
    examples: list[str]
    questions: list[str]
    document_id: int | None
    document_title: str


def knowledge_gaps(*, start, end, threshold: float = 0.72, limit: int = 8, recent: int = 500) -> list[GapCluster]:
    """Questions escalated for lack of an answer, grouped by meaning (greedy
    clustering on the vectors kept at the time), largest first."""
    rows = list(
        Message.objects.filter(role="customer", embedding__isnull=False, created_at__gte=start, created_at__lt=end)
        .order_by("-created_at")
        .values_list("text", "embedding")[:recent]
    )
    if not rows:
        return []
    # The dashboard shows these to curators: e-mail addresses and phone numbers in them are masked.
    texts = [mask(r[0]) for r in rows]
    vectors = np.array([np.asarray(r[1], dtype=np.float32) for r in rows])
    centroids: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, v in enumerate(vectors):
        if centroids:
            sims = np.array([c @ v for c in centroids])
            best = int(sims.argmax())
            if sims[best] >= threshold:
                members[best].append(i)
                c = vectors[members[best]].mean(0)
                centroids[best] = c / (np.linalg.norm(c) or 1)
                continue
        centroids.append(v.copy())
        members.append([i])
    order = sorted(range(len(members)), key=lambda k: -len(members[k]))[:limit]
    clusters = []
    for k in order:
        questions = list(dict.fromkeys(texts[i] for i in members[k]))
        hits = chunk_search(query=questions[0], vector=centroids[k], k=1, min_cosine=0.0)
        clusters.append(
            GapCluster(
                len(members[k]),
                questions[:3],
                questions[:10],
                hits[0].document_id if hits else None,
                hits[0].document_title if hits else "",
            )
        )
    return clusters


def document_citations(data: dict) -> tuple[list[tuple[int, str, int]], list[tuple[int, str]]]:
    """Most-cited documents, and verified documents never cited in the period."""
    counts = {int(k): v for k, v in data.get("cited_documents", {}).items()}
    titles = dict(Document.objects.values_list("id", "title"))
    top = sorted(((d, titles.get(d, f"#{d}"), n) for d, n in counts.items()), key=lambda r: -r[2])[:10]
    never = [
        (d, t) for d, t in Document.objects.filter(status="verified").values_list("id", "title") if d not in counts
    ]
    return top, never


def approved_version_stats(version_ids: list[int]) -> dict[int, VersionStats]:
    """How each version fared: replies given, thumbs, and escalations later in the same conversation."""
    later = Escalation.objects.filter(
        conversation_id=OuterRef("conversation_id"), opened_at__gte=OuterRef("created_at")
    )
    rows = (
        Message.objects.filter(approved_version_id__in=version_ids)
        .annotate(escalated=Exists(later))
        .values("approved_version_id")
        .annotate(
            uses=Count("id"),
            up=Count("id", filter=Q(thumbs=1)),
            down=Count("id", filter=Q(thumbs=-1)),
            esc=Count("id", filter=Q(escalated=True)),
        )
    )
    stats = {r["approved_version_id"]: VersionStats(r["uses"], r["up"], r["down"], r["esc"]) for r in rows}
    return {vid: stats.get(vid, VersionStats(0, 0, 0, 0)) for vid in version_ids}
