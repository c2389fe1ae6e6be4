"""Alerts: an abnormal pattern someone should look at, raised once until resolved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Alert(models.Model):
    class Kind(models.TextChoices):
        ESCALATION_RATE = "escalation_rate", "Escalation rate"
        BLOCK_RATE = "block_rate", "Blocked-message rate"
        THUMBS_DOWN_RATE = "thumbs_down_rate", "Thumbs-down rate"
        RETRIEVAL_SCORE = "retrieval_score", "Mean retrieval score"
        DAILY_BUDGET = "daily_budget", "Daily token budget spent"
        RETRY_RATE = "retry_rate", "LLM retries"
        BREAKER_OPEN = "breaker_open", "LLM circuit breaker open"
        COST_PER_CONVERSATION = "cost_per_conversation", "Cost per conversation"
        OUTPUT_SUPPRESSED = "output_suppressed", "Reply suppressed by the output check"

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
