"""The flow stage: a conversation's flow under way reads the message first; otherwise a message
whose meaning matches a flow's trigger examples (better than any approved answer) starts it.

Only reads (the call steps aside, which post to the shop's endpoint): what changes — the engine's
new state, the run's outcome — travels on `Turn.flow` as a FlowUpdate, and `record` writes it in
the turn's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.choices import Priority, Reason
from core.choices import ReplyKind as Kind
from flows import actions, engine, selectors
from flows.slots import mask_slots
from flows.spec import FlowSpec
from support.models import Conversation, FlowRun
from support.pipeline.types import Reply

logger = logging.getLogger(__name__)

CANCELLED_TEXT = "OK, I've stopped that. Is there anything else I can help you with?"


@dataclass
class FlowUpdate:
    """What `record` writes for the flow after a turn."""

    version_id: int
    flow_name: str
    run_id: int | None  # None: this turn starts the run
    state: dict[str, Any]
    status: str  # a FlowRun.Status
    end_reason: str = ""


@dataclass
class FlowStep:
    update: FlowUpdate
    reply: Reply | None = None  # the flow's reply, which ends the turn
    repeat: str = ""  # the message was a question: the pipeline answers it, then this is asked again
    signals: dict[str, Any] = field(default_factory=dict)
    left: FlowUpdate | None = None  # the run the customer left for another flow (a change of mind)


def _call(deadline: float | None):
    def call(url: str, payload: dict[str, Any]) -> dict[str, Any]:
        return actions.post(url, payload, deadline=deadline)

    return call


def _reply(spec: FlowSpec, outcome: engine.Outcome, handover: str) -> Reply:
    if outcome.status == engine.Status.HANDED_OFF:
        text = " ".join(t for t in (outcome.text, handover) if t)
        return Reply(
            kind=Kind.ESCALATED,
            text=text,
            reason=Reason.FLOW_HANDOFF,
            escalate=True,
            priority=Priority.NORMAL,
            detail=outcome.handoff_reason,
        )
    if outcome.status == engine.Status.ABANDONED:
        return Reply(kind=Kind.FLOW, text=CANCELLED_TEXT, reason=Reason.FLOW, detail="cancelled")
    return Reply(kind=Kind.FLOW, text=outcome.text, reason=Reason.FLOW)


_STATUS = {
    engine.Status.ACTIVE: FlowRun.Status.ACTIVE,
    engine.Status.COMPLETED: FlowRun.Status.COMPLETED,
    engine.Status.ABANDONED: FlowRun.Status.ABANDONED,
    engine.Status.HANDED_OFF: FlowRun.Status.HANDED_OFF,
}


def _step(version_id: int, spec: FlowSpec, run_id: int | None, outcome: engine.Outcome, handover: str) -> FlowStep:
    update = FlowUpdate(
        version_id=version_id,
        flow_name=spec.name,
        run_id=run_id,
        state=outcome.state,
        status=_STATUS[outcome.status],
        end_reason=outcome.handoff_reason or ("cancelled" if outcome.status == engine.Status.ABANDONED else ""),
    )
    signals = {
        "flow": spec.name,
        "status": outcome.status,
        "taken": outcome.taken,
        "slots": mask_slots(outcome.state.get("slots", {})),
    }
    if outcome.defer:
        return FlowStep(update, None, repeat=outcome.text, signals={**signals, "deferred": True})
    return FlowStep(update, _reply(spec, outcome, handover), signals=signals)


def advance(conversation: Conversation, text: str, *, vector, handover: str, deadline: float | None) -> FlowStep | None:
    """The active flow reads the message; None when no flow is under way.

    A message the flow cannot use (a failed try; not a question, which the pipeline answers) that
    asks for another flow is a change of mind: the run under way ends abandoned and the other flow
    starts with the message."""
    active = conversation.flow_state or {}
    if not active:
        return None
    found = selectors.version_spec(active["version"])
    if found is None:
        return None
    version, spec = found
    outcome = engine.advance(
        spec,
        active["state"],
        text,
        call=_call(deadline),
        today=timezone.localdate(),
        max_steps=settings.FLOW_MAX_STEPS,
    )
    if outcome.failed and vector is not None:
        other = selectors.trigger_match(vector=vector)
        if other is not None and other.name != spec.name:
            switched = start(
                other.version_id, text, handover=handover, deadline=deadline, known=active["state"].get("slots")
            )
            if switched is not None:
                left = engine.Outcome("", engine.Status.ABANDONED, {**active["state"], "turns": outcome.state["turns"]})
                switched.left = _step(version.pk, spec, active.get("run"), left, handover).update
                switched.left.end_reason = f"switched to {other.name}"[:32]
                switched.signals["left"] = spec.name
                return switched
    masked = mask_slots(outcome.state["slots"])
    logger.info("flow step", extra={"flow": spec.name, "status": outcome.status, "slots": masked})
    return _step(version.pk, spec, active.get("run"), outcome, handover)


def start(
    version_id: int, text: str, *, handover: str, deadline: float | None, known: dict[str, Any] | None = None
) -> FlowStep | None:
    """The flow `version_id` begins with this message."""
    found = selectors.version_spec(version_id)
    if found is None:
        return None
    version, spec = found
    outcome = engine.start(
        spec,
        text,
        call=_call(deadline),
        today=timezone.localdate(),
        max_steps=settings.FLOW_MAX_STEPS,
        known=known,
    )
    logger.info("flow started", extra={"flow": spec.name, "status": outcome.status})
    return _step(version.pk, spec, None, outcome, handover)


def handoff_context(version_id: int, state: dict[str, Any], run_id: int | None) -> dict[str, Any] | None:
    """What the agent is shown when a person takes over mid-flow: the flow, its objective and the
    slots collected (unmasked: the agent must not ask again)."""
    found = selectors.version_spec(version_id)
    if found is None:
        return None
    version, spec = found
    return {
        "flow": spec.name,
        "title": spec.title or spec.name.replace("-", " ").capitalize(),
        "objective": spec.objective,
        "version": version.number,
        "slots": _ordered(spec, state.get("slots", {})),
        "pending": engine.pending_prompt(spec, state),
        "run": run_id,
    }


def _ordered(spec: FlowSpec, slots: dict[str, Any]) -> dict[str, Any]:
    """What the customer gave first, in the order the flow asks for it, then what calls returned;
    empty values left out."""
    names = [s.slot for s in spec.collects() if s.slot in slots]
    names += sorted(k for k in slots if k not in names)
    return {k: slots[k] for k in names if slots[k] not in ("", None)}
