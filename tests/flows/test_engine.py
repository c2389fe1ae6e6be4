"""The flow engine on its own: no database, no network (calls go to a fake)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import engine
from flows.spec import parse

TODAY = date(2026, 12, 7)
ORDER = {
    "name": "order-status",
    "objective": "The customer knows where their order is.",
    "triggers": ["where is my order"],
    "steps": [
        {"collect": "order_number", "type": "order_number", "pattern": r"A-?\d{5}", "prompt": "Your order number?"},
        {"collect": "email", "type": "email", "prompt": "The e-mail you ordered with?"},
        {"call": "order", "url": "/orders/status/"},
        {"branch": "order.found", "cases": {"yes": "found"}, "default": "missing"},
        {"id": "found", "say": "Order {order_number} is {order.status}."},
        {"end": "Anything else?"},
        {"id": "missing", "handoff": "I could not find {order_number}."},
    ],
}


class FakeCall:
    def __init__(self, answer=None, fail=False):
        self.calls = []
        self.answer = answer if answer is not None else {"found": True, "status": "shipped"}
        self.fail = fail

    def __call__(self, url, payload):
        self.calls.append((url, payload))
        if self.fail:
            raise engine.CallFailed("down")
        return self.answer


def run(flow, messages, call=None, max_steps=40):
    call = call or FakeCall()
    spec = parse(flow)
    out = engine.start(spec, messages[0], call=call, today=TODAY, max_steps=max_steps)
    outs = [out]
    for text in messages[1:]:
        out = engine.advance(spec, out.state, text, call=call, today=TODAY, max_steps=max_steps)
        outs.append(out)
    return outs


def test_completes_asking_each_slot_in_turn_and_uses_the_call_response():
    call = FakeCall()
    outs = run(ORDER, ["where is my order?", "A-10423", "jo@example.com"], call)
    assert [o.text for o in outs[:2]] == ["Your order number?", "The e-mail you ordered with?"]
    assert outs[-1].status == engine.Status.COMPLETED
    assert outs[-1].text == "Order A-10423 is shipped. Anything else?"
    assert call.calls == [
        (
            "/orders/status/",
            {"flow": "order-status", "slots": {"order_number": "A-10423", "email": "jo@example.com"}, "settings": {}},
        )
    ]


def test_several_slots_in_one_message_are_all_taken():
    outs = run(ORDER, ["where is my order", "order a10432, email Jo@Example.com"])
    assert outs[-1].status == engine.Status.COMPLETED
    assert outs[-1].state["slots"]["order_number"] == "A10432"
    assert outs[-1].state["slots"]["email"] == "jo@example.com"


def test_slots_in_the_triggering_message_are_taken():
    outs = run(ORDER, ["where is my order A-10423?"])
    assert outs[0].text == "The e-mail you ordered with?"


def test_a_correction_replaces_the_slot_and_says_so():
    outs = run(ORDER, ["where is my order", "A-10432", "sorry, it's A-10423"])
    assert outs[-1].state["slots"]["order_number"] == "A-10423"
    assert outs[-1].text.startswith("Thanks, I've updated order number to A-10423.")
    assert outs[-1].text.endswith("The e-mail you ordered with?")


@pytest.mark.parametrize("word", ["cancel", "stop", "Stop please", "never mind", "forget it", "I changed my mind"])
def test_cancel_leaves_the_flow(word):
    outs = run(ORDER, ["where is my order", "A-10423", word])
    assert outs[-1].status == engine.Status.ABANDONED


def test_two_failed_tries_hand_off_with_what_was_collected():
    outs = run(ORDER, ["where is my order", "A-10423", "dunno", "no idea"])
    assert outs[2].status == engine.Status.ACTIVE and "e-mail" in outs[2].text
    assert outs[3].status == engine.Status.HANDED_OFF and outs[3].handoff_reason == "invalid_input"
    assert outs[3].state["slots"] == {"order_number": "A-10423"}


def test_a_question_mid_flow_is_deferred_with_the_pending_question():
    outs = run(ORDER, ["where is my order", "how long does delivery to Germany take?"])
    assert outs[1].defer and outs[1].status == engine.Status.ACTIVE
    assert outs[1].text == "Your order number?"
    assert outs[1].state["tries"] == 0  # a question is not a failed try


def test_a_failed_call_hands_off():
    outs = run(ORDER, ["where is my order", "A-10423 jo@example.com"], FakeCall(fail=True))
    assert outs[-1].status == engine.Status.HANDED_OFF and outs[-1].handoff_reason == "call_failed"
    assert outs[-1].state["slots"] == {"order_number": "A-10423", "email": "jo@example.com"}


def test_branch_default_goes_to_the_handoff_step():
    outs = run(ORDER, ["where is my order", "A-10423 jo@example.com"], FakeCall({"found": False}))
    assert outs[-1].status == engine.Status.HANDED_OFF and outs[-1].handoff_reason == "handoff_step"
    assert outs[-1].text == "I could not find A-10423."


LOOP = {
    "name": "loop",
    "objective": "never",
    "triggers": ["loop"],
    "steps": [
        {"id": "top", "say": "again"},
        {"branch": "mode", "cases": {"x": "top"}, "default": "top"},
        {"collect": "mode", "type": "text", "prompt": "mode?"},
    ],
}


def test_a_flow_cannot_loop_the_step_limit_hands_off():
    outs = run(LOOP, ["loop"], max_steps=25)
    assert outs[0].status == engine.Status.HANDED_OFF
    assert outs[0].handoff_reason == "step_limit"
    assert outs[0].state["steps"] == 25


def test_the_flows_own_max_steps_is_lower_than_the_setting():
    outs = run({**LOOP, "max_steps": 5}, ["loop"], max_steps=40)
    assert outs[0].handoff_reason == "step_limit" and outs[0].state["steps"] == 5


def test_without_the_step_limit_the_loop_flow_would_never_end():
    # The limit is what stops it: with a huge one the engine is still going after many more steps.
    outs = run(LOOP, ["loop"], max_steps=500)
    assert outs[0].state["steps"] == 500


def test_settings_are_usable_in_templates():
    flow = {
        "name": "returns",
        "objective": "o",
        "triggers": ["return"],
        "settings": {"window_days": 30},
        "steps": [{"say": "You have {window_days} days."}],
    }
    assert run(flow, ["return"])[0].text == "You have 30 days."


CHOICE = {
    "name": "pick",
    "objective": "o",
    "triggers": ["pick"],
    "steps": [
        {"collect": "size", "type": "choice", "choices": {"small": ["s"], "large": ["l", "big"]}, "prompt": "Size?"},
        {"collect": "when", "type": "date", "prompt": "When?"},
        {"collect": "qty", "type": "number", "prompt": "How many?"},
        {"say": "{size} {when} {qty}"},
    ],
}


def test_choice_date_and_number_slots():
    outs = run(CHOICE, ["pick", "the big one", "3 March 2026", "2"])
    assert outs[-1].text == "large 2026-03-03 2"


def test_a_typo_in_a_choice_is_forgiven():
    assert run(CHOICE, ["pick", "smal"])[-1].state["slots"] == {"size": "small"}
    assert run(CHOICE, ["pick", "sx"])[-1].state["slots"] == {}  # not close enough to anything
    outs = run(
        {**CHOICE, "steps": [{**CHOICE["steps"][0], "choices": ["medium", "large"]}, {"say": "{size}"}]},
        ["pick", "meduim"],
    )
    assert outs[-1].text == "medium"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=12))
def test_any_messages_end_or_wait_never_loop(messages):
    # Whatever the customer types, each message costs a bounded number of steps and the state stays sound.
    spec = parse(ORDER)
    out = engine.start(spec, "where is my order", call=FakeCall(), today=TODAY, max_steps=40)
    for text in messages:
        if out.status != engine.Status.ACTIVE:
            break
        before = out.state["steps"]
        out = engine.advance(spec, out.state, text, call=FakeCall(), today=TODAY, max_steps=40)
        assert out.state["steps"] - before <= len(spec.steps) + 1
        assert out.status in {
            engine.Status.ACTIVE,
            engine.Status.COMPLETED,
            engine.Status.ABANDONED,
            engine.Status.HANDED_OFF,
        }
        assert out.text or out.status in {engine.Status.ABANDONED, engine.Status.HANDED_OFF}
