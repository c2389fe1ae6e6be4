"""/metrics: totals from the daily roll-ups plus today's live figures, so every
web process reports the same numbers without shared in-memory counters."""

from __future__ import annotations

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from insights import metrics
from insights.models import DailyRollup
from support.pipeline import llm


def _totals() -> dict:
    today = timezone.localdate()
    parts = list(DailyRollup.objects.filter(channel="all").exclude(date=today).values_list("data", flat=True))
    start, _ = metrics.day_bounds(today)
    parts.append(metrics.compute(start=start, end=timezone.now()))
    return metrics.merge(parts)


def _buckets(sample: dict) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets in seconds from a sample kept in milliseconds."""
    bounds = metrics.MS_BUCKETS
    if "values" in sample:
        values = sample["values"]
        counts = [sum(1 for v in values if v <= b) for b in bounds]
        total, total_sum = len(values), sum(values) / 1000
    else:
        hist = sample.get("hist") or [0] * (len(bounds) + 1)
        counts, running = [], 0
        for c in hist[:-1]:
            running += c
            counts.append(running)
        total = sum(hist)
        # the sum is estimated from bucket midpoints when only a histogram is kept
        mids = [(bounds[i - 1] if i else 0) / 2 + bounds[min(i, len(bounds) - 1)] / 2 for i in range(len(hist))]
        total_sum = sum(c * m for c, m in zip(hist, mids, strict=True)) / 1000
    buckets = [(str(b / 1000), float(c)) for b, c in zip(bounds, counts, strict=True)] + [("+Inf", float(total))]
    return buckets, total_sum


class GroundworkCollector:
    def collect(self):
        data = _totals()
        turns = CounterMetricFamily("groundwork_turns", "Bot replies by kind", labels=["kind"])
        for kind, n in sorted(data.get("replies_by_kind", {}).items()):
            turns.add_metric([kind], n)
        yield turns
        escalations = CounterMetricFamily(
            "groundwork_escalations", "Escalated conversations by reason", labels=["reason"]
        )
        for reason, n in sorted(data.get("escalations_by_reason", {}).items()):
            escalations.add_metric([reason], n)
        yield escalations
        yield CounterMetricFamily(
            "groundwork_blocked_messages", "Messages blocked by the input guard", value=data.get("blocked", 0)
        )
        yield CounterMetricFamily(
            "groundwork_suppressed_replies", "Replies suppressed by the output check", value=data.get("suppressed", 0)
        )
        yield CounterMetricFamily("groundwork_tokens", "Tokens processed (in + out)", value=data.get("tokens", 0))
        yield CounterMetricFamily(
            "groundwork_llm_retries", "LLM call retries (recorded on replies)", value=data.get("retries", 0)
        )
        yield CounterMetricFamily(
            "groundwork_llm_breaker_trips", "Times the LLM circuit breaker opened", value=llm.breaker_trips()
        )
        yield GaugeMetricFamily(
            "groundwork_llm_breaker_open",
            "1 while the LLM circuit breaker is open",
            value=1.0 if llm.breaker_state() == "open" else 0.0,
        )
        runs = CounterMetricFamily("groundwork_flow_runs", "Flow runs by flow and outcome", labels=["flow", "outcome"])
        flow_turns = GaugeMetricFamily(
            "groundwork_flow_turns_to_completion", "Median customer turns of a completed flow", labels=["flow"]
        )
        seconds = GaugeMetricFamily(
            "groundwork_flow_seconds_to_completion", "Median seconds from trigger to completion", labels=["flow"]
        )
        for f in metrics.flow_outcomes():
            for outcome, n in (
                ("started", f.started),
                ("completed", f.completed),
                ("handed_off", f.handed_off),
                ("abandoned", f.abandoned),
            ):
                runs.add_metric([f.flow, outcome], n)
            if f.turns_p50 is not None:
                flow_turns.add_metric([f.flow], f.turns_p50)
                seconds.add_metric([f.flow], f.seconds_p50 or 0.0)
        yield runs
        yield flow_turns
        yield seconds
        turn_buckets, turn_sum = _buckets(data["turn_ms"])
        turn = HistogramMetricFamily("groundwork_turn_seconds", "Time of one chat turn")
        turn.add_metric([], turn_buckets, turn_sum)
        yield turn
        stages = HistogramMetricFamily("groundwork_stage_seconds", "Time of each pipeline stage", labels=["stage"])
        for stage, sample in sorted(data["stage_ms"].items()):
            buckets, total = _buckets(sample)
            stages.add_metric([stage], buckets, total)
        yield stages
