"""Flows as curated data: a flow's definition lives in versions (draft → approved → retired; a
retired version may be approved again, which is a rollback), like approved answers. Approving a
version retires the flow's previously approved one in the same transaction, and history is never
rewritten: a conversation's flow run points at the exact version it followed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from pgvector.django import VectorField

from core.transitions import Transitions


class Flow(models.Model):
    name = models.SlugField(max_length=64, unique=True, help_text="Stable name, used in YAML and metrics.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        APPROVED = "approved"
        RETIRED = "retired"

    TRANSITIONS = Transitions(
        "status",
        {
            Status.DRAFT: {Status.APPROVED, Status.RETIRED},
            Status.APPROVED: {Status.RETIRED},
            Status.RETIRED: {Status.APPROVED},
        },
    )

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200, blank=True)
    objective = models.TextField(help_text="What 'done' means; shown to the agent who takes over.")
    definition = models.JSONField(help_text="The whole flow as written in YAML (flows.spec.parse reads it).")
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="flow_version_number_unique"),
            models.UniqueConstraint(
                fields=["flow"], condition=Q(status="approved"), name="one_approved_version_per_flow"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(approved_at__isnull=False), name="approved_flow_has_approver"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow.name} v{self.number}"


class FlowTrigger(models.Model):
    """An example message that starts the flow, embedded (matched by meaning)."""

    version = models.ForeignKey(FlowVersion, on_delete=models.CASCADE, related_name="triggers")
    text = models.CharField(max_length=500)
    embedding = VectorField(dimensions=384)

    class Meta:
        ordering = ["version", "id"]

    def __str__(self) -> str:
        return self.text
