"""The reply-confidence gate and the learned yes/no detector: what they read, what they decide, and
that the pipeline obeys them."""

import json

import numpy as np
import pytest

from core import embeddings
from core.text import normalize_question
from support.pipeline import confidence, polarity, read
from support.pipeline.polarity import Decision
from support.reader import confidence as confidence_model
from support.reader import yes_no

# --- the features -----------------------------------------------------------------------------------


class _Hit:
    def __init__(self, document_id: int, cosine: float, sentence: np.ndarray):
        self.document_id, self.cosine, self.heading_path = document_id, cosine, "Returns > Members"
        self.sentence_vectors = sentence.astype(np.float16).tobytes()


def _reading(ps, docs, terms=None):
    cands = [read.Candidate(hit=i, index=0, text=f"Sentence number {i} states a rule.", p=p, is_item=False)
             for i, p in enumerate(ps)]  # fmt: skip
    axes = np.eye(384, dtype=np.float32)
    hits = [_Hit(d, 0.6 - 0.05 * i, axes[i]) for i, d in enumerate(docs)]
    return read.Reading(0.3, 0.0, cands, list(range(len(ps))), {}, terms or {}), hits


def _passage(quote: str):
    class P:
        pass

    p = P()
    p.quote = quote
    return p


def test_features_come_in_the_order_the_weights_expect():
    reading, hits = _reading([0.6, 0.3, 0.1], [1, 1, 2], terms={"gold": 2.0, "sofa": 1.0})
    q = np.zeros(384, dtype=np.float32)
    q[0], q[2] = 0.8, 0.6  # the answer's sentence is axis 0, the other document's axis 2
    x = confidence.features(
        "I'm Gold, can I return a sofa?", q, reading, hits, reading.candidates[0], [_passage("Gold members: 100 days")],
        True, Decision(polarity.NO, "the rule says no"),
    )  # fmt: skip
    named = dict(zip(confidence_model.FEATURES, x, strict=True))
    assert named["top_p"] == pytest.approx(0.6)
    assert named["top_document_share"] == pytest.approx(0.9)  # two of three candidates, 0.9 of the mass
    assert named["document_margin"] == pytest.approx(0.8)
    assert named["says_no"] == 1 and named["says_yes"] == 0 and named["asked_yes_no"] == 1
    assert named["terms_covered"] == pytest.approx(0.5)  # "gold" quoted, "sofa" not
    assert named["terms_weight_covered"] == pytest.approx(2 / 3)
    assert named["answer_is_top"] == 1
    assert named["reader_logit"] == pytest.approx(np.log(0.3 / 0.7))
    assert named["answer_sentence_cosine"] == pytest.approx(0.8, abs=1e-3)
    assert named["other_document_cosine_gap"] == pytest.approx(0.2, abs=1e-3)
    assert -1.0 <= named["heading_cosine"] <= 1.0


def test_weights_for_other_features_are_refused():
    spec = json.loads(confidence_model.MODEL_PATH.read_text())
    spec["features"] = spec["features"][:-1]
    with pytest.raises(ValueError, match="other features"):
        confidence_model.Confidence(spec)


def test_the_committed_weights_are_what_fit_wrote():
    spec = json.loads(confidence_model.MODEL_PATH.read_text())
    model = confidence_model.load()
    assert model is not None and tuple(spec["features"]) == confidence_model.FEATURES
    assert 0.0 < model.threshold < 1.0
    figures = spec["figures"]
    # measured on help centres the model was not fitted on: better than the reader's probability alone
    assert figures["auroc_leave_one_shop_out"] > figures["auroc_reader_alone"]
    assert len(spec["coef"]) == len(spec["mean"]) == len(spec["scale"]) == len(confidence_model.FEATURES)


# --- in the turn ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reply_below_the_answer_threshold_goes_to_a_person(demo_kb, settings):
    from core.choices import ReplyKind
    from support.pipeline import run

    question = "how long does delivery to italy usually take"
    settings.READER_MIN_ANSWERABLE = 0.0  # every turn that can quote answers
    turn, reply = run.answer(text=question)
    assert reply.kind == ReplyKind.GROUNDED
    p = turn.signals["confidence"]["p"]
    assert turn.signals["reader"]["threshold"] == 0.0  # the gate decides, not the reader's own threshold

    settings.READER_MIN_ANSWERABLE = min(1.0, p + 0.01)
    turn, reply = run.answer(text=question)
    assert reply.kind == ReplyKind.ESCALATED and reply.detail == "low_confidence"
    assert turn.signals["confidence"] == {"p": p, "threshold": settings.READER_MIN_ANSWERABLE}


@pytest.mark.django_db
def test_the_weights_threshold_applies_by_default(demo_kb, settings):
    from support.pipeline import run

    settings.READER_MIN_ANSWERABLE = -1.0
    assert read.decisive_threshold() == confidence_model.load().threshold
    turn, reply = run.answer(text="how long does delivery to italy usually take")
    assert turn.signals["confidence"]["threshold"] == confidence_model.load().threshold
    assert (reply.detail == "low_confidence") == (turn.signals["confidence"]["p"] < confidence_model.load().threshold)


@pytest.mark.django_db
def test_without_confidence_weights_the_reader_decides(demo_kb, settings, monkeypatch):
    from support.pipeline import run
    from support.reader import model

    monkeypatch.setattr(confidence_model, "load", lambda: None)
    settings.READER_MIN_ANSWERABLE = -1.0
    assert read.threshold() == read.decisive_threshold() == model.load().threshold
    turn, _ = run.answer(text="how long does delivery to italy usually take")
    assert "confidence" not in turn.signals


def test_the_fingerprint_names_the_confidence_and_yes_no_weights(monkeypatch):
    from support.pipeline import run

    before = run.config_fingerprint()
    monkeypatch.setattr(confidence_model, "digest", lambda: "other")
    assert run.config_fingerprint() != before
    monkeypatch.undo()
    monkeypatch.setattr(yes_no, "digest", lambda: "other")
    assert run.config_fingerprint() != before


# --- does the customer want a yes or a no -----------------------------------------------------------


def _vector(question: str) -> np.ndarray:
    return embeddings.embed_query(normalize_question(question))


# Written for this test, in no training shop's words: twelve questions that want a yes or a no and
# twelve that want a fact.
_YES_NO = [
    "Return possible after 40 days?", "the springs went after 4 years. covered?",
    "is phone support open on Saturday?", "can I swap the 26 for a 26.5 for free?",
    "I live on an island, do you deliver there?", "Refund if I never used the membership?",
    "Does the warranty cover water damage", "am I allowed to bring my dog to the store",
    "any chance to cancel the order, it hasn't shipped", "is express shipping available to Norway?",
    "so the voucher still works after it expired?", "could my sister pick up the parcel for me",
]  # fmt: skip
_OPEN = [
    "How much does delivery to Germany cost?", "what are your opening hours on sunday",
    "how long does a refund take", "which payment methods do you accept",
    "where do I find my order number", "what happens if I miss the delivery",
    "how do I cancel my subscription", "When will my order arrive?", "what's the fee for a late return",
    "how many days do I have to return shoes", "who do I contact about a damaged item",
    "what is the price of the gold plan",
]  # fmt: skip


def test_the_learned_detector_reads_customers_yes_no_questions_better_than_the_grammar():
    learned = grammar = 0
    for question, wants in [(q, True) for q in _YES_NO] + [(q, False) for q in _OPEN]:
        text = normalize_question(question)
        learned += polarity.asks_yes_no(text, _vector(question)) == wants
        grammar += polarity.grammar_asks_yes_no(text) == wants
    # measured when written: 21 of 24 against the grammar's 16 ("Return possible?", "covered?", a
    # decimal point that ends the grammar's sentence)
    assert learned >= 20 and learned >= grammar + 3


def test_without_a_vector_the_grammar_decides():
    assert polarity.asks_yes_no("Can I return a jacket I wore once?")
    assert not polarity.asks_yes_no("Return possible?")


def test_the_detector_needs_both_kinds_and_two_shops():
    vectors = np.eye(4)
    with pytest.raises(ValueError):
        yes_no.fit(vectors, [True] * 4, ["a", "a", "b", "b"], rule=lambda i: True)
    with pytest.raises(ValueError):
        yes_no.fit(vectors, [True, False, True, False], ["a"] * 4, rule=lambda i: True)
    spec = yes_no.fit(np.vstack([vectors, -vectors]), [True] * 4 + [False] * 4, list("abababab"), rule=lambda i: True)
    assert spec["grammar_rule_accuracy"] == 0.5 and len(spec["coef"]) == 4


def test_the_committed_weights_were_fitted_on_the_committed_reader_detector_and_cross_encoder():
    from bench.confidence import WRONG_COST
    from support.reader import cross_encoder
    from support.reader import model as reader_model

    spec = json.loads(confidence_model.MODEL_PATH.read_text())
    # retraining the reader, the detector or the cross-encoder without `make confidence` leaves the gate
    # reading other features
    committed = {
        "reader": reader_model.digest(),
        "yes_no": yes_no.digest(),
        "cross_encoder": cross_encoder.digest(),
        "late": "16:0.02:5",
        "token_projection": embeddings.token_tag().hex(),
    }
    assert spec["trained_with"] == committed
    assert confidence_model.trained_with() == committed  # with the default settings
    assert spec["threshold"] == pytest.approx(WRONG_COST / (1 + WRONG_COST))


def test_weights_fitted_without_the_cross_encoder_warn_when_it_is_switched_on(settings, tmp_path, caplog):
    updates = tmp_path / "updates.npz"
    updates.write_bytes(b"updates of another training run")
    settings.READER_CROSS_ENCODER_PATH = str(updates)
    settings.READER_CROSS_ENCODER_CANDIDATES = 4
    assert "fitted with other cross_encoder weights" in _load_warnings(caplog)


def test_weights_fitted_with_another_token_match_setting_warn(settings, caplog):
    settings.READER_LATE_CANDIDATES = 0
    assert "fitted with other late weights" in _load_warnings(caplog)


def test_weights_fitted_on_another_reader_load_with_a_warning(monkeypatch, caplog):
    from support.reader import model as reader_model

    monkeypatch.setattr(reader_model, "digest", lambda: "another")
    assert "fitted with other reader weights" in _load_warnings(caplog)


def _load_warnings(caplog) -> str:
    """The weights load (stale or not) and what loading them warned, with the process's cache left clean."""
    confidence_model.load.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="support.reader.confidence"):
            assert confidence_model.load() is not None
        return caplog.text
    finally:
        confidence_model.load.cache_clear()


def test_the_deciding_probability_is_the_gates_where_it_is_installed(monkeypatch):
    from support import evaluation

    signals = {"reader": {"p_answerable": 0.2}, "confidence": {"p": 0.9}}
    assert evaluation.deciding_p(signals) == 0.9
    assert evaluation.deciding_p({"reader": {"p_answerable": 0.2}}) is None  # the gate did not run: nothing quoted
    monkeypatch.setattr(confidence_model, "load", lambda: None)
    assert evaluation.deciding_p(signals) == 0.2


def test_a_question_that_opens_with_a_question_word_is_not_yes_no_whatever_came_before():
    late = "How late can I cancel my class and still get a full refund"  # as the turn sees it: no "?"
    assert polarity.opens_with_question_word(late)
    assert not polarity.asks_yes_no(late, _vector(late))
    # the last sentence is the one asked, though the turn has lost its final "?"
    assert not polarity.opens_with_question_word("What is the fee? Is it refundable")
    assert polarity.opens_with_question_word("I'm a Gold member. how much is delivery")
