"""Signals a lower layer sends and an upper layer handles.

Layers import downwards only (docs/architecture.md). When something below
must make something above happen — the pipeline spots an anomaly that the
dashboard must show, a turn ends with a person taking over — it sends one of
these; the upper app connects its handler in its AppConfig.ready(). A layer
that is not installed simply does not listen."""

from __future__ import annotations

from django.db import models
from django.dispatch import Signal


class AlertKind(models.TextChoices):
    ESCALATION_RATE = "escalation_rate", "Escalation rate"
    BLOCK_RATE = "block_rate", "Blocked-message rate"
    THUMBS_DOWN_RATE = "thumbs_down_rate", "Thumbs-down rate"
    RETRIEVAL_SCORE = "retrieval_score", "Mean retrieval score"
    DAILY_BUDGET = "daily_budget", "Daily token budget spent"
    RETRY_RATE = "retry_rate", "LLM retries"
    BREAKER_OPEN = "breaker_open", "LLM circuit breaker open"
    COST_PER_CONVERSATION = "cost_per_conversation", "Cost per conversation"
    OUTPUT_SUPPRESSED = "output_suppressed", "Reply suppressed by the output check"


# kind (AlertKind), message, code: insights opens an alert unless one of that kind is open.
alert_requested = Signal()

# conversation, message (the bot message that hands over), reason, priority, detail:
# escalation opens the queue entry (one open entry per conversation), in the sender's transaction.
handover_requested = Signal()


def alert(kind: str, message: str, **detail: object) -> None:
    alert_requested.send(sender=None, kind=kind, message=message, **detail)
