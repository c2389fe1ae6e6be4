"""The vocabulary a turn is described in, defined once.

Every app stores, filters and shows these values (the pipeline writes them,
the console and the dashboard read them), so they live in the lowest layer
and nowhere else."""

from __future__ import annotations

from django.db import models


class ReplyKind(models.TextChoices):
    """What the bot did with a message."""

    APPROVED = "approved"
    GROUNDED = "grounded"
    CLARIFY = "clarify"
    ESCALATED = "escalated"
    BLOCKED = "blocked"
    LIMIT = "limit"


class Reason(models.TextChoices):
    """Why a reply took its kind; escalations carry the same reason."""

    NO_ANSWER = "no_answer", "No grounded answer"
    CRITICAL = "critical_topic", "Critical topic"
    CUSTOMER_ASKED = "customer_asked", "Customer asked for a person"
    GUARD = "guard_flag", "Input guard flag"
    LIMIT = "limit", "Turn or budget limit"
    OUTPUT_CHECK = "output_check", "Output check"
    VAGUE = "vague", "Question too vague"
    APPROVED = "approved_match", "Approved answer matched"
    GROUNDED = "grounded", "Answered from the knowledge base"


# The reasons a person is called for: the escalation queue's reasons.
ESCALATION_REASONS = (
    Reason.NO_ANSWER,
    Reason.CRITICAL,
    Reason.CUSTOMER_ASKED,
    Reason.GUARD,
    Reason.LIMIT,
    Reason.OUTPUT_CHECK,
)


class GuardDecision(models.TextChoices):
    """The input guard's verdict on a message."""

    ALLOWED = "allowed"
    FLAGGED = "flagged"
    BLOCKED = "blocked"


class Priority(models.IntegerChoices):
    """Escalation priority; lower is more urgent (the queue sorts on it)."""

    CRITICAL = 10, "Critical topic"
    CUSTOMER_ASKED = 30, "Customer asked"
    NORMAL = 50, "Normal"
