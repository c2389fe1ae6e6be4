"""Reads for conversations."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from support.models import Citation, Conversation, Message

_CITATIONS = Prefetch("citations", queryset=Citation.objects.select_related("version", "chunk").order_by("n"))


def transcript(*, conversation: Conversation, after_id: int = 0) -> QuerySet[Message]:
    return (
        conversation.messages.filter(id__gt=after_id)
        .exclude(role=Message.Role.SYSTEM)
        .prefetch_related(_CITATIONS)
        .order_by("created_at", "id")
    )


def message_with_citations(message_id: int) -> Message:
    return Message.objects.prefetch_related(_CITATIONS).get(pk=message_id)
