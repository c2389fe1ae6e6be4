"""What the demo shop's own endpoints record (a real shop's order system would)."""

from __future__ import annotations

from django.db import models


class DemoReturnRequest(models.Model):
    """A return request the demo's returns endpoint accepted (demo/views.py `returns`)."""

    reference = models.CharField(max_length=20, unique=True)
    order_number = models.CharField(max_length=20)
    email = models.EmailField()
    item = models.CharField(max_length=40)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reference} ({self.order_number})"
