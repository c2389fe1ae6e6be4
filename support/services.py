"""Writes for conversations: create, post a customer message (the whole turn
is support.pipeline.run.turn), feedback, hand-over, contact address."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core import live
from core.choices import Priority, Reason
from core.choices import ReplyKind as Kind
from core.errors import ApplicationError, ErrorCode
from support import hours, selectors
from support.models import Conversation, Message
from support.pipeline import policy, record, run
from support.pipeline.policy import NewConversation, hash_token
from support.pipeline.run import TurnResult


def conversation_create(
    *, channel: str = "api", ip: str = "", previous: Conversation | None = None, context: dict[str, str] | None = None
) -> NewConversation:
    return policy.conversation_open(channel=channel, ip=ip, previous=previous, context=context)


def access_conversation(conversation_id, token: str) -> Conversation:
    """The conversation, if the token is its own; never tells whether another exists."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not token or not secrets.compare_digest(conversation.token_hash, hash_token(token)):
        raise ApplicationError("No such conversation.", code=ErrorCode.NOT_FOUND)
    return conversation


def message_post(*, conversation: Conversation, text: str, ip: str = "") -> TurnResult:
    """One customer turn: the pipeline, from the rate limits to the recorded reply."""
    return run.turn(conversation=conversation, text=text, ip=ip)


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
    record.hand_over(
        conversation=conversation, message=message, reason=Reason.CUSTOMER_ASKED, priority=Priority.CUSTOMER_ASKED
    )
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


def _valid_email(email: str) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("That does not look like an email address.", code=ErrorCode.INVALID) from None
    return email


def conversation_set_contact(*, conversation: Conversation, email: str) -> None:
    """Outside support hours the customer leaves an address for the answer."""
    Conversation.objects.filter(pk=conversation.pk).update(contact_email=_valid_email(email))


def transcript_email(*, conversation: Conversation, email: str) -> None:
    """The conversation as plain text to the customer's address. Counted per conversation
    (CHAT_TRANSCRIPT_EMAILS_PER_WINDOW): the chat is public and must not become a way to mail anyone."""
    email = _valid_email(email)
    policy.rate_limit(("transcript", str(conversation.pk), settings.CHAT_TRANSCRIPT_EMAILS_PER_WINDOW))
    company = settings.SUPPORT_COMPANY_NAME or "our support team"
    lines = []
    for m in selectors.transcript(conversation=conversation).select_related("author"):
        if m.role == Message.Role.CUSTOMER:
            who = "You"
        elif m.role == Message.Role.AGENT:
            who = (m.author.first_name if m.author else "") or "Support team"
        else:
            who = "Assistant"
        lines.append(f"{who}: {m.text}\n")
    body = f"Your conversation with {company}, {timezone.localtime():%Y-%m-%d %H:%M}.\n\n" + "\n".join(lines)
    send_mail(f"Your conversation with {company}", body, None, [email])


# How long "… is typing" shows after the agent's last keystroke (the console sends one at most
# every 2 s while the agent types; a chat without a stream polls every 3 s).
TYPING_SECONDS = 6


def agent_typing_mark(*, conversation_id, name: str) -> None:
    """The agent is writing a reply: the customer's chat says so for a few seconds (pushed at once
    to an open chat, which fetches again when the seconds are up)."""
    cache.set(f"typing:{conversation_id}", name or "Support team", TYPING_SECONDS)
    live.notify(live.conversation_topic(conversation_id), "typing", seconds=TYPING_SECONDS)


def agent_typing_clear(*, conversation_id) -> None:
    """The agent sent their reply: "… is typing" goes with it, not seconds later."""
    cache.delete(f"typing:{conversation_id}")


def agent_typing(conversation: Conversation) -> str:
    """The name of the agent writing to this conversation now, or ""."""
    return cache.get(f"typing:{conversation.pk}", "")
