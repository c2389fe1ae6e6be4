"""Conversations and their messages. A bot message carries its full provenance."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from pgvector.django import VectorField

from core.choices import Priority, ReplyKind


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"  # the bot answers
        HUMAN = "human"  # escalated: a person owns it, the bot stays silent
        CLOSED = "closed"  # timed out, limit reached or resolved; a new message starts a new one

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, help_text="sha256 of the customer's bearer token")
    channel = models.CharField(max_length=16, default="api")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    turns = models.PositiveIntegerField(default=0)
    tokens_used = models.PositiveIntegerField(default=0)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    # Where and how the customer wrote from, for the agent (as the browser reported it).
    page_url = models.CharField(max_length=1000, blank=True, help_text="The page the chat was opened on.")
    user_agent = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=35, blank=True, help_text="The browser's first preferred language.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=32, blank=True)
    # The flow under way, if any: {"run": FlowRun id, "version": FlowVersion id, "state": the engine's
    # state, slots included}. Empty when no flow is active (one flow at a time).
    flow_state = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class Message(models.Model):
    class Role(models.TextChoices):
        CUSTOMER = "customer"
        BOT = "bot"
        AGENT = "agent"
        SYSTEM = "system"

    Kind = ReplyKind

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # --- bot replies: provenance -------------------------------------------------------
    kind = models.CharField(max_length=16, choices=Kind, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    reason = models.CharField(max_length=32, blank=True, help_text="Why the turn ended this way (reason code).")
    approved_version = models.ForeignKey(
        "knowledge.ApprovedAnswerVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="uses"
    )
    composer = models.CharField(max_length=120, blank=True, help_text="extractive, or llm:<model>@<prompt version>")
    config_fingerprint = models.CharField(max_length=16, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    stage_ms = models.JSONField(default=dict, blank=True)
    signals = models.JSONField(default=dict, blank=True, help_text="Retrieval and answerability evidence.")
    thumbs = models.SmallIntegerField(null=True, blank=True, help_text="+1 / -1 from the customer")
    # The question's vector, kept on customer messages the bot could not answer:
    # knowledge-gap clustering reads it instead of embedding history again.
    embedding = VectorField(dimensions=384, null=True, blank=True)

    class Meta:
        ordering = ["conversation", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(role="bot") | ~Q(kind=""), name="bot_message_has_kind"),
            models.CheckConstraint(
                condition=Q(thumbs__isnull=True) | Q(thumbs__in=[-1, 1]), name="thumbs_plus_or_minus_one"
            ),
        ]
        indexes = [models.Index(fields=["role", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"


class Citation(models.Model):
    """A numbered source of a bot reply: the exact chunk and document version used."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="citations")
    n = models.PositiveSmallIntegerField()
    chunk = models.ForeignKey("knowledge.Chunk", on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey("knowledge.DocumentVersion", on_delete=models.PROTECT, related_name="+")
    quote = models.TextField()

    class Meta:
        ordering = ["message", "n"]
        constraints = [models.UniqueConstraint(fields=["message", "n"], name="citation_number_unique")]

    def __str__(self) -> str:
        return f"[{self.n}] {self.version}"


class CriticalTopic(models.Model):
    """Admin-editable intent rules checked before retrieval: such messages go to a person."""

    name = models.CharField(max_length=100, unique=True)
    priority = models.PositiveSmallIntegerField(
        default=Priority.CRITICAL, help_text="Escalation priority; lower is more urgent."
    )
    patterns = models.TextField(
        help_text="One regular expression per line, matched case-insensitively against the message."
    )
    examples = models.TextField(
        blank=True,
        help_text=(
            "One sentence per line saying what this topic is about. A pattern's hit counts only when the message "
            "is near one of them in meaning, so a word used in another sense ('does it hurt my credit score?') "
            "does not call a person. Empty: the patterns alone decide."
        ),
    )
    reply = models.TextField(blank=True, help_text="What the customer is told; empty uses the standard hand-over.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class DailyUsage(models.Model):
    """Tokens spent per day, for the daily budget. A row, not a cache key: a cache
    may evict or expire a counter, and a budget must not reset itself."""

    date = models.DateField(unique=True)
    tokens = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.date}: {self.tokens} tokens"


class FlowRun(models.Model):
    """One flow followed in one conversation, from its trigger to its end: what the outcome metrics
    count (started, completed, abandoned, handed off; turns and time to completion)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"  # the objective was met
        ABANDONED = "abandoned"  # the customer cancelled, or went quiet
        HANDED_OFF = "handed_off"  # a person took over, with the slots

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="flow_runs")
    version = models.ForeignKey("flows.FlowVersion", on_delete=models.PROTECT, related_name="runs")
    flow_name = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status, default=Status.ACTIVE)
    end_reason = models.CharField(max_length=32, blank=True)
    slots = models.JSONField(default=dict, blank=True)
    turns = models.PositiveIntegerField(default=0, help_text="Customer messages the flow read.")
    steps = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(status="active"), name="one_active_flow_per_conversation"
            ),
        ]
        indexes = [models.Index(fields=["flow_name", "started_at"])]

    def __str__(self) -> str:
        return f"{self.flow_name} ({self.status})"
