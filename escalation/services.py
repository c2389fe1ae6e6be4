"""Writes for the humans in the loop: claiming, replying, resolving
escalations; corrections and their path to approved answers. Every action
goes to the audit log in the transaction that performs it."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError, ErrorCode
from core.models import audit
from core.permissions import is_agent, is_curator
from core.transitions import transition
from escalation.models import Correction, Escalation, EscalationNote
from knowledge import services as knowledge_services
from knowledge.models import ApprovedAnswerVersion, Document
from support import services as support_services
from support.models import Conversation, Message


def _require_agent(user) -> None:
    if not is_agent(user):
        raise ApplicationError("Only agents can do this.", code=ErrorCode.FORBIDDEN)


def _require_owner(escalation: Escalation, user) -> None:
    if escalation.status == Escalation.Status.RESOLVED:
        raise ApplicationError("This escalation is resolved.", code=ErrorCode.CONFLICT)
    if escalation.claimed_by_id != user.pk:
        raise ApplicationError("Claim this escalation first.", code=ErrorCode.CONFLICT)


@transaction.atomic
def escalation_claim(*, escalation_id: int, agent) -> Escalation:
    """One conditional UPDATE decides: of two agents claiming at once, exactly one wins."""
    _require_agent(agent)
    try:
        transition(Escalation(pk=escalation_id), Escalation.Status.CLAIMED, claimed_by=agent, claimed_at=timezone.now())
        won = True
    except ApplicationError:
        won = False
    escalation = Escalation.objects.select_related("claimed_by").get(pk=escalation_id)
    if not won:
        if escalation.status == Escalation.Status.CLAIMED and escalation.claimed_by_id == agent.pk:
            return escalation  # claiming twice is harmless
        who = escalation.claimed_by.get_username() if escalation.claimed_by else "nobody"
        raise ApplicationError(f"Already {escalation.status} by {who}.", code=ErrorCode.CONFLICT)
    audit(actor=agent, action="escalation.claim", obj=escalation)
    return escalation


@transaction.atomic
def escalation_release(*, escalation: Escalation, agent) -> Escalation:
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    _require_owner(escalation, agent)
    transition(escalation, Escalation.Status.OPEN, claimed_by=None, claimed_at=None)
    audit(actor=agent, action="escalation.release", obj=escalation)
    return escalation


@transaction.atomic
def escalation_transfer(*, escalation: Escalation, agent, to_user_id: int) -> Escalation:
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    _require_owner(escalation, agent)
    target = get_user_model().objects.filter(pk=to_user_id, is_active=True).first()
    if target is None or not is_agent(target):
        raise ApplicationError("Transfer to an active agent.", code=ErrorCode.INVALID)
    before = escalation.claimed_by_id
    escalation.claimed_by, escalation.claimed_at = target, timezone.now()
    escalation.save(update_fields=["claimed_by", "claimed_at"])
    audit(actor=agent, action="escalation.transfer", obj=escalation, before=before, after=target.pk)
    return escalation


@transaction.atomic
def escalation_reply(*, escalation: Escalation, agent, text: str) -> Message:
    """The agent's words appear in the customer's open chat."""
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    _require_owner(escalation, agent)
    text = text.strip()
    if not text:
        raise ApplicationError("The reply is empty.", code=ErrorCode.EMPTY)
    message = Message.objects.create(
        conversation_id=escalation.conversation_id, role=Message.Role.AGENT, text=text[:10_000], author=agent
    )
    now = timezone.now()
    if escalation.first_reply_at is None:
        escalation.first_reply_at = now
        escalation.save(update_fields=["first_reply_at"])
    Conversation.objects.filter(pk=escalation.conversation_id).update(last_activity_at=now)
    support_services.agent_typing_clear(conversation_id=escalation.conversation_id)
    audit(actor=agent, action="escalation.reply", obj=escalation, after=message)
    return message


def escalation_typing(*, escalation: Escalation, agent) -> None:
    """The owner is writing a reply; the customer sees "… is typing" (no write, a cache key)."""
    _require_owner(escalation, agent)
    support_services.agent_typing_mark(conversation_id=escalation.conversation_id, name=agent.first_name)


@transaction.atomic
def escalation_note(*, escalation: Escalation, agent, text: str) -> EscalationNote:
    _require_agent(agent)
    if not text.strip():
        raise ApplicationError("The note is empty.", code=ErrorCode.EMPTY)
    note = EscalationNote.objects.create(escalation=escalation, author=agent, text=text.strip()[:10_000])
    audit(actor=agent, action="escalation.note", obj=escalation, after=note)
    return note


@transaction.atomic
def escalation_resolve(*, escalation: Escalation, agent, outcome: str) -> Escalation:
    """Resolved conversations close: the next customer message starts a new one, so
    a resolved case never loops back into the queue."""
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    _require_owner(escalation, agent)
    if outcome not in Escalation.Outcome.values:
        raise ApplicationError(f"Unknown outcome {outcome!r}.", code=ErrorCode.INVALID)
    now = timezone.now()
    transition(escalation, Escalation.Status.RESOLVED, outcome=outcome, resolved_at=now)
    Conversation.objects.filter(pk=escalation.conversation_id).update(
        status=Conversation.Status.CLOSED, closed_at=now, close_reason="resolved"
    )
    audit(actor=agent, action="escalation.resolve", obj=escalation, outcome=outcome)
    return escalation


def escalation_open(
    *,
    conversation: Conversation,
    message: Message | None,
    reason: str,
    priority: int,
    detail: str = "",
    flow: dict | None = None,
) -> None:
    """Open an escalation unless one is open already.

    One INSERT: the database's one-open-escalation-per-conversation constraint
    makes it a no-op when a person already owns the conversation."""
    Escalation.objects.bulk_create(
        [
            Escalation(
                conversation=conversation,
                trigger_message=message,
                reason=reason,
                priority=priority,
                detail=detail[:300],
                flow=flow,
            )
        ],
        ignore_conflicts=True,
    )


# --- Corrections ------------------------------------------------------------------------------------


def question_for(message: Message) -> str:
    if message.reply_to_id:
        return message.reply_to.text
    earlier = (
        Message.objects.filter(conversation_id=message.conversation_id, role=Message.Role.CUSTOMER, id__lt=message.pk)
        .order_by("-id")
        .first()
    )
    return earlier.text if earlier else ""


@transaction.atomic
def correction_create(
    *, message: Message, agent, problem: str, corrected_text: str, document_ids: list[int] | None = None
) -> Correction:
    if not (is_agent(agent) or is_curator(agent)):
        raise ApplicationError("Only agents and curators record corrections.", code=ErrorCode.FORBIDDEN)
    if message.role != Message.Role.BOT:
        raise ApplicationError("Only bot replies can be corrected.", code=ErrorCode.INVALID)
    if problem not in Correction.Problem.values:
        raise ApplicationError(f"Unknown problem type {problem!r}.", code=ErrorCode.INVALID)
    if not corrected_text.strip():
        raise ApplicationError("Write what the answer should have been.", code=ErrorCode.EMPTY)
    question = question_for(message)
    if not question:
        raise ApplicationError("This reply answers no customer question.", code=ErrorCode.INVALID)
    correction = Correction.objects.create(
        message=message, question=question, problem=problem, corrected_text=corrected_text.strip(), created_by=agent
    )
    if document_ids:
        correction.documents.set(Document.objects.filter(pk__in=document_ids))
    audit(actor=agent, action="correction.create", obj=correction, before=message)
    return correction


@transaction.atomic
def correction_accept(*, correction: Correction, curator) -> ApprovedAnswerVersion:
    """The correction becomes a draft approved answer; the customer's question is its first variant."""
    if not is_curator(curator):
        raise ApplicationError("Only curators accept corrections.", code=ErrorCode.FORBIDDEN)
    correction = Correction.objects.select_for_update().get(pk=correction.pk)
    if correction.status != Correction.Status.OPEN:
        raise ApplicationError("This correction was already reviewed.", code=ErrorCode.CONFLICT)
    version = knowledge_services.approved_version_create(
        title=correction.question[:120],
        text=correction.corrected_text,
        variants=[correction.question],
        user=curator,
        note=f"From correction #{correction.pk} ({correction.get_problem_display()})",
    )
    transition(
        correction,
        Correction.Status.ACCEPTED,
        approved_version=version,
        reviewed_by=curator,
        reviewed_at=timezone.now(),
    )
    audit(actor=curator, action="correction.accept", obj=correction, after=version)
    return version


@transaction.atomic
def correction_reject(*, correction: Correction, curator) -> Correction:
    if not is_curator(curator):
        raise ApplicationError("Only curators review corrections.", code=ErrorCode.FORBIDDEN)
    correction = Correction.objects.select_for_update().get(pk=correction.pk)
    # Refused unless still open: an accepted correction's approved answer already exists.
    transition(correction, Correction.Status.REJECTED, reviewed_by=curator, reviewed_at=timezone.now())
    audit(actor=curator, action="correction.reject", obj=correction)
    return correction


# An agent whose console asked for anything within this long is "online"; the queue and an open
# conversation refresh every 3 s, so an open console keeps its agent online.
PRESENCE_SECONDS = 60


_marked: dict[int, float] = {}  # agent id → when this process last wrote their presence


def agent_seen(*, agent) -> None:
    """The agent's console is open (any console page or its live refresh). Written at most every
    half PRESENCE_SECONDS per process, not on every 3 s refresh: the key never lapses meanwhile."""
    now = time.monotonic()
    if now - _marked.get(agent.pk, -PRESENCE_SECONDS) < PRESENCE_SECONDS / 2:
        return
    _marked[agent.pk] = now
    cache.set(f"presence:{agent.pk}", timezone.now().timestamp(), PRESENCE_SECONDS)


def agents_online(agent_ids: list[int]) -> set[int]:
    """Which of these agents have a console open now."""
    seen = cache.get_many([f"presence:{pk}" for pk in agent_ids])
    return {pk for pk in agent_ids if f"presence:{pk}" in seen}
