"""Raising, notifying and resolving alerts, and the drift detectors that raise them."""

from __future__ import annotations

import json
import logging
import math
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, FloatField, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from core.queue import enqueue_on_commit
from insights.models import Alert
from support.models import Conversation, Message

logger = logging.getLogger(__name__)


def alert_raise(
    *, kind: str, message: str, value: float | None = None, baseline: float | None = None, **detail
) -> Alert | None:
    """Open an alert of this kind unless one is already open; notify once, after commit."""
    if Alert.objects.filter(kind=kind, status=Alert.Status.OPEN).exists():
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind, message=message[:500], value=value, baseline=baseline, detail=detail
            )
    except IntegrityError:
        return None  # another process opened it a moment ago
    enqueue_on_commit("insights.alert_notify", alert_id=alert.pk)
    logger.warning("alert raised", extra={"alert_kind": kind, "alert_message": message})
    return alert


def alert_notify(*, alert_id: int) -> bool:
    """Send an alert to the configured email address and webhook, once."""
    claimed = Alert.objects.filter(pk=alert_id, notified_at__isnull=True).update(notified_at=timezone.now())
    if not claimed:
        return False
    alert = Alert.objects.get(pk=alert_id)
    subject = f"[Groundwork] {alert.get_kind_display()}"
    if settings.ALERT_EMAIL:
        send_mail(subject, alert.message, None, [settings.ALERT_EMAIL], fail_silently=False)
    if settings.ALERT_WEBHOOK_URL:
        body = json.dumps(
            {
                "kind": alert.kind,
                "message": alert.message,
                "value": alert.value,
                "baseline": alert.baseline,
                "opened_at": alert.opened_at.isoformat(),
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator's own webhook setting
            settings.ALERT_WEBHOOK_URL,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
    return True


def alert_resolve(*, alert: Alert, user=None) -> Alert:
    Alert.objects.filter(pk=alert.pk, status=Alert.Status.OPEN).update(
        status=Alert.Status.RESOLVED, resolved_at=timezone.now(), resolved_by=user
    )
    alert.refresh_from_db()
    return alert


# --- Drift ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0


def departs(current: Rate, baseline: Rate, *, min_total: int, min_ratio: float = 1.5, z: float = 3.0) -> bool:
    """Did a rate rise well above its trailing baseline? Enough events, a relative
    jump, and a two-proportion z-score, so one bad minute does not page anyone."""
    if current.total < min_total or baseline.total < min_total or current.hits < max(5, min_total // 4):
        return False
    p1, p0 = current.value, baseline.value
    if p1 <= p0 * min_ratio or p1 - p0 < 0.05:
        return False
    pooled = (current.hits + baseline.hits) / (current.total + baseline.total)
    se = math.sqrt(pooled * (1 - pooled) * (1 / current.total + 1 / baseline.total))
    return se > 0 and (p1 - p0) / se >= z


def _bot_rates(since, until) -> dict[str, Rate]:
    bot = Message.objects.filter(role=Message.Role.BOT, created_at__gte=since, created_at__lt=until)
    counts = bot.aggregate(
        total=Count("id"),
        escalated=Count("id", filter=Q(kind="escalated")),
        blocked=Count("id", filter=Q(kind="blocked")),
        rated=Count("id", filter=Q(thumbs__isnull=False)),
        down=Count("id", filter=Q(thumbs=-1)),
    )
    return {
        "escalation_rate": Rate(counts["escalated"], counts["total"]),
        "block_rate": Rate(counts["blocked"], counts["total"]),
        "thumbs_down_rate": Rate(counts["down"], counts["rated"]),
    }


def _mean_retrieval(since, until) -> float | None:
    # The best cosine of each grounded answer, as recorded in its signals.
    value = Message.objects.filter(
        role=Message.Role.BOT, kind="grounded", created_at__gte=since, created_at__lt=until
    ).aggregate(m=Avg(Cast(KT("signals__answerability__cosine"), FloatField())))["m"]
    return float(value) if value is not None else None


def drift_check(*, now=None) -> list[Alert]:
    """Compare the last window with the trailing baseline and raise what departs."""
    now = now or timezone.now()
    window = timedelta(minutes=settings.DRIFT_WINDOW_MINUTES)
    baseline_span = timedelta(hours=settings.DRIFT_BASELINE_HOURS)
    current = _bot_rates(now - window, now)
    baseline = _bot_rates(now - window - baseline_span, now - window)
    raised: list[Alert] = []
    for kind, rate in current.items():
        if departs(rate, baseline[kind], min_total=settings.DRIFT_MIN_EVENTS):
            alert = alert_raise(
                kind=kind,
                message=f"{Alert.Kind(kind).label} is {rate.value:.0%} in the last {settings.DRIFT_WINDOW_MINUTES} min "
                f"against {baseline[kind].value:.0%} before",
                value=rate.value,
                baseline=baseline[kind].value,
            )
            if alert:
                raised.append(alert)
    mean_now = _mean_retrieval(now - window, now)
    mean_before = _mean_retrieval(now - window - baseline_span, now - window)
    if mean_now is not None and mean_before is not None and mean_before - mean_now >= settings.DRIFT_RETRIEVAL_DROP:
        alert = alert_raise(
            kind=Alert.Kind.RETRIEVAL_SCORE,
            message=f"Mean retrieval score fell to {mean_now:.2f} from {mean_before:.2f}",
            value=mean_now,
            baseline=mean_before,
        )
        if alert:
            raised.append(alert)
    return raised


# --- Roll-ups --------------------------------------------------------------------------------------------


def rollup_day(day, *, now=None) -> int:
    """(Re)compute one day's roll-ups, for all channels together and each one; idempotent."""
    from insights import metrics
    from insights.models import DailyRollup

    start, end = metrics.day_bounds(day)
    channels = set(
        Conversation.objects.filter(created_at__gte=start, created_at__lt=end).values_list("channel", flat=True)
    )
    written = 0
    for channel in ["all", *sorted(channels)]:
        data = metrics.compute(start=start, end=end, channel="" if channel == "all" else channel, now=now)
        DailyRollup.objects.update_or_create(date=day, channel=channel, defaults={"data": data})
        written += 1
    return written


def rollup_recent(*, days: int = 2, now=None) -> int:
    """Finished days only: today stays live. Yesterday is redone because late activity
    (an agent resolving an escalation after midnight) still changes it."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    return sum(rollup_day(today - timedelta(days=i), now=now) for i in range(1, days + 1))


# --- Alert rules -------------------------------------------------------------------------------------------


def _rule_sample(metric: str, data: dict) -> tuple[float, int] | None:
    """A rule's value and the number it is a share of (its sample), or None without any."""
    conv = data.get("conversations", 0)
    replies = sum(data.get("replies_by_kind", {}).values())
    rated = sum(data.get("thumbs_up_by_kind", {}).values()) + sum(data.get("thumbs_down_by_kind", {}).values())
    if metric == "escalation_rate":
        return (data.get("escalated", 0) / conv, conv) if conv else None
    if metric == "thumbs_down_rate":
        return (sum(data.get("thumbs_down_by_kind", {}).values()) / rated, rated) if rated else None
    if metric == "cost_per_conversation":
        return (data.get("tokens", 0) / conv, conv) if conv else None
    if metric == "retry_rate":
        return (data.get("retries", 0) / replies, replies) if replies else None
    return None


def _rule_value(metric: str, data: dict) -> float | None:
    found = _rule_sample(metric, data)
    return found[0] if found else None


def alert_rules_check(*, now=None) -> list[Alert]:
    """Today's live figures against each rule's threshold and the trailing 7-day mean."""
    from insights import metrics
    from insights.models import AlertRule, DailyRollup

    now = now or timezone.now()
    today = timezone.localdate(now)
    start, _ = metrics.day_bounds(today)
    live = metrics.compute(start=start, end=now, now=now)
    history = list(
        DailyRollup.objects.filter(channel="all", date__gte=today - timedelta(days=7), date__lt=today).values_list(
            "data", flat=True
        )
    )
    raised = []
    for rule in AlertRule.objects.filter(active=True):
        if live.get("conversations", 0) < rule.min_events:
            continue
        found = _rule_sample(rule.metric, live)
        # A rate of 2 thumbs-down out of 2 is 100 % and means nothing: too few to alert on.
        if found is None or found[1] < settings.ALERT_MIN_SAMPLE:
            continue
        value = found[0]
        past = [v for v in (_rule_value(rule.metric, d) for d in history) if v is not None]
        baseline = sum(past) / len(past) if past else None
        reason = ""
        if rule.threshold is not None and value > rule.threshold:
            reason = f"above the threshold {rule.threshold:g}"
        elif rule.baseline_ratio and baseline and value > baseline * rule.baseline_ratio:
            reason = f"{value / baseline:.1f}x the 7-day mean {baseline:.3g}"
        if reason:
            alert = alert_raise(
                kind=rule.metric,
                message=f"{rule.get_metric_display()} today is {value:.3g}, {reason}",
                value=value,
                baseline=baseline,
            )
            if alert:
                raised.append(alert)
    return raised
