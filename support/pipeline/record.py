"""Record, the last stage: the reply with its full provenance, the conversation's
counters, the hand-over and the guard's security event, in one transaction.

Everything a turn writes is written here (the stages before it only read), so
`run.answer` can be replayed by evaluation without a trace."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from core import events
from core.choices import Reason
from core.choices import ReplyKind as Kind
from guardrails.scoring import GuardResult
from guardrails.services import security_event_record
from support.models import Citation, Conversation, FlowRun, Message
from support.pipeline import flow, policy
from support.pipeline.types import Reply, Turn


@transaction.atomic
def reply_record(
    *, conversation: Conversation, customer_text: str, turn: Turn, reply: Reply, now, fingerprint: str
) -> Message:
    """The reply and everything that produced it, in one transaction."""
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
        config_fingerprint=fingerprint,
        tokens_in=reply.tokens_in,
        tokens_out=reply.tokens_out,
        attempts=reply.attempts,
        latency_ms=total_ms,
        stage_ms=dict(turn.stage_ms),  # as it stood when recorded (record itself is timed after)
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
    if turn.flow_left is not None:  # the customer left one flow for another
        flow_record(conversation=conversation, update=turn.flow_left, now=now)
    if turn.flow is not None:
        flow_record(conversation=conversation, update=turn.flow, now=now, ending=reply.escalate)
    if reply.escalate:
        status = Conversation.Status.HUMAN  # a person owns it now
        hand_over(
            conversation=conversation, message=bot, reason=reply.reason, priority=reply.priority, detail=reply.detail
        )
    conversation_count_turn(
        conversation,
        now=now,
        tokens=tokens,
        # A flow's own steps do not use up the conversation's questions (its step limit bounds it).
        turns=0 if reply.kind in (Kind.LIMIT, Kind.FLOW) else 1,
        status=status,
        close_reason=reply.close_conversation,
    )
    policy.add_daily_tokens(tokens)
    if turn.guard is not None:
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


def conversation_count_turn(
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
        if hasattr(field, "from_db_value"):  # a JSON column comes back as text from a raw cursor
            value = field.from_db_value(value, None, connection)
        setattr(conversation, field.attname, value)


def flow_record(*, conversation: Conversation, update: flow.FlowUpdate, now, ending: bool = False) -> None:
    """The flow's run and the conversation's flow state after this turn. A run that is still active
    keeps its state on the conversation; one that ended clears it (one flow at a time). With
    `ending` (the turn hands over), an active run stays on the conversation for `hand_over`."""
    state = update.state
    values = {
        "status": update.status,
        "end_reason": update.end_reason,
        "slots": state.get("slots", {}),
        "turns": state.get("turns", 0),
        "steps": state.get("steps", 0),
        "ended_at": None if update.status == FlowRun.Status.ACTIVE else now,
    }
    if update.run_id is None:
        run = FlowRun.objects.create(
            conversation=conversation,
            version_id=update.version_id,
            flow_name=update.flow_name,
            started_at=now,
            **values,
        )
        run_id = run.pk
    else:
        run_id = update.run_id
        FlowRun.objects.filter(pk=run_id).update(**values)
    if update.status == FlowRun.Status.ACTIVE or (ending and update.status == FlowRun.Status.HANDED_OFF):
        flow_state = {"run": run_id, "version": update.version_id, "state": state}
    else:
        flow_state = {}
    Conversation.objects.filter(pk=conversation.pk).update(flow_state=flow_state)
    conversation.flow_state = flow_state


def _flow_handover(conversation: Conversation) -> dict | None:
    """A person takes over mid-flow: the run ends handed off, and its context goes to the agent."""
    active = conversation.flow_state or {}
    if not active:
        return None
    context = flow.handoff_context(active["version"], active.get("state", {}), active.get("run"))
    FlowRun.objects.filter(pk=active.get("run"), status=FlowRun.Status.ACTIVE).update(
        status=FlowRun.Status.HANDED_OFF, end_reason="escalated", ended_at=timezone.now()
    )
    Conversation.objects.filter(pk=conversation.pk).update(flow_state={})
    conversation.flow_state = {}
    return context


def hand_over(
    *, conversation: Conversation, message: Message | None, reason: str, priority: int, detail: str = ""
) -> None:
    """A person takes over: the escalation app opens the queue entry, in this transaction, with the
    flow under way (its objective and collected slots) when there is one."""
    events.handover_requested.send(
        sender=Conversation,
        conversation=conversation,
        message=message,
        reason=reason,
        priority=priority,
        detail=detail,
        flow=_flow_handover(conversation),
    )


@transaction.atomic
def customer_only_record(*, conversation: Conversation, text: str, now, guard: GuardResult | None = None) -> Message:
    """A person owns the conversation: what the customer wrote is kept, with the guard's verdict on
    it as a security event (as on a bot turn), and the bot stays silent."""
    message = Message.objects.create(conversation=conversation, role=Message.Role.CUSTOMER, text=text)
    Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=now)
    if guard is not None:
        security_event_record(result=guard, text=text, conversation=conversation, message=message)
    return message
