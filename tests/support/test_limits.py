"""Numbers against limits: a rule's bound on an age, an amount, a share or a count, read against the
customer's own number, and the yes or no it gives."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.pipeline import limits
from support.pipeline.polarity import DEPENDS, NO, YES, decide


@pytest.mark.parametrize(
    ("question", "rule", "verdict"),
    [
        ("my carer is my 15 yr old son, can he be my PA?", "The PA must be 16 or older.", NO),
        ("my carer is my 16 yr old son, can he be my PA?", "The PA must be 16 or older.", YES),
        ("can I leave my 3 year old at the kids club?", "Kids' club (ages 4–12, while parents train).", NO),
        ("My son is 14, can he come in July?", "Students aged 12 to 15 can join our Junior Programme.", YES),
        ("can I pay off a A$2,500 keyboard in instalments?", "Instalments for orders from A$50 to A$2,000.", NO),
        ("can I pay later? order is 45 zł", "Pay later on orders from 40 zł to 3,000 zł. Not for gift cards.", YES),
        ("I want 8 tickets, is that ok?", "Most concerts have a limit of 6 tickets per customer.", NO),
        ("buying 25 copies of one book, any discount?", "Buying 20 or more copies of a title: 10% off.", YES),
        ("buying 12 copies of one book, any discount?", "Buying 20 or more copies of a title: 10% off.", NO),
    ],
)
def test_the_customers_number_against_the_rules_bound(question, rule, verdict):
    assert decide(question, rule).verdict == verdict


def test_a_rule_that_forbids_what_its_bound_covers_says_no_inside_it_and_yes_outside():
    rule = "For phones, a battery below 85% health can't be graded Excellent."
    assert decide("battery health says 81%, would it still be excellent?", rule).verdict == NO
    assert decide("battery health says 90%, would it be excellent?", rule).verdict == YES
    invoice = "Paying by invoice isn't available for first orders over €300."
    assert decide("can I pay on invoice? first order, about €150", invoice).verdict == YES
    assert decide("can I pay on invoice? first order, about €450", invoice).verdict == NO


def test_only_the_sentence_holding_the_bound_is_read_for_a_negation():
    rule = "Pay later for orders from 40 zł to 3,000 zł. Not available for gift cards."
    assert decide("can I pay later? order is 45 zł", rule).verdict == YES


def test_bounds_that_disagree_about_the_customer_decide_nothing():
    rule = "We can't sell wine to anyone under 16, or spirits to anyone under 18."
    assert limits.compare("my 17 year old is home, can he take the box?", rule) is None


def test_a_question_about_breaking_the_bound_is_not_answered_by_the_comparison():
    # "Is she too old?" wants "no" where the comparison says she meets the bound.
    assert limits.compare("my grandmother is 74, is she too old?", "Adult courses: from 16 years old.") is None


def test_the_customer_quoting_a_bound_is_not_their_own_number():
    assert limits.customer_quantities("the order is over $99 so free shipping right?") == []
    assert [q.kind for q in limits.customer_quantities("my order is $120, free shipping?")] == ["money"]


def test_kinds_must_agree():
    # A size in millimetres says nothing against a bound in centimetres or an amount.
    assert limits.compare("a 2mm chip, will you charge?", "Chips smaller than 2 cm are not charged.") is None
    assert limits.compare("I'm 30, can I rent?", "Orders from €50 to €2,000.") is None
    assert limits.compare("can I book 15 people?", "Groups of more than 12 guests need a deposit.") is None


def test_dates_and_times_are_not_bounds():
    rule = "Between 20 December and 31 January, different rules apply. Open 10:00–18:00."
    assert limits.limits(rule) == []
    assert limits.compare("Booked for 3 January, it's now 29 December. Full refund?", rule) is None


def test_no_number_no_comparison():
    assert limits.compare("can I bring my dog?", "Dogs under 10 kg are welcome.") is None


@given(
    low=st.integers(min_value=1, max_value=5_000),
    width=st.integers(min_value=1, max_value=5_000),
    value=st.integers(min_value=1, max_value=12_000),
)
def test_an_amount_in_a_range(low, width, value):
    high = low + width
    rule = f"Available for orders from €{low:,} to €{high:,}."
    assert limits.compare(f"my order is €{value:,}, can I use it?", rule)[0] == (low <= value <= high)


@given(
    bound=st.integers(min_value=1, max_value=99),
    age=st.integers(min_value=1, max_value=99),
    strict=st.booleans(),
)
def test_an_age_bound(bound, age, strict):
    rule = f"Guests under {bound} must come with an adult." if strict else f"You must be {bound} or older."
    admits, _ = limits.compare(f"my {age} year old wants to come, ok?", rule)
    assert admits == ((age < bound) if strict else (age >= bound))


def test_a_bound_met_is_not_a_yes_beside_an_exception_or_another_condition():
    rule = "Standard shipping is free on orders of $75 or more before tax, except to the territories."
    assert decide("I'm in Iqaluit and my order is $120, is shipping free?", rule).verdict == DEPENDS
    assert decide("my order is $50, is shipping free?", rule).verdict == NO  # a bound not met still says no
    assert decide("my order is $120, is shipping free?", "Shipping is free on orders of $75 or more.").verdict == YES


def test_a_table_rows_bounds_are_read_in_the_customers_own_column_only():
    row = "Free parcel locker delivery | Silver: From 149 zł | Gold: Every order | Platinum: Every order"
    assert decide("I'm Gold, my order is only 60 zł, is locker delivery free?", row).verdict != NO
    assert decide("I'm Silver, my order is only 60 zł, is locker delivery free?", row).verdict == NO


def test_thousands_written_with_spaces_are_one_number():
    rule = "Orders of 599 kr or more ship free to a parcel locker."
    assert decide("if I order beans for 1 300 kr, is shipping free?", rule).verdict == YES
    assert decide("if I order beans for 1\u00a0300 kr, is shipping free?", rule).verdict == YES
    assert decide("if I order beans for 450 kr, is shipping free?", rule).verdict == NO
    assert [q.value for q in limits.customer_quantities("a 1,5 kg bag for 12,5 €")] == [1.5, 12.5]


def test_comparatives_with_than_are_bounds():
    rule = "Further than 75 km from our nearest store, we can't offer assembly."
    assert decide("we're about 60 km from the nearest store, can you assemble the cot?", rule).verdict == YES
    assert decide("we're about 90 km from the nearest store, can you assemble the cot?", rule).verdict == NO


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a lens for 1.299 kr.", 1299.0),  # Danish, German, Spanish prices: a point between thousands
        ("a lens for 1.299,95 €", 1299.95),
        ("kr. 12.500 all in", 12500.0),
        ("order is 1,300.50 USD", 1300.5),
        ("I paid 45.50 dollars", 45.5),
        ("a bag for 12,5 €", 12.5),
    ],
)
def test_amounts_as_they_are_written_in_several_countries(text, value):
    assert [q.value for q in limits.customer_quantities(text) if q.kind == "money"] == [value]


def test_a_point_before_three_digits_is_a_decimal_outside_money():
    assert [(q.kind, q.value) for q in limits.customer_quantities("my 2.500 kg trailer")] == [("measure:kg", 2.5)]
