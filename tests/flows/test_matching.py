"""Trigger matching: the classifier picks the flow, the typicality-scaled closeness and one threshold
say whether any flow fires, and the fitted matcher follows the approved flows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from core.embeddings import embed_query
from flows import matching, selectors, services

ORDER = {
    "name": "order-status",
    "objective": "The customer knows where the order is.",
    "triggers": ["where is my order", "has my order shipped", "track my parcel", "when will my order arrive"],
    "steps": [{"say": "Let me look."}],
}
RETURN = {
    "name": "start-return",
    "objective": "A return is opened.",
    "triggers": ["i want to return my bike", "how do i send this back", "start a return", "i want a refund"],
    "steps": [{"say": "Let's start a return."}],
}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_the_classifier_picks_the_flow_whose_distinguishing_direction_the_message_has():
    # Flow a's examples share a +e1 feature and wander along e3 (wording that varies); flow b's sit
    # tight on -e1. A message with a little +e1 and none of a's wandering is nearer b's centroid,
    # but a logistic regression knows e1 is what tells them apart.
    rng = np.random.default_rng(0)
    e = np.eye(384)
    a = np.stack([e[0] + 0.3 * e[1] + t * e[3] + 0.02 * rng.standard_normal(384) for t in np.linspace(0, 1.2, 10)])
    b = np.stack([e[0] - 0.3 * e[1] + 0.02 * rng.standard_normal(384) for _ in range(10)])
    matcher = matching.fit([("a", a), ("b", b)])
    message = _unit(e[0] + 0.15 * e[1])

    assert np.argmax(matcher.centroids @ message) == 1  # the nearest centroid says b
    best = matcher.score(message)[0]
    assert matcher.keys[best.index] == "a" and best.probability > 0.7


def test_a_message_the_classifier_hesitates_over_gets_less_confidence_than_its_closeness_alone():
    # Three tight flows on e0, e1, e2. A message of a alone gains a little over its closeness (p near
    # 1 among three flows); one halfway between a and b loses (p near one half).
    rng = np.random.default_rng(1)
    e = np.eye(384)
    groups = [np.stack([_unit(e[i] + 0.05 * rng.standard_normal(384)) for _ in range(10)]) for i in range(3)]
    matcher = matching.fit([(k, g) for k, g in zip("abc", groups, strict=True)])
    clear = _unit(e[0])
    torn = _unit(e[0] + e[1])

    def closeness(message: np.ndarray, index: int) -> float:
        return float(matcher.centroids[index] @ message / matcher.typicality[index] ** matching.TYPICALITY_POWER)

    def term(probability: float) -> float:
        return matching.PROBABILITY_WEIGHT * (math.log(probability) + matching.FLOWS_EXPONENT * math.log(3))

    sure = matcher.score(clear)[0]
    assert matcher.keys[sure.index] == "a" and sure.probability > 0.9
    assert term(sure.probability) > 0
    assert sure.confidence == pytest.approx(closeness(clear, sure.index) + term(sure.probability), abs=1e-4)

    unsure = matcher.score(torn)[0]
    assert matcher.keys[unsure.index] in ("a", "b") and unsure.probability < 0.6
    assert term(unsure.probability) < -0.02
    assert unsure.confidence == pytest.approx(closeness(torn, unsure.index) + term(unsure.probability), abs=1e-4)
    # one flow: nothing to hesitate between
    single = matching.fit([("a", groups[0])])
    assert single.score(torn)[0].confidence == pytest.approx(
        float(single.centroids[0] @ torn / single.typicality[0] ** matching.TYPICALITY_POWER), abs=1e-5
    )


def test_a_flow_of_one_example_gets_the_prior_typicality_and_few_examples_are_shrunk_towards_it():
    e = np.eye(384)
    assert matching.typicality(e[:1]) == matching.TYPICALITY_PRIOR
    tight = np.stack([_unit(e[0] + 0.01 * e[i]) for i in (1, 2)])
    observed = 0.99995  # two nearly equal examples
    shrunk = matching.typicality(tight)
    assert matching.TYPICALITY_PRIOR < shrunk < observed
    expected = (observed + matching.PRIOR_WEIGHT * matching.TYPICALITY_PRIOR) / (1 + matching.PRIOR_WEIGHT)
    assert shrunk == pytest.approx(expected, abs=1e-3)


def test_the_threshold_is_the_setting_up_to_the_reference_number_of_flows_and_rises_past_it():
    e = np.eye(384)

    def matcher(flows: int) -> matching.Matcher:
        return matching.Matcher(
            keys=tuple(range(flows)),
            examples=e[:1],
            owner=np.zeros(1, dtype=int),
            starts=np.zeros(1, dtype=int),
            centroids=e[:1],
            typicality=np.ones(1),
            weights=None,
            bias=None,
        )

    assert matcher(3).threshold(0.55) == 0.55
    assert matcher(matching.REFERENCE_FLOWS).threshold(0.55) == 0.55
    doubled = matcher(2 * matching.REFERENCE_FLOWS).threshold(0.55)
    assert doubled == pytest.approx(0.55 + matching.THRESHOLD_PER_LOG_FLOWS * math.log(2))


@pytest.mark.django_db
def test_flow_trigger_threshold_decides_whether_the_best_flow_fires():
    services.flow_version_approve(version=services.flow_version_create(definition=ORDER))
    services.flow_version_approve(version=services.flow_version_create(definition=RETURN))
    vector = embed_query("can you tell me where my order is")
    best = selectors.trigger_matches(vector=vector)[0]
    assert best.name == "order-status"
    with override_settings(FLOW_TRIGGER_THRESHOLD=best.score + 0.01):
        assert selectors.trigger_match(vector=vector) is None
    with override_settings(FLOW_TRIGGER_THRESHOLD=best.score - 0.01):
        assert selectors.trigger_match(vector=vector).name == "order-status"
    # an explicit threshold (evaluate_triggers --threshold) overrides the setting
    assert selectors.trigger_match(vector=vector, threshold=best.score + 0.01) is None


@pytest.mark.django_db
def test_a_message_no_flow_covers_starts_none():
    services.flow_version_approve(version=services.flow_version_create(definition=ORDER))
    services.flow_version_approve(version=services.flow_version_create(definition=RETURN))
    assert selectors.trigger_match(vector=embed_query("what is the capital of peru")) is None
    assert selectors.trigger_match(vector=embed_query("i'd like to return this helmet")).name == "start-return"


@pytest.mark.django_db
def test_the_matcher_follows_the_approved_flows_and_costs_one_query_a_turn_once_fitted(
    django_assert_num_queries,
):
    services.flow_version_approve(version=services.flow_version_create(definition=ORDER))
    vector = embed_query("i want to return my bike")
    assert all(m.name == "order-status" for m in selectors.trigger_matches(vector=vector))
    services.flow_version_approve(version=services.flow_version_create(definition=RETURN))
    assert selectors.trigger_match(vector=vector).name == "start-return"  # refitted with the new flow
    with django_assert_num_queries(1):  # which versions are approved; the fitted matcher is reused
        selectors.trigger_match(vector=vector)


@pytest.mark.django_db
def test_evaluate_triggers_reports_in_scope_accuracy_and_oos_recall(tmp_path, capsys):
    examples = tmp_path / "few.jsonl"
    test = tmp_path / "test.jsonl"
    rows = [{"text": t, "intent": "order"} for t in ORDER["triggers"]]
    rows += [{"text": t, "intent": "return"} for t in RETURN["triggers"]]
    examples.write_text("\n".join(json.dumps(r) for r in rows))
    tests = [
        {"text": "where's my parcel, has it shipped", "intent": "order"},
        {"text": "i'd like to return my bike for a refund", "intent": "return"},
        {"text": "what is the capital of peru", "intent": "oos"},
    ]
    test.write_text("\n".join(json.dumps(r) for r in tests))

    # the shop's own approved flow (a trigger example equal to a test message) takes no part
    shop = services.flow_version_approve(
        version=services.flow_version_create(definition={**ORDER, "name": "shop-flow", "triggers": ["capital of peru"]})
    )

    call_command("evaluate_triggers", examples=str(examples), test=str(test))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result == {"accuracy": 1.0, "in_scope_accuracy": 1.0, "oos_recall": 1.0, "n": 3}
    shop.refresh_from_db()
    assert shop.status == "approved"  # restored by the rollback

    call_command("evaluate_triggers", examples=str(examples), test=str(test), hold_out=1, seed=1)
    held = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert held["n"] == 3 and held["in_scope_accuracy"] is not None and held["oos_recall"] is not None
    with pytest.raises(CommandError, match="--hold-out"):
        call_command("evaluate_triggers", examples=str(examples), test=str(test), hold_out=2)
