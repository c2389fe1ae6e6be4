"""Alerts: an abnormal pattern someone should look at, raised once until resolved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.events import AlertKind


class Alert(models.Model):
    Kind = AlertKind  # core.events: lower layers raise alerts of these kinds

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    kind = models.CharField(max_length=32, choices=Kind)
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    message = models.CharField(max_length=500)
    value = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Each kind alerts once until someone resolves it.
            models.UniqueConstraint(fields=["kind"], condition=Q(status="open"), name="one_open_alert_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


class DailyRollup(models.Model):
    """One day's figures for one channel ("all" for every channel), computed from the
    recorded conversations by a scheduled task so the dashboard never scans history."""

    date = models.DateField()
    channel = models.CharField(max_length=16, default="all")
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "channel"]
        constraints = [models.UniqueConstraint(fields=["date", "channel"], name="one_rollup_per_day_and_channel")]

    def __str__(self) -> str:
        return f"{self.date} {self.channel}"


class AlertRule(models.Model):
    """A threshold, or a departure from the trailing 7-day baseline, on a daily metric."""

    class Metric(models.TextChoices):
        ESCALATION_RATE = "escalation_rate", "Escalation rate (share of conversations)"
        THUMBS_DOWN_RATE = "thumbs_down_rate", "Thumbs-down rate (share of rated replies)"
        COST_PER_CONVERSATION = "cost_per_conversation", "Tokens per conversation"
        RETRY_RATE = "retry_rate", "LLM retries per reply"

    metric = models.CharField(max_length=32, choices=Metric, unique=True)
    threshold = models.FloatField(null=True, blank=True, help_text="Alert when today's value is above this.")
    baseline_ratio = models.FloatField(
        null=True, blank=True, help_text="Alert when today's value exceeds the trailing 7-day mean by this factor."
    )
    min_events = models.PositiveIntegerField(default=20, help_text="Ignore days with fewer conversations than this.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["metric"]

    def __str__(self) -> str:
        return self.get_metric_display()
