"""The one judge every question set is scored by (support.judge.judge): no database needed,
except the last test, which runs the evaluate command on a few demo questions."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from support.evaluation import Row
from support.judge import (
    CORRECT,
    EITHER,
    ESCALATED,
    WRONG,
    Gold,
    contains,
    headline_table,
    judge,
    reply_words,
    stated_yes_no,
    tally,
    words,
)


def verdict(text: str, gold: Gold, kind: str = "grounded", cited=()):
    return judge(kind=kind, text=text, gold=gold, cited=cited)


# --- facts -------------------------------------------------------------------------------------------


def test_every_fact_present_is_correct():
    v = verdict("Returns are accepted within 14 days and under 50 km [1].", Gold(facts=["14 days", "50 km"]))
    assert (v.outcome, v.why, v.answered) == (CORRECT, "", True)


def test_one_fact_missing_is_wrong_and_says_which():
    v = verdict("Returns are accepted within 14 days [1].", Gold(facts=["14 days", "50 km"]))
    assert v.outcome == WRONG and v.why == "missing fact '50 km'"


def test_a_fact_is_matched_as_whole_words():
    assert verdict("within 140 days", Gold(facts=["14 days"])).outcome == WRONG
    assert verdict("a fee of €35 applies", Gold(facts=["€35"])).outcome == CORRECT


# --- spans -------------------------------------------------------------------------------------------


def test_any_span_alternative_suffices():
    gold = Gold(spans=["within 10 days", "after the hearing"])
    assert verdict("You will hear back after the hearing.", gold).outcome == CORRECT
    assert verdict("You will hear back within 10 days [2].", gold).outcome == CORRECT
    v = verdict("You will hear back soon.", gold)
    assert v.outcome == WRONG and v.why == "no gold span"


def test_facts_and_spans_are_both_required():
    gold = Gold(facts=["court"], spans=["10 days"])
    assert verdict("The court replies in 10 days.", gold).outcome == CORRECT
    assert verdict("It replies in 10 days.", gold).outcome == WRONG
    assert verdict("The court replies.", gold).outcome == WRONG


# --- yes / no ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stated"),
    [
        ("Yes, you can apply [1].", "yes"),
        ("**No.** You must be 21 or over.", "no"),
        ("- yes: if you lived there", "yes"),
        ("[1] No, not before 2022.", "no"),
        ("NO", "no"),
        ("No-one can apply for you.", None),
        ("Nobody can apply for you.", None),
        ("You can apply, yes.", None),
        ("Yesterday's rules apply.", None),
        ("", None),
    ],
)
def test_the_stated_yes_no_is_the_first_word(text, stated):
    assert stated_yes_no(text) == stated


def test_yes_no_stated_right_is_correct():
    assert verdict("Yes, if you have lived there for 3 years.", Gold(yes_no="yes")).outcome == CORRECT


def test_yes_no_stated_wrong_is_wrong():
    v = verdict("No, you cannot.", Gold(yes_no="yes"))
    assert v.outcome == WRONG and v.why == "states no, gold yes"


def test_yes_no_not_stated_is_wrong():
    v = verdict("You can apply if you have lived there for 3 years [1].", Gold(yes_no="yes"))
    assert v.outcome == WRONG and v.why == "states no yes/no"


def test_either_accepts_a_stated_yes_or_no_but_not_silence():
    assert verdict("Yes, if you are under 18.", Gold(yes_no=EITHER)).outcome == CORRECT
    assert verdict("No, unless you are under 18.", Gold(yes_no=EITHER)).outcome == CORRECT
    assert verdict("It depends on your age.", Gold(yes_no=EITHER)).outcome == WRONG


# --- not answered, unanswerable -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["escalated", "clarify", "blocked", "limit", "error"])
def test_an_answerable_question_not_answered_is_escalated(kind):
    v = verdict("I'm passing this to a colleague.", Gold(facts=["14 days"]), kind=kind)
    assert (v.outcome, v.answered, v.label, v.words) == (ESCALATED, False, "escalated", 0)


def test_an_approved_reply_counts_as_answered():
    assert verdict("Within 14 days.", Gold(facts=["14 days"]), kind="approved").outcome == CORRECT


def test_an_unanswerable_question_answered_is_wrong():
    v = verdict("The Trek E weighs 2.9 kg [1].", Gold(answerable=False))
    assert v.outcome == WRONG and v.label == "wrong"


@pytest.mark.parametrize("kind", ["escalated", "clarify"])
def test_an_unanswerable_question_escalated_or_clarified_is_escalated_correctly(kind):
    v = verdict("Could you tell me which bike you mean?", Gold(answerable=False), kind=kind)
    assert v.outcome == ESCALATED and v.label == "escalated (correctly)"


def test_demo_rows_make_their_gold():
    grounded = Row("q", "grounded", "returns.md", ["14 days"])
    assert grounded.gold == Gold(facts=["14 days"], cite=["returns.md"])
    assert not Row("q", "clarify", None, []).gold.answerable
    assert not Row("q", "escalated", None, []).gold.answerable
    assert verdict("Hm?", Row("q", "clarify", None, []).gold, kind="clarify").label == "escalated (correctly)"


def test_the_expected_document_must_be_cited_unless_approved():
    gold = Gold(facts=["14 days"], cite=["returns.md"])
    assert verdict("Within 14 days.", gold, cited=["returns.md", "x.md"]).outcome == CORRECT
    v = verdict("Within 14 days.", gold, cited=["shipping.md"])
    assert v.outcome == WRONG and v.why == "gold document not cited"
    assert verdict("Within 14 days.", gold, kind="approved").outcome == CORRECT


# --- words-only matching, reply length ------------------------------------------------------------


def test_citation_markers_punctuation_and_case_are_ignored():
    assert words("Within **10** days[1], from the Court [12].") == "within 10 days from the court"
    assert contains("Send it to RETURNS@brightwheel.example [3].", "returns@brightwheel.example")
    assert contains("3–6 business days", "3-6 business days")
    assert not contains("anything", "...")  # a needle without words is never present
    assert verdict("Within 10 days [1][2].", Gold(spans=["within 10 days"])).outcome == CORRECT


def test_reply_words_leave_out_citation_markers_and_bullets():
    assert reply_words("Yes [1]. You can:\n- apply online [2]\n- by post") == 7
    assert verdict("Within 10 days [1].", Gold(spans=["10 days"])).words == 3


def test_tally_and_table_add_up():
    verdicts = [
        verdict("Within 10 days.", Gold(spans=["10 days"])),
        verdict("Soon.", Gold(spans=["10 days"])),
        verdict("...", Gold(spans=["10 days"]), kind="escalated"),
        verdict("...", Gold(answerable=False), kind="escalated"),
    ]
    t = tally(verdicts)
    assert (t["questions"], t["correct"], t["wrong"], t["escalated"], t["escalated_correctly"]) == (4, 1, 1, 1, 1)
    assert (t["reply_words_median"], t["reply_words_p90"], t["wrong_share"]) == (2, 3, 0.25)
    table = headline_table([("all", verdicts), ("none", [])])
    assert "| all | 4 | 1 (25.0 %) | 1 (25.0 %) | 1 (25.0 %) | 1 (25.0 %) | 2 / 3 |" in table
    assert "| none | 0 | 0 | 0 | 0 | 0 | - |" in table


# --- property: markers, case and punctuation never change a verdict -------------------------------

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_phrase = st.lists(_word, min_size=1, max_size=4).map(" ".join)


@st.composite
def _case(draw):
    reply = draw(st.lists(_word, min_size=0, max_size=12))
    facts = draw(st.lists(_phrase, max_size=2))
    spans = draw(st.lists(_phrase, max_size=2))
    # Often put the gold into the reply, so that both verdicts are drawn.
    for phrase in facts + spans:
        if draw(st.booleans()):
            at = draw(st.integers(0, len(reply)))
            reply[at:at] = phrase.split()
    yes_no = draw(st.sampled_from([None, "yes", "no", EITHER]))
    if yes_no and draw(st.booleans()):
        reply.insert(0, draw(st.sampled_from(["yes", "no"])))
    gold = Gold(answerable=draw(st.booleans()), facts=facts, spans=spans, yes_no=yes_no)
    return reply, gold, draw(st.sampled_from(["grounded", "approved", "escalated", "clarify"]))


@settings(max_examples=300, deadline=None)
@given(case=_case(), data=st.data())
def test_markers_case_and_punctuation_never_change_the_verdict(case, data):
    tokens, gold, kind = case
    plain = judge(kind=kind, text=" ".join(tokens), gold=gold)
    dressed = []
    for token in tokens:
        token = data.draw(st.sampled_from([token, token.upper(), token.capitalize()]))
        token += data.draw(st.sampled_from(["", ",", ".", ";", ":", "!", "?"]))
        token += data.draw(st.sampled_from(["", "", " [1]", "[2]", " [12][3]"]))
        dressed.append(token)
    bullet = data.draw(st.sampled_from(["", "- ", "* ", "**", "> "]))
    text = bullet + data.draw(st.sampled_from([" ", "  ", "\n"])).join(dressed)
    assert judge(kind=kind, text=text, gold=gold) == plain


# --- the command -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.slow
def test_evaluate_command_prints_and_writes_correct_wrong_escalated(demo_kb, tmp_path, capsys):
    rows = [
        {
            "question": "how much do you charge to pick up a normal (non electric) bike i want to return",
            "expected_kind": "grounded",
            "expected_document": "returns-and-refunds.md",
            "must_contain": ["€35"],
        },
        {
            "question": "What is the capital of Australia?",
            "expected_kind": "escalated",
            "expected_document": None,
            "must_contain": [],
        },
        {"question": "it doesn't work", "expected_kind": "clarify", "expected_document": None, "must_contain": []},
    ]
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.json"
    call_command("evaluate", str(questions), "--json", str(out), "--show", "all")
    printed = capsys.readouterr().out
    assert "| questions | n | correct | wrong | escalated | escalated (correctly: not answerable) |" in printed
    assert "| all | 3 |" in printed and "| expected grounded | 1 |" in printed
    result = json.loads(out.read_text())
    summary = result["summary"]
    assert summary["questions"] == 3
    assert summary["correct"] + summary["wrong"] + summary["escalated"] + summary["escalated_correctly"] == 3
    assert {"reply_words_median", "reply_words_p90", "correct_share", "wrong_share"} <= summary.keys()
    labels = [r["verdict"] for r in result["rows"]]
    assert labels[0] in ("correct", "wrong", "escalated")
    assert set(labels[1:]) <= {"wrong", "escalated (correctly)"}, result["rows"]
    assert summary["escalated_correctly"] == labels.count("escalated (correctly)")
    assert all({"verdict", "why", "reply_words"} <= r.keys() for r in result["rows"])
