"""The flow engine: one customer message in, the flow's reply and its new state out.

Plain functions over a FlowSpec and a JSON-able state dict; nothing here reads or writes the
database or the network. A `call` step runs through the `call` function the caller passes
(`flows.actions.post` in the chat, a fake in tests).

State: {"step": index of the next step, "slots": {...}, "pending": the slot asked for,
"tries": failed answers to it, "steps": steps run so far, "turns": customer messages}.

How a message is read, in order:
1. "cancel" / "stop" (and the like) leaves the flow.
2. Every slot of an unambiguous type (an order number, an e-mail, a choice's option) anywhere in
   the message is taken, so several slots in one message all count, and a new value replaces an
   old one (a correction: "sorry, it's A-10423").
3. The pending slot is read with its own type (a date, a number, free text).
4. Nothing taken: a question ("do you ship to Spain?") is not for the flow; the caller answers it
   and repeats the pending question. Anything else is a failed try: a re-prompt, and after
   FAILED_TRIES a hand-over with what was collected.
Then the steps run until one needs the customer (a collect) or the flow ends. Every step run
counts against the flow's step limit, so a flow whose branches go round in circles is handed
over instead of looping (max_steps, default FLOW_MAX_STEPS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flows import slots as slot_types
from flows.spec import PLACEHOLDER, FlowSpec, Step

FAILED_TRIES = 2
# Only these types are taken from anywhere in a message: their values cannot be mistaken for
# something else. Dates, numbers and free text are read only when they are the question asked.
EAGER_TYPES = ("order_number", "email", "choice")

CANCEL = re.compile(
    r"^\s*(?:please\s+)?(?:cancel|stop|quit|exit|abort|never\s*mind|nevermind|forget\s+it)\b"
    r"|\b(?:cancel|stop)\s+(?:this|that|it|the\s+\w+)\s*[.!]*$"
    r"|\bchanged?\s+my\s+mind\b",
    re.I,
)
QUESTION_START = re.compile(
    r"^\s*(?:what|how|when|where|why|who|which|can|could|do|does|did|is|are|will|would|should|may|shall)\b", re.I
)


class Status:
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    HANDED_OFF = "handed_off"


class CallFailed(Exception):
    """A call step got no usable answer (after its attempts, or with the breaker open)."""


# url, payload -> the response's fields
CallFn = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Outcome:
    text: str
    status: str
    state: dict[str, Any]
    handoff_reason: str = ""  # invalid_input, call_failed, handoff_step, step_limit
    # The message is not for the flow (a question): the pipeline answers it, then asks `text`.
    defer: bool = False
    taken: list[str] = field(default_factory=list)  # slots set by this message
    # The message filled nothing and was not a question: a failed try (a re-prompt, or the second
    # one's hand-over). The caller may see whether it asks for another flow instead.
    failed: bool = False


def new_state() -> dict[str, Any]:
    return {"step": 0, "slots": {}, "pending": "", "tries": 0, "steps": 0, "turns": 0}


def render(template: str, values: dict[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)


def _values(flow: FlowSpec, state: dict) -> dict[str, Any]:
    return {**flow.settings, **state["slots"]}


def _eager_steps(flow: FlowSpec) -> list[Step]:
    """Collect steps whose type appears once in the flow: a value of that type can only be for them."""
    collects = flow.collects()
    counts: dict[str, int] = {}
    for s in collects:
        counts[s.type] = counts.get(s.type, 0) + 1
    return [s for s in collects if s.type in EAGER_TYPES and counts[s.type] == 1]


def _take(flow: FlowSpec, state: dict, text: str, today: date) -> tuple[list[str], list[str]]:
    """Slots the message sets: (taken, corrected) names."""
    taken: list[str] = []
    corrected: list[str] = []
    slots = state["slots"]

    def put(step: Step, value: str) -> None:
        if step.slot in slots and slots[step.slot] != value:
            corrected.append(step.slot)
        if slots.get(step.slot) != value:
            taken.append(step.slot)
        slots[step.slot] = value

    eager = _eager_steps(flow)
    mentioned = False  # the message names a slot's value, new or the same as before
    for step in eager:
        value = slot_types.extract(step, text, today)
        if value is not None:
            mentioned = True
            put(step, value)
    pending = next((s for s in flow.collects() if s.slot == state["pending"]), None)
    # Free text is the whole message: not when the message was a slot of another kind or a question.
    if (
        pending is not None
        and pending not in eager
        and (pending.type != "text" or not (mentioned or _is_question(text)))
    ):
        value = slot_types.extract(pending, text, today)
        if value is not None:
            put(pending, value)
    if state["pending"] in slots:
        state["pending"], state["tries"] = "", 0
    return taken, corrected


def _is_question(text: str) -> bool:
    stripped = text.strip()
    return stripped.endswith("?") or bool(QUESTION_START.match(stripped) and len(stripped.split()) >= 3)


def _limit(flow: FlowSpec, default_max_steps: int) -> int:
    return flow.max_steps or default_max_steps


def start(
    flow: FlowSpec,
    text: str,
    *,
    call: CallFn,
    today: date,
    max_steps: int,
    intro: str = "",
    known: dict[str, Any] | None = None,
) -> Outcome:
    """The flow begins with the message that triggered it (which may already hold slots). `known`:
    slots the customer gave before (in a flow they left for this one); those this flow collects are
    kept, so nothing the customer typed is asked again."""
    state = new_state()
    state["turns"] = 1
    wanted = {s.slot for s in flow.collects()}
    state["slots"] = {k: v for k, v in (known or {}).items() if k in wanted}
    taken, _ = _take(flow, state, text, today)
    return _run(flow, state, call=call, max_steps=max_steps, said=[intro] if intro else [], taken=taken)


def advance(flow: FlowSpec, state: dict, text: str, *, call: CallFn, today: date, max_steps: int) -> Outcome:
    """The next customer message of a flow under way."""
    state = {**new_state(), **state, "slots": dict(state.get("slots", {}))}
    state["turns"] += 1
    if CANCEL.search(text):
        return Outcome("", Status.ABANDONED, state)
    taken, corrected = _take(flow, state, text, today)
    if not taken:
        pending = next((s for s in flow.collects() if s.slot == state["pending"]), None)
        if pending is None:  # nothing was asked (should not happen): carry on with the steps
            return _run(flow, state, call=call, max_steps=max_steps)
        if _is_question(text):
            return Outcome(render(pending.prompt, _values(flow, state)), Status.ACTIVE, state, defer=True)
        state["tries"] += 1
        if state["tries"] >= FAILED_TRIES:
            return Outcome("", Status.HANDED_OFF, state, handoff_reason="invalid_input", failed=True)
        again = pending.reprompt or f"Sorry, I didn't get that. {pending.prompt}"
        return Outcome(render(again, _values(flow, state)), Status.ACTIVE, state, failed=True)
    said = []
    if corrected:
        values = _values(flow, state)
        said.append(
            "Thanks, I've updated " + ", ".join(f"{n.replace('_', ' ')} to {values[n]}" for n in corrected) + "."
        )
    return _run(flow, state, call=call, max_steps=max_steps, said=said, taken=taken)


def _run(
    flow: FlowSpec,
    state: dict,
    *,
    call: CallFn,
    max_steps: int,
    said: list[str] | None = None,
    taken: list[str] | None = None,
) -> Outcome:
    said = list(said or [])
    taken = list(taken or [])
    limit = _limit(flow, max_steps)

    def out(status: str, reason: str = "") -> Outcome:
        return Outcome(" ".join(t for t in said if t).strip(), status, state, handoff_reason=reason, taken=taken)

    while state["step"] < len(flow.steps):
        if state["steps"] >= limit:
            return out(Status.HANDED_OFF, "step_limit")
        state["steps"] += 1
        step = flow.steps[state["step"]]
        values = _values(flow, state)
        if step.kind == "collect":
            if step.slot in state["slots"]:
                state["step"] += 1
                continue
            if state["pending"] != step.slot:
                state["pending"], state["tries"] = step.slot, 0
            said.append(render(step.prompt, values))
            return out(Status.ACTIVE)
        if step.kind == "say":
            said.append(render(step.text, values))
        elif step.kind == "call":
            payload = {"flow": flow.name, "slots": dict(state["slots"]), "settings": dict(flow.settings)}
            try:
                fields = call(step.url, payload)
            except CallFailed:
                return out(Status.HANDED_OFF, "call_failed")
            for key, value in fields.items():
                if isinstance(value, str | int | float | bool) or value is None:
                    state["slots"][f"{step.save_as}.{key}"] = _plain(value)
        elif step.kind == "branch":
            value = str(values.get(step.slot, "")).strip().lower()
            target = dict(step.cases).get(value) or step.default
            if target:
                state["step"] = flow.index_of(target)
                continue
        elif step.kind == "handoff":
            said.append(render(step.text, values))
            return out(Status.HANDED_OFF, "handoff_step")
        elif step.kind == "end":
            said.append(render(step.text, values))
            state["step"] = len(flow.steps)
            return out(Status.COMPLETED)
        state["step"] += 1
    return out(Status.COMPLETED)


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


def pending_prompt(flow: FlowSpec, state: dict) -> str:
    """The question the flow is waiting on ("" when none)."""
    step = next((s for s in flow.collects() if s.slot == state.get("pending")), None)
    return render(step.prompt, _values(flow, state)) if step else ""
