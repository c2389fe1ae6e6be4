"""Yes/no questions: which ones ask for a yes or no, and what the answering rule says to them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.pipeline import polarity
from support.pipeline.polarity import DEPENDS, NO, YES, asks_yes_no, decide


@pytest.mark.parametrize(
    "question",
    [
        "Can I return a jacket I wore once?",
        "so is the warranty still valid after I moved?",
        "I moved to another city - do you deliver there?",
        "Bought it last week. Does the discount apply to it?",
        "ordered yesterday, can u still change the address",
    ],
)
def test_yes_no_questions_are_recognised(question):
    assert asks_yes_no(question)


@pytest.mark.parametrize(
    "question",
    [
        "How much does express delivery cost?",
        "what do you charge to collect a parcel - is there a fee?",  # the wh-word comes first
        "Do you know when my parcel arrives?",  # indirect: asks when
        "Is the refund paid by card or by bank transfer?",  # a choice
        "I need the phone number of your office.",
        "",
    ],
)
def test_other_questions_are_not_yes_no(question):
    assert not asks_yes_no(question)


def test_a_negative_rule_says_no():
    assert decide("Will you match a cheaper price elsewhere?", "We do not match prices of other sellers.").verdict == NO


def test_a_list_introduced_by_a_negation_says_no_for_its_items():
    statement = "The guarantee does not cover: Damage from leaving a garden table outside in winter."
    assert decide("is rust on my garden table covered?", statement).verdict == NO


def test_the_customers_case_named_in_an_exception_says_no():
    statement = "Installation is available in every region except the islands."
    assert decide("I live on the islands, can you install it?", statement).verdict == NO
    assert decide("I live in the capital, can you install it?", statement).verdict == DEPENDS


def test_a_period_is_compared_with_the_customers_elapsed_time():
    rule = "You can return most items within 30 days of delivery."
    assert decide("it arrived 3 weeks ago, can I still return it?", rule).verdict == YES
    assert decide("it arrived 2 months ago, can I still return it?", rule).verdict == NO
    assert decide("can I still return it?", rule).verdict == DEPENDS  # no elapsed time stated


def test_periods_in_hours_and_minutes_compare_with_days():
    rule = "You can change the delivery address yourself within 2 hours of ordering."
    assert decide("I ordered 20 mins ago, can I still change the address?", rule).verdict == YES
    assert decide("I ordered 3 hours ago, can I still change the address?", rule).verdict == NO
    rule = "Items you configured can be cancelled within 24 hours of ordering."
    assert decide("I ordered it 2 days ago, can I cancel it?", rule).verdict == NO
    assert decide("I ordered it an hour ago, can I cancel it?", rule).verdict == YES


def test_a_period_in_years_reads_after_as_elapsed():
    rule = "Frames and springs: 10-year guarantee"
    assert decide("the springs went after 4 years, is that covered?", rule).verdict == YES
    assert decide("the springs went after 12 years, is that covered?", rule).verdict == NO


def test_a_restriction_the_customer_has_not_addressed_depends():
    rule = "Weekend delivery is available in the first zone only, for an extra fee."
    assert decide("Can you deliver on a Saturday?", rule).verdict == DEPENDS


def test_an_unconditional_rule_says_yes():
    assert decide("Do you accept gift cards online?", "Gift cards can be used for any online order.").verdict == YES


def test_lead_words():
    assert polarity.lead(YES) == "Yes."
    assert polarity.lead(NO) == "No."
    assert polarity.lead(DEPENDS) == ""


@given(st.text(max_size=200), st.text(max_size=300))
def test_any_text_gets_one_of_three_verdicts(question, statement):
    asks_yes_no(question)
    assert decide(question, statement).verdict in (YES, NO, DEPENDS)


def test_a_table_row_without_a_period_to_compare_depends():
    row = "Payment method: Invoice | Available in: two countries"
    assert decide("Can I pay by invoice?", row).verdict == DEPENDS
    assert decide("Can I pay by invoice? it's been 2 days", "Method: Invoice | Allowed within 14 days").verdict == YES


# --- through the pipeline, on the demo help centre ----------------------------------------------------


@pytest.mark.django_db
def test_a_yes_no_question_is_answered_yes_or_no_first(demo_kb, settings):
    from support.pipeline import run

    settings.READER_MIN_ANSWERABLE = 0.0  # this test is about the wording, not the threshold
    turn, reply = run.answer(text="can i bring my ebike battery on a plane? flying to barcelona")
    assert turn.signals["yes_no"]["verdict"] == NO
    assert reply.kind == "grounded" and reply.text.startswith("No. ")
    assert "[1]" in reply.text and reply.passages


@pytest.mark.django_db
def test_a_rule_with_an_unstated_condition_is_quoted_and_the_customer_asked(demo_kb, settings):
    from core.choices import ReplyKind
    from support.pipeline import run

    settings.READER_MIN_ANSWERABLE = 0.0
    turn, reply = run.answer(text="Found the same pedals 20 euros cheaper at another shop, will you match that?")
    assert turn.signals["yes_no"]["verdict"] == DEPENDS
    assert reply.kind == ReplyKind.CLARIFY and reply.detail == "condition_unstated"
    assert "[1]" in reply.text and reply.passages  # the rule is quoted and cited
    assert reply.text.endswith(run.DEPENDS_TEXT)


@pytest.mark.django_db
def test_other_questions_get_no_yes_or_no(demo_kb, settings):
    from support.pipeline import run

    settings.READER_MIN_ANSWERABLE = 0.0
    turn, reply = run.answer(text="how long does delivery to italy usually take")
    assert "yes_no" not in turn.signals
    assert not reply.text.startswith(("Yes.", "No."))


def test_the_customers_column_of_a_table_row_decides():
    row = "Benefit: Return window | Basic: 30 days | Plus: 60 days | Gold: 100 days"
    assert decide("I'm a Gold member and bought it 75 days ago, can I return it?", row).verdict == YES
    assert decide("Basic member here, bought it 75 days ago, can I return it?", row).verdict == NO
    assert decide("bought it 75 days ago, can I return it?", row).verdict == DEPENDS  # no column named
    perks = "Benefit: Birthday voucher | Basic: No | Plus: €10 | Gold: €25"
    assert decide("I'm on Basic, do I get a birthday voucher?", perks).verdict == NO


def test_yes_needs_the_rule_to_speak_of_what_was_asked_for():
    rule = "You can collect orders free of charge from our pick-up point, Monday to Saturday."
    assert decide("Is there parking at the pick-up point?", rule).verdict == DEPENDS
    assert decide("Do you sell gift wrapping?", "Gift wrapping is sold for 3 euros.").verdict == YES
    assert decide("do you have any stores in the north?", "We have no stores outside the capital.").verdict == NO


def test_a_price_of_nothing_is_not_a_no():
    rule = "Cancel at least 12 hours before the session to move it at no extra cost."
    assert decide("I need to cancel my session in 5 hours, will I lose it?", rule).verdict != NO
    assert decide("Can I bring my bike on the ferry?", "Bikes travel with no fee on every crossing.").verdict == YES
    assert decide("Can I bring my bike on the ferry?", "Bikes are not allowed on the ferry.").verdict == NO
    cancel = "There is no binding period and no cancellation fee, even if you used the welcome discount."
    assert decide("I used the welcome discount, can I still cancel?", cancel).verdict != NO
    box_office = "Tickets bought in person at a box office have no booking fee or order fee."
    assert decide("if I buy at the box office do I avoid the fees?", box_office).verdict == YES
    assert decide("can I get a refund?", "There is no refund of the booking fee.").verdict == NO  # not a nil price
    # a negation that widens is not a no
    brands = "Our workshop repairs machines of all brands, not just the ones we sell."
    assert decide("do you repair machines bought somewhere else?", brands).verdict == YES
    recall = "For a recalled product we refund the full price, no matter how long ago you bought it."
    assert decide("the bouncer I bought 3 years ago is recalled, do I get my money back?", recall).verdict == YES


def test_an_exception_is_the_customers_case_only_when_it_names_a_distinctive_term():
    rule = "Yes, at any of our stores, except orders shipped by a marketplace seller."
    question = "ordered a laptop online but there's a store near my work, can I return it there?"
    # "order" is in every article of a shop: sharing it says nothing about the customer's case
    assert decide(question, rule, terms={"laptop", "work"}).verdict != NO
    assert decide(question, rule).verdict == NO  # without the knowledge base's statistics, any shared word
    sold = "bought it from a marketplace seller on your site, can I return it in a store?"
    assert decide(sold, rule, terms={"marketplac", "seller"}).verdict == NO
