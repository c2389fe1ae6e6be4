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
    FLOW = "flow"


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
    FLOW = "flow", "A step of a flow"
    FLOW_HANDOFF = "flow_handoff", "Flow handed over"


# What the codes in a reply's or an escalation's detail mean, for people: the pipeline writes
# the codes, the console and the dashboard show these words.
DETAIL_LABELS = {
    "nothing_retrieved": "nothing in the help articles matched",
    "not_answerable": "the articles found do not answer it",
    "nothing_kept": "no passage fitted the answer",
    "low_confidence": "the answer found was not likely enough to be right",
    "condition_unstated": "the answer depends on a condition the customer has not stated",
    "unsupported_answer": "the draft answer was not supported by its sources",
    "guard_flag": "flagged by the input guard",
    "daily_budget": "the daily budget is spent",
    "max_turns": "the turn limit was reached",
    "conversation_budget": "the conversation's budget is spent",
    "empty": "the reply was empty",
    "too_long": "the reply was too long",
    "leak": "the reply talked about its instructions",
    "commitment": "the reply promised something its sources do not",
    "language": "the reply was in another language",
    "inactivity": "the customer went quiet",
    "invalid_input": "the customer's answer did not fit twice",
    "call_failed": "the flow's action did not answer",
    "handoff_step": "the flow hands this case to a person",
    "step_limit": "the flow reached its step limit",
}


# Reply kinds in words (not as TextChoices labels: those are part of the model field, and a
# wording change would need a migration).
KIND_LABELS = {
    ReplyKind.APPROVED: "approved answer",
    ReplyKind.GROUNDED: "answered from the articles",
    ReplyKind.CLARIFY: "asked to clarify",
    ReplyKind.ESCALATED: "handed to a person",
    ReplyKind.BLOCKED: "blocked by the input guard",
    ReplyKind.LIMIT: "limit reached",
    ReplyKind.FLOW: "a step of a flow",
}


def kind_label(code: str) -> str:
    return KIND_LABELS.get(code, code.replace("_", " "))


def reason_label(code: str) -> str:
    """A reason code as people read it ("no_answer" → "No grounded answer")."""
    try:
        return str(Reason(code).label)
    except ValueError:
        return detail_label(code)


def detail_label(code: str) -> str:
    """A detail code in words; a code we have no words for (or a topic's own name) reads as it is,
    without underscores."""
    if code in DETAIL_LABELS:
        return DETAIL_LABELS[code]
    return code.replace("_", " ")


# The reasons a person is called for: the escalation queue's reasons.
ESCALATION_REASONS = (
    Reason.NO_ANSWER,
    Reason.CRITICAL,
    Reason.CUSTOMER_ASKED,
    Reason.GUARD,
    Reason.LIMIT,
    Reason.OUTPUT_CHECK,
    Reason.FLOW_HANDOFF,
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
