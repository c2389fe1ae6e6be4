"""Writes for conversations: create, post a customer message (run the
pipeline and record the reply with its provenance), feedback, hand-over."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApplicationError, ErrorCode
from support import hours
from support.models import Citation, Conversation, Message
from support.pipeline import policy, run
from support.pipeline.types import Kind, Reason, Reply
from support.selectors import CitedSource


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class NewConversation:
    conversation: Conversation
    token: str


@dataclass
class TurnResult:
    conversation: Conversation
    customer_message: Message
    reply: Message | None  # None while a person owns the conversation
    new_token: str | None = None  # set when the old conversation had closed and a new one began
    # The reply's citations as recorded, from the passages the pipeline cited: the API shows them
    # without reading back what this turn just wrote.
    citations: list[CitedSource] = dataclasses.field(default_factory=list)


def conversation_create(*, channel: str = "api", ip: str = "", previous: Conversation | None = None) -> NewConversation:
    if ip:
        policy.rate_limit(("new", ip, settings.CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP))
    token = secrets.token_urlsafe(32)
    conversation = Conversation.objects.create(token_hash=hash_token(token), channel=channel, previous=previous)
    return NewConversation(conversation, token)


def access_conversation(conversation_id, token: str) -> Conversation:
    """The conversation, if the token is its own; never tells whether another exists."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not token or not secrets.compare_digest(conversation.token_hash, hash_token(token)):
        raise ApplicationError("No such conversation.", code=ErrorCode.NOT_FOUND)
    return conversation


def _expired(conversation: Conversation, now) -> bool:
    idle = timedelta(seconds=settings.CHAT_INACTIVITY_TIMEOUT_SECONDS)
    return conversation.status == Conversation.Status.OPEN and now - conversation.last_activity_at > idle


def conversation_close(*, conversation: Conversation, reason: str) -> None:
    Conversation.objects.filter(pk=conversation.pk).exclude(status=Conversation.Status.CLOSED).update(
        status=Conversation.Status.CLOSED, closed_at=timezone.now(), close_reason=reason
    )
    conversation.refresh_from_db()


def message_post(*, conversation: Conversation, text: str, ip: str = "") -> TurnResult:
    """One customer turn. Rate limits raise ApplicationError (429) before anything is written."""
    limits = [("conv", str(conversation.pk), settings.CHAT_RATE_LIMIT_PER_CONVERSATION)]
    if ip:
        limits.append(("ip", ip, settings.CHAT_RATE_LIMIT_PER_IP))
    policy.rate_limit(*limits)
    now = timezone.now()
    new_token = None
    if _expired(conversation, now):
        conversation_close(conversation=conversation, reason="inactivity")
    if conversation.status == Conversation.Status.CLOSED:
        fresh = conversation_create(channel=conversation.channel, previous=conversation)
        conversation, new_token = fresh.conversation, fresh.token

    if conversation.status == Conversation.Status.HUMAN:
        # A person owns the conversation: record what the customer wrote, the bot stays silent.
        from support.pipeline import guard

        clean = guard.sanitize(text)
        with transaction.atomic():
            message = Message.objects.create(conversation=conversation, role=Message.Role.CUSTOMER, text=clean)
            Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=now)
        conversation.refresh_from_db()
        return TurnResult(conversation, message, None, new_token)

    turn, reply = run.answer(text=text, conversation=conversation, now=now)
    customer_text = turn.text or text[: settings.CHAT_MAX_MESSAGE_CHARS]
    bot = _record(conversation=conversation, customer_text=customer_text, turn=turn, reply=reply, now=now)
    citations = [
        CitedSource(p.n, p.document_id, p.version_title, p.version_number, p.chunk_id, p.heading_path, p.quote)
        for p in reply.passages
    ]
    return TurnResult(conversation, bot.reply_to, bot, new_token, citations)


@transaction.atomic
def _record(*, conversation: Conversation, customer_text: str, turn, reply: Reply, now) -> Message:
    """Stage 10: the reply and everything that produced it, in one transaction."""
    gap = reply.reason == Reason.NO_ANSWER and turn.vector is not None
    customer = Message.objects.create(
        conversation=conversation,
        role=Message.Role.CUSTOMER,
        text=customer_text,
        embedding=turn.vector if gap else None,
    )
    total_ms = round(sum(turn.stage_ms.values()))
    bot = Message.objects.create(
        conversation=conversation,
        role=Message.Role.BOT,
        text=reply.text,
        kind=reply.kind,
        reply_to=customer,
        reason=reply.reason,
        approved_version_id=reply.approved_version_id,
        composer=reply.composer,
        config_fingerprint=run.config_fingerprint(),
        tokens_in=reply.tokens_in,
        tokens_out=reply.tokens_out,
        attempts=reply.attempts,
        latency_ms=total_ms,
        stage_ms=turn.stage_ms,
        signals={**turn.signals, **({"detail": reply.detail} if reply.detail else {})},
    )
    Citation.objects.bulk_create(
        [
            Citation(message=bot, n=p.n, chunk_id=p.chunk_id, version_id=p.version_id, quote=p.quote)
            for p in reply.passages
        ]
    )
    tokens = reply.tokens_in + reply.tokens_out
    status = Conversation.Status.CLOSED if reply.close_conversation else None
    if reply.escalate:
        status = Conversation.Status.HUMAN  # a person owns it now
        _escalation_create(
            conversation=conversation, message=bot, reason=reply.reason, priority=reply.priority, detail=reply.detail
        )
    _conversation_count_turn(
        conversation,
        now=now,
        tokens=tokens,
        turns=0 if reply.kind == Kind.LIMIT else 1,
        status=status,
        close_reason=reply.close_conversation,
    )
    policy.add_daily_tokens(tokens)
    if turn.guard is not None:
        from guardrails.services import security_event_record

        # Every guard decision is a security event, allowed ones too, so reviewers see what passed.
        security_event_record(result=turn.guard, text=customer_text, conversation=conversation, message=customer)
    return bot


_COUNT_TURN_SQL = """
UPDATE {table}
   SET last_activity_at = %(now)s,
       tokens_used = tokens_used + %(tokens)s,
       turns = turns + %(turns)s,
       status = coalesce(%(status)s, status),
       closed_at = CASE WHEN %(close_reason)s <> '' THEN %(now)s ELSE closed_at END,
       close_reason = CASE WHEN %(close_reason)s <> '' THEN %(close_reason)s ELSE close_reason END
 WHERE id = %(id)s
RETURNING {columns}
"""


def _conversation_count_turn(
    conversation: Conversation, *, now, tokens: int, turns: int, status: str | None, close_reason: str
) -> None:
    """Add a turn to the conversation's counters (status and close reason when it changes hands or
    closes) and load the row as it now is into `conversation`.

    One UPDATE ... RETURNING: the ORM's update() returns no rows, and reading the row again
    afterwards (refresh_from_db) cost a query on every turn."""
    fields = Conversation._meta.concrete_fields
    sql = _COUNT_TURN_SQL.format(
        table=connection.ops.quote_name(Conversation._meta.db_table),
        columns=", ".join(connection.ops.quote_name(f.column) for f in fields),
    )
    params = {
        "now": now,
        "tokens": tokens,
        "turns": turns,
        "status": status,
        "close_reason": close_reason,
        "id": conversation.pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:  # deleted while the turn ran: as refresh_from_db would
        raise Conversation.DoesNotExist(f"Conversation {conversation.pk} no longer exists.")
    for field, value in zip(fields, row, strict=True):
        setattr(conversation, field.attname, value)


def _escalation_create(
    *, conversation: Conversation, message: Message | None, reason: str, priority: int, detail: str = ""
) -> None:
    """Open an escalation unless one is open already.

    One INSERT: the database's one-open-escalation-per-conversation constraint
    makes it a no-op when a person already owns the conversation."""
    from escalation.models import Escalation

    Escalation.objects.bulk_create(
        [
            Escalation(
                conversation=conversation,
                trigger_message=message,
                reason=reason,
                priority=priority,
                detail=detail[:300],
            )
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def handoff(*, conversation: Conversation) -> Message:
    """The customer asks for a person (button or API), from any state, even the first message."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    text = hours.handover_message(timezone.now())
    if conversation.status == Conversation.Status.HUMAN:
        last = conversation.messages.filter(role=Message.Role.BOT, kind=Kind.ESCALATED).last()
        if last is not None:
            return last
    message = Message.objects.create(
        conversation=conversation,
        role=Message.Role.BOT,
        text=text,
        kind=Kind.ESCALATED,
        reason=Reason.CUSTOMER_ASKED,
        config_fingerprint=run.config_fingerprint(),
    )
    _escalation_create(conversation=conversation, message=message, reason=Reason.CUSTOMER_ASKED, priority=30)
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.HUMAN, last_activity_at=timezone.now(), closed_at=None, close_reason=""
    )
    conversation.refresh_from_db()
    return message


def feedback_thumbs(*, conversation: Conversation, message_id: int, value: int) -> Message:
    if value not in (-1, 1):
        raise ApplicationError("thumbs must be 1 or -1.", code=ErrorCode.INVALID)
    message = Message.objects.filter(pk=message_id, conversation=conversation, role=Message.Role.BOT).first()
    if message is None:
        raise ApplicationError("No such reply in this conversation.", code=ErrorCode.NOT_FOUND)
    message.thumbs = value
    message.save(update_fields=["thumbs"])
    return message


def feedback_rating(*, conversation: Conversation, rating: int, comment: str = "") -> Conversation:
    if not 1 <= rating <= 5:
        raise ApplicationError("rating must be between 1 and 5.", code=ErrorCode.INVALID)
    conversation.rating = rating
    conversation.rating_comment = comment[:2000]
    conversation.save(update_fields=["rating", "rating_comment"])
    return conversation


def turns_left(conversation: Conversation) -> int:
    if conversation.status == Conversation.Status.CLOSED:
        return 0
    return max(0, settings.CHAT_MAX_TURNS - conversation.turns)
