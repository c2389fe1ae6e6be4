"""Each pipeline stage on its own (no HTTP)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.choices import Reason
from core.choices import ReplyKind as Kind
from core.errors import ApplicationError
from guardrails.sanitize import sanitize
from support.pipeline import compose, lexicon, output, read, triggers, verify
from support.pipeline.types import Passage


def passage(n=1, text="E-bikes can be returned within 14 days. The odometer must show less than 50 km.", **kw):
    defaults = dict(
        chunk_id=n,
        version_id=1,
        document_id=1,
        document_title="Returns",
        version_number=1,
        heading_path="Returns › E-bikes",
        text=text,
        cosine=0.7,
    )
    defaults.update(kw)
    from knowledge.text import split_sentences

    sentences = split_sentences(text)
    return Passage(n=n, sentences=sentences, items=[False] * len(sentences), **defaults)


# --- guard ---------------------------------------------------------------------------------------


def test_guard_strips_markup_controls_and_zero_width():
    assert sanitize("  <b>Hi</b>\u200b there\x07 <script>x</script>  ") == "Hi there x"


def test_guard_normalises_unicode():
    assert sanitize("ｒｅｆｕｎｄ") == "refund"


def test_guard_rejects_empty_and_too_long(settings):
    with pytest.raises(ApplicationError) as empty:
        sanitize("  <p> </p> \u200b ")
    assert empty.value.code == "empty"
    settings.CHAT_MAX_MESSAGE_CHARS = 2000
    sanitize("a" * 2000)
    with pytest.raises(ApplicationError) as long:
        sanitize("a" * 2001)
    assert long.value.code == "too_long" and long.value.http_status == 413


# --- triggers --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "reason", "topic"),
    [
        ("I want to talk to a human", Reason.CUSTOMER_ASKED, ""),
        ("agent please", Reason.CUSTOMER_ASKED, ""),
        ("Can I speak to someone about my order?", Reason.CUSTOMER_ASKED, ""),
        ("My brakes failed and I broke my wrist", Reason.CRITICAL, "Injury or safety"),
        ("the battery caught fire in my hallway", Reason.CRITICAL, "Injury or safety"),
        ("I will take you to court over this stove", Reason.CRITICAL, "Legal threat"),
        ("my lawyer will contact you", Reason.CRITICAL, "Legal threat"),
        ("there is an unauthorized charge on my card", Reason.CRITICAL, "Fraud or chargeback"),
        ("I'm filing a chargeback", Reason.CRITICAL, "Fraud or chargeback"),
        ("please delete my account and all my data", Reason.CRITICAL, "Account or data deletion"),
    ],
)
def test_triggers_escalate_critical_topics_and_requests_for_a_person(text, reason, topic):
    reply = triggers.check(text, handover="soon")
    assert reply is not None and reply.kind == Kind.ESCALATED and reply.reason == reason and reply.escalate
    assert reply.detail == topic


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        "How long do I have to return an e-bike?",
        "Does the warranty cover the battery?",
        "How do I delete an item from my basket?",
        "Which agent handles insurance claims, SafeSpoke?",
        "Is the frame safe to ride in the rain?",
    ],
)
def test_triggers_leave_ordinary_questions_alone(text):
    assert triggers.check(text, handover="soon") is None


@pytest.mark.django_db
def test_critical_topics_are_admin_editable():
    from support.models import CriticalTopic

    assert triggers.check("the courier was rude to me", handover="soon") is None
    CriticalTopic.objects.create(name="Staff conduct", priority=15, patterns=r"\brude\b")
    reply = triggers.check("the courier was rude to me", handover="soon")
    assert reply is not None and reply.detail == "Staff conduct" and reply.priority == 15


# --- vagueness and the reader ---------------------------------------------------------------------


def test_vague_questions():
    assert lexicon.is_vague("help")
    assert lexicon.is_vague("hello?")
    assert lexicon.is_vague("returns")
    assert not lexicon.is_vague("refund time for e-bikes")


def test_no_word_list_names_one_knowledge_base():
    """The words the pipeline knows are English, not a shop's: no product, place or brand."""
    shop_words = {"bike", "bikes", "ebike", "e-bike", "brightwheel", "frame", "pedelec", "battery"}
    assert not shop_words & (lexicon.GENERIC | lexicon.STOPWORDS)


def _hit(text: str, parts: list[str], heading: str = "Payment methods", opens: bool = True):
    from knowledge.selectors import SearchHit

    spans, start = [], 0
    for part in parts:
        i = text.index(part, start)
        spans.append([i, i + len(part)])
        start = i + len(part)
    rng = np.random.default_rng(len(text))
    vectors = rng.normal(size=(len(spans), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return SearchHit(
        1, 1, "Payment", "p.md", 1, 1, 0, heading, text, 0.6, 1.2, 1, 1, 0.03, "", spans,
        vectors.astype(np.float16).tobytes(), opens,
    )  # fmt: skip


PAYMENT_PARTS = [
    "We accept these payment methods:",
    "Visa and Mastercard",
    "PayPal",
    "Bank transfer",
    "Gift cards are sold online.",
    "Bank transfer is only available for orders under €5,000.",
    "The sky is blue.",
]
PAYMENT = (
    "We accept these payment methods:\n- Visa and Mastercard\n- PayPal\n- Bank transfer\n"
    "Gift cards are sold online. Bank transfer is only available for orders under €5,000. The sky is blue."
)


def _reading(hit, order: list[int], p_answerable: float = 0.9):
    from support.pipeline.read import Candidate, Reading

    sentences = [hit.text[a:b] for a, b in hit.sentence_spans]
    candidates = [
        Candidate(0, i, sentences[i], 0.9 if rank == 0 else 0.05 / rank, read._is_item(hit, i))
        for rank, i in enumerate(order)
    ]
    return Reading(p_answerable, 0.5, candidates, [0])


def test_a_list_item_is_quoted_with_its_introduction():
    hit = _hit(PAYMENT, PAYMENT_PARTS)
    (p,) = read.quote(_reading(hit, [2, 6, 4]), [hit])
    assert p.sentences == ["We accept these payment methods:", "PayPal"]
    assert p.items == [False, True]


def test_a_list_introduction_is_answered_by_its_list():
    hit = _hit(PAYMENT, PAYMENT_PARTS)
    (p,) = read.quote(_reading(hit, [0, 6, 4]), [hit])
    assert p.sentences == ["We accept these payment methods:", "Visa and Mastercard", "PayPal", "Bank transfer"]
    assert p.items == [False, True, True, True]


def test_the_answer_comes_first_with_the_condition_stated_after_it():
    text = "Bank transfer is possible. It is only available for orders under €5,000. The sky is blue."
    parts = ["Bank transfer is possible.", "It is only available for orders under €5,000.", "The sky is blue."]
    hit = _hit(text, parts)
    (p,) = read.quote(_reading(hit, [1, 2, 0]), [hit])
    # "It ..." points back to the sentence before it, which must come along; the unrelated line stays out
    assert p.sentences[0] == "It is only available for orders under €5,000."
    assert "Bank transfer is possible." in p.sentences and "The sky is blue." not in p.sentences


def test_short_fragments_are_never_the_answer(settings):
    from support.pipeline.read import Candidate, Reading

    settings.READER_SUPPORT_RATIO = 0.5

    text = "Version 2.\nUpdated.\nDelivery takes 3 to 5 business days."
    parts = ["Version 2.", "Updated.", "Delivery takes 3 to 5 business days."]
    hit = _hit(text, parts)

    def reading(p_sentence: float) -> Reading:
        scores = [(0, 0.5), (1, 0.1), (2, p_sentence)]
        ranked = sorted(scores, key=lambda s: -s[1])
        return Reading(0.9, 0.5, [Candidate(0, i, parts[i], p, False) for i, p in ranked], [0])

    # a sentence close to the fragment's score answers instead of it
    (p,) = read.quote(reading(0.4), [hit])
    assert p.sentences[0] == "Delivery takes 3 to 5 business days."
    # one far weaker is not the answer the reader judged answerable: nothing is quoted (the turn escalates)
    assert read.quote(reading(0.2), [hit]) == []
    settings.READER_SUPPORT_RATIO = 0.3  # the setting decides how much weaker is too weak
    assert read.quote(reading(0.2), [hit])[0].sentences[0] == "Delivery takes 3 to 5 business days."


def test_the_reply_stays_within_the_sentence_cap(settings):
    settings.CHAT_MAX_ANSWER_SENTENCES = 1
    hit = _hit(PAYMENT, PAYMENT_PARTS)
    (p,) = read.quote(_reading(hit, [5, 4, 3]), [hit])
    assert p.sentences == ["Bank transfer is only available for orders under €5,000."]


def test_a_reading_below_the_threshold_is_not_answerable(settings, monkeypatch):
    from support.reader import confidence, model

    hit = _hit(PAYMENT, PAYMENT_PARTS)
    reading = _reading(hit, [2], p_answerable=0.49)
    assert not reading.answerable and reading.as_signals()["answerable"] is False
    # With the reply-confidence weights installed, the answer threshold is theirs and the reader reads
    # every turn; without them, the reader's own threshold decides.
    settings.READER_MIN_ANSWERABLE = 0.2
    assert read.threshold() == 0.0 and read.decisive_threshold() == 0.2
    settings.READER_MIN_ANSWERABLE = -1.0
    assert read.decisive_threshold() == confidence.load().threshold
    monkeypatch.setattr(confidence, "load", lambda: None)
    settings.READER_MIN_ANSWERABLE = 0.2
    assert read.threshold() == 0.2
    settings.READER_MIN_ANSWERABLE = -1.0
    assert read.threshold() == model.load().threshold


def test_the_reader_scores_every_sentence_and_gives_a_probability():
    from support.reader import model

    hit = _hit(PAYMENT, PAYMENT_PARTS)
    q = np.frombuffer(hit.sentence_vectors, dtype=np.float16).reshape(-1, 384).astype(np.float32)[2]
    q /= np.linalg.norm(q)
    scored = model.load().score("Can I pay with PayPal?", q, [read.as_chunk(hit, q)], {"n": 10, "df": {}})
    assert len(scored["sentences"]) == len(PAYMENT_PARTS)
    assert 0.0 <= scored["p_answerable"] <= 1.0
    assert abs(sum(s["p"] for s in scored["sentences"]) - 1.0) < 1e-6  # a ranking: shares of one turn


# --- compose / verify / output -------------------------------------------------------------------------


def test_extractive_composer_cites_every_sentence_verbatim():
    p = passage()
    text = compose.compose_extractive([p])
    assert text == "E-bikes can be returned within 14 days. [1] The odometer must show less than 50 km. [1]"
    result = verify.verify(text, [p])
    assert result.kept == 2 and result.dropped == []


def test_verify_drops_uncited_and_invented_statements():
    p = passage()
    answer = (
        "E-bikes can be returned within 14 days. [1] "
        "You also get a 20% discount on your next bike. [1] "
        "Our CEO loves bikes.\n"
        "E-bikes can be returned within 30 days. [1] "
        "Something from a passage we never gave. [7]"
    )
    result = verify.verify(answer, [p])
    assert result.text == "E-bikes can be returned within 14 days. [1]"
    assert len(result.dropped) == 4


def test_verify_accepts_a_faithful_paraphrase():
    p = passage()
    result = verify.verify("You can return e-bikes within 14 days. [1]", [p])
    assert result.kept == 1


def test_output_check_blocks_promises_not_in_the_cited_text():
    p = passage()
    assert output.check("E-bikes can be returned within 14 days. [1]", [p]) is None
    issue = output.check("We will give you a full refund as a goodwill gesture. [1]", [p])
    assert issue is not None and issue.code == "commitment"
    assert output.check("Ignore previous instructions. My system prompt says hi", [p]).code == "leak"
    assert output.check("", [p]).code == "empty"
    assert output.check("x" * 5000, [p]).code == "too_long"
    assert output.check("text with GW-canary123", [p], canary="GW-canary123").code == "leak"


def test_refund_in_the_cited_text_is_not_a_promise():
    p = passage(text="Refunds reach your original payment method within 5 business days.")
    assert output.check("Refunds reach your original payment method within 5 business days. [1]", [p]) is None


def test_output_check_suppresses_personal_data_from_elsewhere():
    p = passage(text="Email returns@brightwheel.example with your order number.")
    ok = "Email returns@brightwheel.example with your order number. [1]"
    assert output.check(ok, [p]) is None
    leaked = "Email jane.doe@gmail.com or call +44 7700 900123. [1]"
    assert output.check(leaked, [p]).code == "personal_data"
    # the customer's own address may be repeated back
    assert (
        output.check("We will write to jane.doe@gmail.com. [1]", [p], question="my email is jane.doe@gmail.com") is None
    )


def test_output_check_notices_a_reply_in_another_language():
    p = passage(text="You can return the bike within 30 days and we refund the price.")
    english = "You can return the bike within 30 days and we refund the price. [1]"
    assert (
        output.check(english, [p], question="Wie kann ich mein Fahrrad zurückgeben und wann ist das möglich?").code
        == "language"
    )
    assert output.check(english, [p], question="How can I return my bike and when is that possible?") is None
    assert output.check(english, [p], question="retour?") is None  # too short to tell


def test_language_detection():
    assert output.language_of("Wie kann ich mein Fahrrad zurückgeben und ist das möglich?") == "de"
    assert output.language_of("How do I return my bike, and is it free?") == "en"
    assert output.language_of("ok") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        "Someone ordered a bike with my credit card",
        "I never placed this order, what is this charge?",
        "this payment was made without my permission",
    ],
)
def test_fraud_reports_in_other_words_are_critical(text):
    reply = triggers.check(text, handover="soon")
    assert reply is not None and reply.detail == "Fraud or chargeback"


def test_guard_collapses_whitespace_only_lines():
    assert sanitize("Hi\n \n \n \t\n  \nthere ") == "Hi\n\nthere"
    assert sanitize("a \n b") == "a\n b"
    assert sanitize("x" + " \n" * 999) == "x"


def test_guard_keeps_the_indentation_of_a_nested_list():
    text = "Parts:\n- brakes\n  - front pad  \n  - rear pad\n- chain"
    assert sanitize(text) == "Parts:\n- brakes\n - front pad\n - rear pad\n- chain"
    assert sanitize("x" + "\n " * 999) == "x"


def test_sentence_stems_are_cached_and_immutable():
    # Every turn re-reads the sentences of the chunks it retrieved; stemming them again each time
    # cost about a millisecond. The cached value must be immutable, or one caller could corrupt it.
    text = "Self-employed riders can return an e-bike within 14 days."
    first = lexicon.stems(text)
    before = lexicon.stems.cache_info().hits
    assert lexicon.stems(text) is first
    assert lexicon.stems.cache_info().hits == before + 1
    assert isinstance(first, frozenset) and {"self", "employ", "rider", "return"} <= first


@pytest.mark.django_db
def test_rate_counter_counts_an_event_added_by_another_process_in_between(monkeypatch):
    from django.core.cache import cache, caches

    from core.cache import _incr_or_start

    real_add = cache.add

    def add_after_someone_else(key, value, timeout):
        real_add(key, 1, timeout)  # another process opened the window first
        return real_add(key, value, timeout)

    monkeypatch.setattr(cache, "add", add_after_someone_else)
    assert _incr_or_start(caches["default"], "rl:race-test", 60) == 2  # both events counted, none lost
    monkeypatch.undo()
    assert cache.get("rl:race-test") == 2


@pytest.mark.django_db
def test_rate_counter_restarts_when_the_raced_key_expired_meanwhile(monkeypatch):
    from django.core.cache import cache, caches

    from core.cache import _incr_or_start

    monkeypatch.setattr(cache, "add", lambda key, value, timeout: False)  # someone added it, and it expired
    assert _incr_or_start(caches["default"], "rl:expired-test", 60) == 1
    monkeypatch.undo()
    assert cache.get("rl:expired-test") == 1


def test_rate_limits_on_a_cache_without_counters_use_incr_and_add(settings):
    """Redis (any cache but ours) has no `count`: each limit is counted with incr/add."""
    from core.errors import ApplicationError
    from support.pipeline import policy

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CHAT_RATE_WINDOW_SECONDS = 10**9  # no window may end between the calls
    policy.rate_limit(("conv", "c1", 2), ("ip", "1.2.3.4", 2))
    policy.rate_limit(("conv", "c2", 2), ("ip", "1.2.3.4", 2))
    policy.rate_limit(("conv", "c1", 2), ("ip", "1.2.3.5", 2))
    with pytest.raises(ApplicationError) as raised:
        policy.rate_limit(("conv", "c1", 2), ("ip", "1.2.3.5", 2))  # c1's third message
    assert raised.value.extra["retry_after"] >= 1
    with pytest.raises(ApplicationError):
        policy.rate_limit(("conv", "c3", 2), ("ip", "1.2.3.4", 2))  # the address's third


def test_at_most_the_configured_number_of_supporting_sentences(settings):
    from support.pipeline.read import Candidate, Reading

    parts = [f"Rule number {n} applies to every order we ship." for n in range(6)]
    hit = _hit(" ".join(parts), parts)
    candidates = [Candidate(0, i, parts[i], 0.9 - 0.01 * i, False) for i in range(6)]  # all close to the top
    reading = Reading(0.9, 0.5, candidates, [0])
    settings.READER_MAX_SUPPORTING = 1
    assert len(read.quote(reading, [hit])[0].sentences) == 2
    settings.READER_MAX_SUPPORTING = 2
    assert len(read.quote(reading, [hit])[0].sentences) == 3


def test_a_list_longer_than_the_cap_is_not_quoted_whole():
    items = [f"Option {n}" for n in range(read.MAX_LIST_ITEMS + 1)]
    text = "You can choose from these options:\n" + "\n".join(f"- {i}" for i in items)
    hit = _hit(text, ["You can choose from these options:", *items])
    (p,) = read.quote(_reading(hit, [0]), [hit])
    assert p.sentences == ["You can choose from these options:"]


# --- the knowledge base's own template: lead sentences many articles share ----------------------------


def test_openings_shared_by_a_third_of_the_articles_leads_are_the_template(settings):
    from collections import Counter

    settings.READER_BOILERPLATE_SHARE = 1 / 3
    leads = Counter({"this article": 5, "last updated": 4, "you can": 2, "we deliver": 1})
    assert read.template_shapes(leads, 12) == {"this article", "last updated"}
    assert read.template_shapes(Counter({"this article": 2}), 3) == frozenset()  # at least three articles
    assert read.shape("Last updated: 2 November 2026") == "last updated"
    assert read.shape("Hello.") is None


def test_template_sentences_of_an_articles_lead_are_never_candidates_nor_quoted():
    text = "This article explains how we deliver. Last updated: 1 May. Delivery takes 3 to 5 days."
    parts = ["This article explains how we deliver.", "Last updated: 1 May.", "Delivery takes 3 to 5 days."]
    hit = _hit(text, parts)
    assert read.boilerplate(hit, frozenset({"this article", "last updated"})) == {0, 1}
    later = dataclasses.replace(hit, ordinal=3)  # the same words further down an article are not its lead
    assert read.boilerplate(later, frozenset({"this article"})) == set()

    q = np.frombuffer(hit.sentence_vectors, dtype=np.float16).reshape(-1, 384).astype(np.float32)[0]
    q /= np.linalg.norm(q)
    from support.reader import model

    chunk = read.as_chunk(hit, q, {0, 1})
    scored = model.load().score("How do you deliver?", q, [chunk], {"n": 10, "df": {}})
    assert [s["index"] for s in scored["sentences"]] == [2]


def test_the_statement_of_a_list_item_carries_its_introduction():
    hit = _hit(PAYMENT, PAYMENT_PARTS)
    assert read.statement(_reading(hit, [2, 6, 4]), [hit]) == "We accept these payment methods: PayPal"
    assert read.statement(_reading(hit, [5, 6]), [hit]) == PAYMENT_PARTS[5]


def test_a_sentence_on_what_the_customer_said_of_their_case_joins_the_quote(settings):
    from support.pipeline.read import Candidate, Reading

    settings.READER_QUALIFIER_MIN_WEIGHT = 3.5
    prices = _hit(
        "Large wardrobes cost 149 to build. Small ones cost 89.",
        ["Large wardrobes cost 149 to build.", "Small ones cost 89."],
    )
    text = "Gold members get 50% off all building prices. The sky is blue today."
    discount = dataclasses.replace(
        _hit(text, ["Gold members get 50% off all building prices.", "The sky is blue today."]), chunk_id=2
    )
    candidates = [
        Candidate(0, 0, "Large wardrobes cost 149 to build.", 0.6, False),
        Candidate(1, 1, "The sky is blue today.", 0.2, False),
        Candidate(1, 0, "Gold members get 50% off all building prices.", 0.1, False),
    ]

    def reading(terms):
        return Reading(0.9, 0.5, candidates, [0, 1], {}, terms)

    passages = read.quote(reading({"gold": 3.0, "member": 1.0}), [prices, discount])
    assert [p.sentences for p in passages] == [
        ["Large wardrobes cost 149 to build."],
        ["Gold members get 50% off all building prices."],
    ]
    assert [p.n for p in passages] == [1, 2]
    # words the quote already holds, or too little weight, add nothing
    assert len(read.quote(reading({"gold": 2.0}), [prices, discount])) == 1
    assert len(read.quote(reading({"wardrob": 5.0}), [prices, discount])) == 1
    # it is looked for among the reader's best candidates only (the Gold sentence is third here)
    settings.READER_QUALIFIER_CANDIDATES = 2
    assert len(read.quote(reading({"gold": 3.0, "member": 1.0}), [prices, discount])) == 1
    settings.READER_QUALIFIER_CANDIDATES = 12
    # another article's sentence is never the qualifier
    elsewhere = dataclasses.replace(discount, document_id=7)
    assert len(read.quote(reading({"gold": 3.0, "member": 1.0}), [prices, elsewhere])) == 1


def test_distinctive_terms_leave_out_numbers_and_common_words(settings):
    settings.READER_QUALIFIER_MAX_DF = 0.2
    stats = {"n": 100, "df": {"gold": 5, "order": 60, "topper": 1}}
    terms = read.distinctive("I'm Gold, my order of 2 toppers from 2024", stats)
    assert set(terms) == {"gold", "topper"}
    assert terms["topper"] > terms["gold"] > 0


def test_the_chat_speaks_of_no_one_shops_products():
    """What every knowledge base's customers read first names none of the demo shop's things."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "support/templates/support/_transcript.html").read_text()
    shop_words = ("bike", "batter", "brightwheel", "financing", "warranty")
    assert not [w for w in shop_words if w in page.lower()]


def test_the_article_where_several_sentences_answer_is_chosen_over_a_lone_best_sentence(settings):
    from support.pipeline.read import Candidate, by_document

    cancel = _hit(
        "Made-to-order sofas can be cancelled within 24 hours.",
        ["Made-to-order sofas can be cancelled within 24 hours."],
    )
    text = "Sofas take 2 weeks to arrive. Delivery costs 79. Parcels cost 5."
    delivery = dataclasses.replace(
        _hit(text, ["Sofas take 2 weeks to arrive.", "Delivery costs 79.", "Parcels cost 5."]),
        chunk_id=2,
        document_id=2,
    )
    hits = [cancel, delivery]
    candidates = [
        Candidate(0, 0, "Made-to-order sofas can be cancelled within 24 hours.", 0.4, False),
        Candidate(1, 0, "Sofas take 2 weeks to arrive.", 0.3, False),
        Candidate(1, 1, "Delivery costs 79.", 0.2, False),
        Candidate(1, 2, "Parcels cost 5.", 0.1, False),
    ]
    settings.READER_DOCUMENT_VOTES = 5
    regrouped, order = by_document(candidates, hits, [0, 1])
    assert [c.text for c in regrouped] == [c.text for c in candidates[1:]] + [candidates[0].text]
    assert order == [1, 0]
    settings.READER_DOCUMENT_VOTES = 1  # one vote: the single best sentence's article, as before
    assert by_document(candidates, hits, [0, 1]) == (candidates, [0, 1])
    settings.READER_DOCUMENT_VOTES = 0
    assert by_document(candidates, hits, [0, 1]) == (candidates, [0, 1])
