"""The input guard's signature database and its log of security events.

`InjectionPattern` rows are the "antivirus signatures": known attack texts with
their embedding, matched by cosine similarity. The search is exact, with no
HNSW index: the table holds hundreds of rows (a scan of them costs well under a
millisecond), and an approximate index, filtered on `active` and full of
deleted rows, returned no neighbour at all now and then. `SecurityEvent`
records every message the guard flagged or blocked, with the evidence, so a
curator can review it and turn it into a new pattern in one click.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import MD5
from pgvector.django import VectorField

from core.choices import GuardDecision


class InjectionPattern(models.Model):
    class Category(models.TextChoices):
        INSTRUCTION_OVERRIDE = "instruction_override"
        ROLE_PLAY = "role_play"
        PROMPT_EXTRACTION = "prompt_extraction"
        PASTED_PAYLOAD = "pasted_payload"
        OBFUSCATION = "obfuscation"
        POLICY_COERCION = "policy_coercion"

    SOURCE_TEAM = "team"
    SOURCE_CURATOR = "curator"
    SOURCE_PUBLIC_TRAIN_PREFIX = "public-train:"

    text = models.TextField()
    category = models.CharField(max_length=32, choices=Category)
    source = models.CharField(
        max_length=100,
        default=SOURCE_TEAM,
        help_text='"team", "curator", or "public-train:<dataset>" for rows taken from a training split.',
    )
    active = models.BooleanField(default=True)
    embedding = VectorField(dimensions=384)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category", "id"]
        constraints = [
            # Idempotent by text (loading seeds twice, two curators clicking at once); hashed
            # because a btree cannot index long texts.
            models.UniqueConstraint(MD5("text"), name="injection_pattern_text_unique"),
        ]

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return f"[{self.category}] {text[:60]}{'…' if len(text) > 60 else ''}"


class SecurityEvent(models.Model):
    Decision = GuardDecision

    TEXT_MAX_CHARS = 2000

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    conversation = models.ForeignKey(
        "support.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="security_events"
    )
    message = models.ForeignKey(
        "support.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="security_events"
    )
    text = models.TextField(help_text="The sanitised message, cut to 2000 characters.")
    decision = models.CharField(max_length=16, choices=Decision)
    score = models.FloatField()
    pattern = models.ForeignKey(
        InjectionPattern, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    similarity = models.FloatField(default=0.0)
    signals = models.JSONField(default=dict, blank=True)
    reviewed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["decision", "reviewed", "created_at"])]

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return f"{self.decision} {self.score:.2f}: {text[:50]}"
