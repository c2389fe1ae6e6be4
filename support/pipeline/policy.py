"""Conversation policy, stage 1: rate limits, turn limit, token budgets.

Rate limits are fixed windows in the shared cache (every web process sees
the same counters); exceeding one is the caller's error (HTTP 429 with
Retry-After), not a reply. The turn limit and the per-conversation budget
end the turn with a `limit` reply that offers a person; a spent daily
budget leaves only approved answers and escalations.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from core import cache as counters
from core.errors import ApplicationError, ErrorCode
from support.pipeline.types import Kind, Reason, Reply


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
    from support.models import DailyUsage

    day = timezone.localdate(now or timezone.now())
    return DailyUsage.objects.filter(date=day).values_list("tokens", flat=True).first() or 0


def add_daily_tokens(tokens: int, now=None) -> None:
    """Count tokens against today's budget with one atomic UPDATE (every process shares the row)."""
    from django.db import IntegrityError, transaction
    from django.db.models import F

    from support.models import DailyUsage

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
        from insights.models import Alert
        from insights.services import alert_raise

        alert_raise(
            kind=Alert.Kind.DAILY_BUDGET,
            message=f"The daily token budget ({settings.CHAT_DAILY_TOKEN_BUDGET:,}) is spent: only approved answers "
            "and hand-overs until midnight UTC",
        )
    return None, spent
