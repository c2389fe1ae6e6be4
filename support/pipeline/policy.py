"""Conversation policy, the first stage: rate limits, inactivity, turn limit, token budgets.

Rate limits are fixed windows in the shared cache (every web process sees
the same counters); exceeding one is the caller's error (HTTP 429 with
Retry-After), not a reply. The turn limit and the per-conversation budget
end the turn with a `limit` reply that offers a person; a spent daily
budget leaves only approved answers and escalations.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core import cache as counters
from core import events
from core.choices import Reason
from core.choices import ReplyKind as Kind
from core.errors import ApplicationError, ErrorCode
from core.events import AlertKind
from support.models import Conversation, DailyUsage
from support.pipeline.types import Reply


def rate_limit(*limits: tuple[str, str, int]) -> None:
    """Count one event against each (scope, ident, limit) and raise 429 when any is over.

    Every limit is counted, the refused event too: a client that keeps sending over the
    limit stays over it."""
    window = settings.CHAT_RATE_WINDOW_SECONDS
    bucket = int(time.time() // window)
    counts = counters.count([f"rl:{scope}:{ident}:{bucket}" for scope, ident, _ in limits], window + 5)
    if any(count > limit for count, (_, _, limit) in zip(counts, limits, strict=True)):
        wait = max(1, int(window - time.time() % window))
        raise ApplicationError(
            f"Too many messages; try again in {wait} seconds.",
            code=ErrorCode.RATE_LIMITED,
            extra={"retry_after": wait},
        )


def daily_tokens_used(now=None) -> int:
    day = timezone.localdate(now or timezone.now())
    return DailyUsage.objects.filter(date=day).values_list("tokens", flat=True).first() or 0


def add_daily_tokens(tokens: int, now=None) -> None:
    """Count tokens against today's budget with one atomic UPDATE (every process shares the row)."""
    if tokens <= 0:
        return
    day = timezone.localdate(now or timezone.now())
    if DailyUsage.objects.filter(date=day).update(tokens=F("tokens") + tokens):
        return
    try:
        with transaction.atomic():
            DailyUsage.objects.create(date=day, tokens=tokens)
    except IntegrityError:  # another process created today's row first
        DailyUsage.objects.filter(date=day).update(tokens=F("tokens") + tokens)


def limit_reply(reason: str) -> Reply:
    text = (
        "We've reached the limit of what I can answer in this chat. "
        "If your question is still open, choose “Talk to a person” and a member of our team will take over."
    )
    return Reply(kind=Kind.LIMIT, text=text, reason=Reason.LIMIT, detail=reason, close_conversation=reason)


def check(conversation) -> tuple[Reply | None, bool]:
    """A `limit` reply when this conversation may not go on, and whether the daily budget is spent."""
    if conversation.turns >= settings.CHAT_MAX_TURNS:
        return limit_reply("max_turns"), False
    if conversation.tokens_used >= settings.CHAT_CONVERSATION_TOKEN_BUDGET:
        return limit_reply("conversation_budget"), False
    spent = daily_tokens_used() >= settings.CHAT_DAILY_TOKEN_BUDGET
    if spent:
        events.alert(
            AlertKind.DAILY_BUDGET,
            f"The daily token budget ({settings.CHAT_DAILY_TOKEN_BUDGET:,}) is spent: only approved answers "
            "and hand-overs until midnight UTC",
        )
    return None, spent


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class NewConversation:
    conversation: Conversation
    token: str


CONTEXT_FIELDS = ("page_url", "user_agent", "language")


def conversation_open(
    *, channel: str = "api", ip: str = "", previous: Conversation | None = None, context: dict[str, str] | None = None
) -> NewConversation:
    """A new conversation and the token that is its only key (stored hashed). `context` is where the
    customer wrote from (CONTEXT_FIELDS); a conversation that follows another keeps its context."""
    if ip:
        rate_limit(("new", ip, settings.CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP))
    token = secrets.token_urlsafe(32)
    given = context or {}
    values = {
        name: (given.get(name) or (getattr(previous, name) if previous else "") or "")[
            : Conversation._meta.get_field(name).max_length
        ]
        for name in CONTEXT_FIELDS
    }
    conversation = Conversation.objects.create(
        token_hash=hash_token(token), channel=channel, previous=previous, **values
    )
    return NewConversation(conversation, token)


def conversation_close(*, conversation: Conversation, reason: str) -> None:
    Conversation.objects.filter(pk=conversation.pk).exclude(status=Conversation.Status.CLOSED).update(
        status=Conversation.Status.CLOSED, closed_at=timezone.now(), close_reason=reason
    )
    conversation.refresh_from_db()


def _expired(conversation: Conversation, now) -> bool:
    idle = timedelta(seconds=settings.CHAT_INACTIVITY_TIMEOUT_SECONDS)
    return conversation.status == Conversation.Status.OPEN and now - conversation.last_activity_at > idle


def admit(*, conversation: Conversation, ip: str, now) -> tuple[Conversation, str | None]:
    """Count the message against the rate limits (429 before anything is written), then the
    conversation it belongs to: a closed or idle one is followed by a new one (and its token)."""
    limits = [("conv", str(conversation.pk), settings.CHAT_RATE_LIMIT_PER_CONVERSATION)]
    if ip:
        limits.append(("ip", ip, settings.CHAT_RATE_LIMIT_PER_IP))
    rate_limit(*limits)
    if _expired(conversation, now):
        conversation_close(conversation=conversation, reason="inactivity")
    if conversation.status == Conversation.Status.CLOSED:
        fresh = conversation_open(channel=conversation.channel, previous=conversation)
        return fresh.conversation, fresh.token
    return conversation, None
