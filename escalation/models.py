"""Escalations: a person takes over a conversation."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.choices import ESCALATION_REASONS, Priority
from core.transitions import Transitions


class Escalation(models.Model):
    # The reasons a person is called for (core.choices); stored as the turn gave them.
    REASONS = [(r.value, r.label) for r in ESCALATION_REASONS]

    class Status(models.TextChoices):
        OPEN = "open"
        CLAIMED = "claimed"
        RESOLVED = "resolved"

    class Outcome(models.TextChoices):
        ANSWERED = "answered"
        NO_ANSWER = "no_answer_exists", "No answer exists"
        DUPLICATE = "duplicate"
        ABUSIVE = "abusive"

    conversation = models.ForeignKey("support.Conversation", on_delete=models.CASCADE, related_name="escalations")
    trigger_message = models.ForeignKey(
        "support.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Claimed by one agent, released back to the queue, or resolved by its owner; resolved is final.
    TRANSITIONS = Transitions("status", {Status.OPEN: {Status.CLAIMED}, Status.CLAIMED: {Status.OPEN, Status.RESOLVED}})

    reason = models.CharField(max_length=32, choices=REASONS)
    detail = models.CharField(max_length=300, blank=True)
    priority = models.PositiveSmallIntegerField(default=Priority.NORMAL, help_text="Lower is more urgent.")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    outcome = models.CharField(max_length=32, choices=Outcome, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_escalations"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The flow under way when a person was called (name, objective, collected slots, the question it
    # was waiting on): the console shows it first, so the agent never asks again.
    flow = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "opened_at"]
        constraints = [
            # At most one unresolved escalation per conversation: the bot never
            # opens a second while a person owns the first.
            models.UniqueConstraint(
                fields=["conversation"], condition=~Q(status="resolved"), name="one_open_escalation_per_conversation"
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(claimed_by__isnull=False), name="claimed_escalation_has_agent"
            ),
        ]
        indexes = [models.Index(fields=["status", "priority", "opened_at"])]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.status})"

    @property
    def first_reply_state(self) -> str:
        """Against the first-reply time customers are promised (SUPPORT_FIRST_REPLY_MINUTES): "overdue"
        past it, "due" in its last fifth, "" otherwise or once a person has replied."""
        if self.first_reply_at is not None or self.status == self.Status.RESOLVED:
            return ""
        promise = timedelta(minutes=settings.SUPPORT_FIRST_REPLY_MINUTES)
        waited = timezone.now() - self.opened_at
        if waited > promise:
            return "overdue"
        return "due" if waited > promise * 0.8 else ""


class EscalationNote(models.Model):
    """Internal: seen by staff only, never by the customer."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:40]


class Correction(models.Model):
    """What the bot should have said: the corrections database."""

    class Problem(models.TextChoices):
        WRONG = "wrong"
        OUTDATED = "outdated"
        INCOMPLETE = "incomplete"
        UNSAFE = "unsafe"
        TONE = "tone"
        NO_ANSWER = "no_answer", "Escalated but answerable"

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    message = models.ForeignKey("support.Message", on_delete=models.PROTECT, related_name="corrections")
    question = models.TextField(help_text="The customer's question the reply answered.")
    # Reviewed once: accepted (its approved answer exists) or rejected, never flipped.
    TRANSITIONS = Transitions("status", {Status.OPEN: {Status.ACCEPTED, Status.REJECTED}})

    problem = models.CharField(max_length=16, choices=Problem)
    corrected_text = models.TextField()
    documents = models.ManyToManyField("knowledge.Document", blank=True, related_name="corrections")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    approved_version = models.ForeignKey(
        "knowledge.ApprovedAnswerVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_problem_display()}: {self.question[:40]}"


class CannedReply(models.Model):
    """A reply agents insert with a shortcut ("/returns" in the reply box), curated in the admin."""

    shortcut = models.SlugField(max_length=40, unique=True, help_text='Typed after "/" in the reply box.')
    text = models.TextField()
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"
