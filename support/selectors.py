"""Reads for conversations."""

from __future__ import annotations

from typing import NamedTuple

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


class CitedSource(NamedTuple):
    """What a reply shows for one of its citations."""

    n: int
    document_id: int
    document_title: str
    version: int
    chunk_id: int
    heading: str
    quote: str
