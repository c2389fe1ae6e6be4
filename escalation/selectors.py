"""Reads for the agent console and the corrections screens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from core.permissions import is_agent, is_curator
from escalation.models import CannedReply, Correction, Escalation
from knowledge.models import Chunk, Document
from support.models import Conversation, Message


def queue(*, status: str = "", reason: str = "", q: str = "") -> QuerySet[Escalation]:
    """Critical first, then longest waiting. Resolved ones only when asked for; `q` finds the
    escalations whose conversation contains those words (what the customer or anyone wrote)."""
    qs = Escalation.objects.select_related("conversation", "claimed_by", "trigger_message__reply_to")
    if status in Escalation.Status.values:
        qs = qs.filter(status=status)
    else:
        qs = qs.exclude(status=Escalation.Status.RESOLVED)
    if reason in dict(Escalation.REASONS):
        qs = qs.filter(reason=reason)
    if q.strip():
        said = Message.objects.filter(conversation=OuterRef("conversation"), text__icontains=q.strip())
        qs = qs.filter(Exists(said))
    return qs.order_by("priority", "opened_at", "id")


def access_escalation(user, escalation_id: int) -> Escalation:
    """Agents (and admins) only; checked while fetching."""
    if not is_agent(user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    return get_object_or_404(Escalation.objects.select_related("conversation", "claimed_by"), pk=escalation_id)


@dataclass(frozen=True)
class Evidence:
    document_id: int
    document_title: str
    version_number: int
    heading_path: str
    chunk_id: int
    text: str
    cosine: float


def evidence_for(messages: list[Message]) -> list[Evidence]:
    """What retrieval found for the bot's turns, so the agent starts from the documents."""
    scores: dict[int, float] = {}
    for message in messages:
        for hit in (message.signals or {}).get("retrieved", []):
            scores[hit["chunk_id"]] = max(scores.get(hit["chunk_id"], 0.0), hit.get("cosine", 0.0))
    chunks = (
        Chunk.objects.filter(id__in=scores)
        .select_related("version__document")
        .defer("embedding", "sentence_vectors", "token_vectors", "version__text")
    )
    found = [
        Evidence(
            c.version.document_id,
            c.version.document.title,
            c.version.number,
            c.heading_path,
            c.pk,
            c.text,
            scores[c.pk],
        )
        for c in chunks
    ]
    return sorted(found, key=lambda e: -e.cosine)[:8]


def problematic_replies(
    *, problem: str = "", document_id: int | None = None, since: date | None = None, until: date | None = None
) -> QuerySet[Message]:
    """Bot replies with a correction or a customer's thumbs-down."""
    corrected = Correction.objects.filter(message=OuterRef("pk"))
    qs = (
        Message.objects.filter(role=Message.Role.BOT)
        .annotate(has_correction=Exists(corrected))
        .filter(Q(has_correction=True) | Q(thumbs=-1))
        .select_related("reply_to", "approved_version__answer")
        .prefetch_related("citations__version__document", "corrections__created_by")
    )
    if problem in Correction.Problem.values:
        qs = qs.filter(corrections__problem=problem)
    elif problem == "thumbs_down":
        qs = qs.filter(thumbs=-1)
    if document_id:
        qs = qs.filter(Q(citations__version__document_id=document_id) | Q(corrections__documents__id=document_id))
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    return qs.distinct().order_by("-created_at")


def can_review(user) -> bool:
    return is_curator(user)


def documents_for_filter() -> QuerySet[Document]:
    return Document.objects.order_by("title").only("id", "title")


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def browser_name(user_agent: str) -> str:
    """ "Chrome on Android" from a User-Agent header: enough for an agent to picture the customer's screen."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    if "Mobile" in user_agent and system not in ("Android", "iPhone", "iPad"):
        system = f"{system} mobile".strip()
    return " on ".join(p for p in (browser, system) if p) or re.sub(r"\s+", " ", user_agent)[:60]


def earlier_conversations(conversation: Conversation, *, limit: int = 5) -> list[Conversation]:
    """The conversations this one follows (a closed or idle chat is followed by a new one), newest first."""
    found: list[Conversation] = []
    current = conversation.previous
    while current is not None and len(found) < limit:
        found.append(current)
        current = current.previous
    return found


def canned_replies() -> list[dict[str, str]]:
    """The active canned replies, for the reply box's "/" shortcuts."""
    return list(CannedReply.objects.filter(active=True).values("shortcut", "text"))
