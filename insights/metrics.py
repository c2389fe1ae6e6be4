"""What the dashboard shows, computed from recorded conversations.

One set of definitions, used both by the nightly roll-up of a finished day and
by the live figures for today, so the two can never disagree:

- a conversation is *escalated* when a person was asked to take it over;
- it is *resolved by a person* when its escalation was resolved (time: from
  the first message to the escalation's resolution);
- it is *resolved by the bot* when it was not escalated and either the
  customer rated it well (a thumbs-up, or 4-5 stars) or the customer left after
  a grounded or approved answer without asking further (time: from the first
  message to that last answer);
- a conversation whose flow met its objective (a completed flow run) and
  that was not escalated is *resolved by the bot* too (time: to the flow's end);
- *containment* is the share resolved by the bot.

Samples (resolution times, latencies) are kept exactly while they are few
and as log-spaced histograms when they are many; percentiles come from
whichever is there.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from escalation.models import Escalation
from support.models import Citation, Conversation, FlowRun, Message

EXACT_LIMIT = 2000
SECONDS_BUCKETS = [5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400, 172800]
MS_BUCKETS = [5, 10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000]
GOOD_RATING = 4


# --- samples --------------------------------------------------------------------------------------------


def sample(values: list[float], buckets: list[float]) -> dict:
    """Always a histogram (cheap to add up over a year); the exact values too while few."""
    out: dict = {"hist": _hist(values, buckets), "n": len(values)}
    if len(values) <= EXACT_LIMIT:
        out["values"] = sorted(round(v, 3) for v in values)
    return out


def _hist(values: list[float], buckets: list[float]) -> list[int]:
    counts = [0] * (len(buckets) + 1)
    for v in values:
        counts[bisect.bisect_left(buckets, v)] += 1
    return counts


def merge_samples(parts: list[dict], buckets: list[float]) -> dict:
    """Exact while the values are few (a day, a month); histograms beyond (a year)."""
    total = sum(sample_count(p) for p in parts)
    if total <= EXACT_LIMIT and all("values" in p for p in parts):
        return {"values": sorted(v for p in parts for v in p["values"]), "n": total}
    counts = [0] * (len(buckets) + 1)
    for p in parts:
        part = p.get("hist") or _hist(p.get("values", []), buckets)
        counts = [a + b for a, b in zip(counts, part, strict=True)]
    return {"hist": counts, "n": sum(counts)}


def percentile(s: dict, q: float, buckets: list[float]) -> float | None:
    """q in [0, 1]. Exact (linear interpolation) on values, interpolated within a bucket on histograms."""
    if "values" in s and (s.get("n") is None or len(s["values"]) == s.get("n")):
        values = s["values"]
        if not values:
            return None
        pos = q * (len(values) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)
    counts = s.get("hist") or []
    total = sum(counts)
    if not total:
        return None
    target = q * total
    seen = 0
    for i, count in enumerate(counts):
        if seen + count >= target and count:
            lower = buckets[i - 1] if i > 0 else 0.0
            upper = buckets[i] if i < len(buckets) else buckets[-1] * 2
            return lower + (upper - lower) * ((target - seen) / count)
        seen += count
    return float(buckets[-1])


def sample_count(s: dict) -> int:
    return int(s["n"]) if "n" in s else len(s.get("values", []))


# --- facts per conversation -------------------------------------------------------------------------------


@dataclass
class Facts:
    channel: str
    escalated: bool
    reasons: list[str]
    resolved_by: str | None  # "bot", "human" or None
    resolution_seconds: float | None
    tokens: int


def conversations(*, start: datetime, end: datetime, channel: str = "", document_id: int | None = None) -> QuerySet:
    qs = Conversation.objects.filter(created_at__gte=start, created_at__lt=end)
    if channel:
        qs = qs.filter(channel=channel)
    if document_id:
        qs = qs.filter(messages__citations__version__document_id=document_id).distinct()
    return qs.prefetch_related(
        Prefetch(
            "messages",
            queryset=Message.objects.order_by("created_at", "id").only(
                "id", "conversation_id", "role", "kind", "thumbs", "created_at", "tokens_in", "tokens_out"
            ),
        ),
        Prefetch(
            "escalations",
            queryset=Escalation.objects.order_by("opened_at").only(
                "id", "conversation_id", "reason", "status", "resolved_at", "opened_at"
            ),
        ),
        Prefetch(
            "flow_runs",
            queryset=FlowRun.objects.filter(status=FlowRun.Status.COMPLETED)
            .order_by("ended_at")
            .only("id", "conversation_id", "status", "ended_at"),
        ),
    )


def facts_for(conversation: Conversation, now: datetime) -> Facts:
    messages = list(conversation.messages.all())
    escalations = list(conversation.escalations.all())
    tokens = sum(m.tokens_in + m.tokens_out for m in messages)
    start = messages[0].created_at if messages else conversation.created_at
    resolved_by, seconds = None, None
    if escalations:
        done = [e for e in escalations if e.status == "resolved" and e.resolved_at]
        if done:
            resolved_by, seconds = "human", (done[-1].resolved_at - start).total_seconds()
    else:
        bot = [m for m in messages if m.role == Message.Role.BOT]
        liked = next((m for m in bot if m.thumbs == 1), None)
        ended = conversation.status == Conversation.Status.CLOSED or (
            now - conversation.last_activity_at > timedelta(seconds=settings.CHAT_INACTIVITY_TIMEOUT_SECONDS)
        )
        last = messages[-1] if messages else None
        completed = [r for r in conversation.flow_runs.all() if r.ended_at is not None]
        if completed:  # a flow met its objective: a resolution
            resolved_by, seconds = "bot", (completed[0].ended_at - start).total_seconds()
        elif liked is not None or (conversation.rating or 0) >= GOOD_RATING:
            resolved_by = "bot"
            seconds = ((liked or last).created_at - start).total_seconds() if (liked or last) else 0.0
        elif ended and last is not None and last.role == Message.Role.BOT and last.kind in ("grounded", "approved"):
            resolved_by, seconds = "bot", (last.created_at - start).total_seconds()
    return Facts(
        conversation.channel,
        bool(escalations),
        [e.reason for e in escalations],
        resolved_by,
        max(0.0, seconds) if seconds is not None else None,
        tokens,
    )


# --- one period's data -------------------------------------------------------------------------------------


def compute(
    *, start: datetime, end: datetime, channel: str = "", document_id: int | None = None, now: datetime | None = None
) -> dict:
    """Everything the dashboard needs for [start, end), as a mergeable dict."""
    now = now or timezone.now()
    convs = list(conversations(start=start, end=end, channel=channel, document_id=document_id))
    facts = [facts_for(c, now) for c in convs]
    reasons: Counter[str] = Counter()
    for f in facts:
        reasons.update(set(f.reasons))
    bot_times = [f.resolution_seconds for f in facts if f.resolved_by == "bot" and f.resolution_seconds is not None]
    human_times = [f.resolution_seconds for f in facts if f.resolved_by == "human" and f.resolution_seconds is not None]
    ids = [c.pk for c in convs]
    replies = Message.objects.filter(conversation_id__in=ids, role=Message.Role.BOT)
    by_kind: Counter[str] = Counter()
    up: Counter[str] = Counter()
    down: Counter[str] = Counter()
    retries = suppressed = flagged = fallbacks = 0
    turn_ms: list[float] = []
    stage_ms: dict[str, list[float]] = defaultdict(list)
    for kind, thumbs, attempts, reason, latency, stages, signals in replies.values_list(
        "kind", "thumbs", "attempts", "reason", "latency_ms", "stage_ms", "signals"
    ):
        by_kind[kind] += 1
        if thumbs == 1:
            up[kind] += 1
        elif thumbs == -1:
            down[kind] += 1
        retries += max(0, attempts - 1)
        suppressed += reason == "output_check"
        flagged += bool((signals or {}).get("guard", {}).get("decision") == "flagged")
        fallbacks += "llm_fallback" in (signals or {})
        if stages:
            turn_ms.append(float(latency))
            for stage, ms in stages.items():
                stage_ms[stage].append(float(ms))
    ratings = Counter(c.rating for c in convs if c.rating)
    comments = [{"rating": c.rating, "comment": c.rating_comment[:500]} for c in convs if c.rating_comment][:50]
    cited = Counter(
        Citation.objects.filter(message__conversation_id__in=ids).values_list("version__document_id", flat=True)
    )
    resolved_tokens = sum(f.tokens for f in facts if f.resolved_by)
    return {
        "conversations": len(facts),
        "escalated": sum(f.escalated for f in facts),
        "escalations_by_reason": dict(reasons),
        "resolved_bot": sum(f.resolved_by == "bot" for f in facts),
        "resolved_human": sum(f.resolved_by == "human" for f in facts),
        "resolution_bot_s": sample(bot_times, SECONDS_BUCKETS),
        "resolution_human_s": sample(human_times, SECONDS_BUCKETS),
        "replies_by_kind": dict(by_kind),
        "thumbs_up_by_kind": dict(up),
        "thumbs_down_by_kind": dict(down),
        "ratings": {str(k): v for k, v in ratings.items()},
        "comments": comments,
        "tokens": sum(f.tokens for f in facts),
        "tokens_resolved": resolved_tokens,
        "retries": retries,
        "llm_fallbacks": fallbacks,
        "blocked": by_kind.get("blocked", 0),
        "flagged": flagged,
        "suppressed": suppressed,
        "turn_ms": sample(turn_ms, MS_BUCKETS),
        "stage_ms": {k: sample(v, MS_BUCKETS) for k, v in stage_ms.items()},
        "cited_documents": {str(k): v for k, v in cited.items()},
    }


def merge(parts: list[dict]) -> dict:
    """Add up several periods' data (days of roll-ups plus today's live figures)."""
    out: dict = {}
    counters = (
        "escalations_by_reason",
        "replies_by_kind",
        "thumbs_up_by_kind",
        "thumbs_down_by_kind",
        "ratings",
        "cited_documents",
    )
    scalars = (
        "conversations",
        "escalated",
        "resolved_bot",
        "resolved_human",
        "tokens",
        "tokens_resolved",
        "retries",
        "llm_fallbacks",
        "blocked",
        "flagged",
        "suppressed",
    )
    for key in scalars:
        out[key] = sum(p.get(key, 0) for p in parts)
    for key in counters:
        total: Counter = Counter()
        for p in parts:
            total.update(p.get(key, {}))
        out[key] = dict(total)
    out["comments"] = [c for p in parts for c in p.get("comments", [])][-50:]
    out["resolution_bot_s"] = merge_samples([p.get("resolution_bot_s", {"values": []}) for p in parts], SECONDS_BUCKETS)
    out["resolution_human_s"] = merge_samples(
        [p.get("resolution_human_s", {"values": []}) for p in parts], SECONDS_BUCKETS
    )
    out["turn_ms"] = merge_samples([p.get("turn_ms", {"values": []}) for p in parts], MS_BUCKETS)
    stages = {s for p in parts for s in p.get("stage_ms", {})}
    out["stage_ms"] = {
        s: merge_samples([p.get("stage_ms", {}).get(s, {"values": []}) for p in parts], MS_BUCKETS)
        for s in sorted(stages)
    }
    return out


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summary(data: dict) -> dict:
    """The headline figures of a (merged) period."""
    conv = data.get("conversations", 0)
    replies = sum(data.get("replies_by_kind", {}).values())
    up, down = data.get("thumbs_up_by_kind", {}), data.get("thumbs_down_by_kind", {})
    resolved = data.get("resolved_bot", 0) + data.get("resolved_human", 0)
    price = settings.INSIGHTS_PRICE_PER_1K_TOKENS
    return {
        "conversations": conv,
        "intervention_rate": _share(data.get("escalated", 0), conv),
        "containment": _share(data.get("resolved_bot", 0), conv),
        "resolution_bot_p50_s": percentile(data["resolution_bot_s"], 0.5, SECONDS_BUCKETS),
        "resolution_bot_p90_s": percentile(data["resolution_bot_s"], 0.9, SECONDS_BUCKETS),
        "resolution_human_p50_s": percentile(data["resolution_human_s"], 0.5, SECONDS_BUCKETS),
        "resolution_human_p90_s": percentile(data["resolution_human_s"], 0.9, SECONDS_BUCKETS),
        "thumbs_up_share": _share(sum(up.values()), sum(up.values()) + sum(down.values())),
        "thumbs_up_share_by_kind": {
            k: _share(up.get(k, 0), up.get(k, 0) + down.get(k, 0)) for k in sorted(set(up) | set(down))
        },
        "tokens_per_reply": _share(data.get("tokens", 0), replies),
        "tokens_per_conversation": _share(data.get("tokens", 0), conv),
        "tokens_per_resolved": _share(data.get("tokens_resolved", 0), resolved),
        "cost_per_conversation": (data.get("tokens", 0) / conv / 1000 * price) if conv else None,
        "cost_total": data.get("tokens", 0) / 1000 * price,
        "retries": data.get("retries", 0),
        "blocked": data.get("blocked", 0),
        "flagged": data.get("flagged", 0),
        "suppressed": data.get("suppressed", 0),
        "turn_p50_ms": percentile(data["turn_ms"], 0.5, MS_BUCKETS),
        "turn_p95_ms": percentile(data["turn_ms"], 0.95, MS_BUCKETS),
        "stage_p50_p95_ms": {
            s: (percentile(v, 0.5, MS_BUCKETS), percentile(v, 0.95, MS_BUCKETS)) for s, v in data["stage_ms"].items()
        },
        "ratings": {str(i): data.get("ratings", {}).get(str(i), 0) for i in range(1, 6)},
    }


def day_figures(data: dict) -> dict:
    """The few figures the daily charts plot, straight from one day's data."""
    conv = data.get("conversations", 0)
    up = sum(data.get("thumbs_up_by_kind", {}).values())
    down = sum(data.get("thumbs_down_by_kind", {}).values())
    turn = data.get("turn_ms") or {"values": []}
    return {
        "conversations": conv,
        "containment": _share(data.get("resolved_bot", 0), conv),
        "intervention_rate": _share(data.get("escalated", 0), conv),
        "thumbs_up_share": _share(up, up + down),
        "tokens_per_conversation": _share(data.get("tokens", 0), conv),
        "turn_p95_ms": percentile(turn, 0.95, MS_BUCKETS),
    }


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()), timezone.get_default_timezone())
    return start, start + timedelta(days=1)


# --- flows -------------------------------------------------------------------------------------------------

# A flow run is *completed* when its objective was met, *handed off* when a person took over (with the
# slots), *abandoned* when the customer cancelled it or went quiet (a run still active in a conversation
# idle past CHAT_INACTIVITY_TIMEOUT_SECONDS, or closed, is abandoned). Turns and time to completion are
# over completed runs: customer messages the flow read, and seconds from the trigger to the end.
_FLOW_SQL = """
SELECT r.flow_name,
       count(*),
       count(*) FILTER (WHERE r.status = 'completed'),
       count(*) FILTER (WHERE r.status = 'handed_off'),
       count(*) FILTER (WHERE r.status = 'abandoned'
                         OR (r.status = 'active' AND (c.status <> 'open' OR c.last_activity_at < %(idle)s))),
       count(*) FILTER (WHERE r.status = 'active' AND c.status = 'open' AND c.last_activity_at >= %(idle)s),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.turns) FILTER (WHERE r.status = 'completed'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.ended_at - r.started_at))
           FILTER (WHERE r.status = 'completed')
  FROM support_flowrun r
  JOIN support_conversation c ON c.id = r.conversation_id
 WHERE r.started_at >= %(start)s AND r.started_at < %(end)s
 GROUP BY r.flow_name
 ORDER BY r.flow_name
"""


@dataclass(frozen=True)
class FlowOutcome:
    flow: str
    started: int
    completed: int
    handed_off: int
    abandoned: int
    active: int
    turns_p50: float | None
    seconds_p50: float | None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.started if self.started else None


def flow_outcomes(*, start: datetime | None = None, end: datetime | None = None, now: datetime | None = None):
    """Per flow: started, completed, handed off, abandoned, still active; median turns and seconds to
    completion. One query over the runs started in [start, end) (default: all)."""
    now = now or timezone.now()
    params = {
        "start": start or datetime(2000, 1, 1, tzinfo=UTC),
        "end": end or now + timedelta(seconds=1),
        "idle": now - timedelta(seconds=settings.CHAT_INACTIVITY_TIMEOUT_SECONDS),
    }
    with connection.cursor() as cursor:
        cursor.execute(_FLOW_SQL, params)
        rows = cursor.fetchall()
    return [FlowOutcome(r[0], r[1], r[2], r[3], r[4], r[5], _float(r[6]), _float(r[7])) for r in rows]


def _float(value) -> float | None:
    return None if value is None else float(value)
