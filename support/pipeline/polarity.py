"""Yes or no: what the answering sentence says to a question that asks for one.

A customer who asks "can I still send it back?" wants "Yes" or "No" first, then the rule. The
reader finds the sentence that states the rule; this module decides whether that sentence, read
against what the customer said about their case, says yes, says no, or depends on a condition the
customer has not stated (then the pipeline quotes the rule and asks, instead of guessing).

Only English grammar is used, the same for every knowledge base: auxiliaries that open a yes/no
question, negation, exception and condition words, durations ("within 30 days" against "3 weeks
ago"), and a rule's bound on an age, amount, share or count against the customer's own number
(support.pipeline.limits). Nothing names a product, a place or a shop's vocabulary; an exception's subject is matched
against the question's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from support.pipeline import limits
from support.reader import yes_no
from support.reader.features import tokens

YES, NO, DEPENDS = "yes", "no", "depends"

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_ASKS = re.compile(
    r"(?:^|[,;:\-–(]\s*|\b(?:so|and|but|also|then|still|ok|okay|hi|hey|hello|please)\s+)"
    r"(?:can|could|may|might|do|does|did|is|are|was|were|will|would|should|shall|am|have|has|must|"
    r"isn't|aren't|don't|doesn't|can't|won't)\s+(?:i|you|u|we|it|they|he|she|this|that|these|those|there|my|your|"
    r"our|the|a|an|someone|anyone|one)\b"
)
_OPENS_WH = re.compile(
    r"^(?:(?:so|and|but|ok|okay|hi|hey|hello|also|then|please)[\s,]+)*(?:what|how|when|where|which|who|whom|whose|why)\b"
)
_WH = re.compile(r"\b(?:what|how|when|where|which|who|whom|whose|why)\b")
_INDIRECT = re.compile(r"^\s*(?:know|tell me|explain|say)\b.*\b(?:what|how|when|where|which|who|why|if|whether)\b")
# "Is there X", "do you sell X": the answer must speak of X to say yes or no.
_EXISTS = re.compile(
    r"\b(?:is there|are there|do you (?:have|sell|offer|stock|carry|provide|do)|does it (?:have|include|come with))"
    r"\s+(?:an?\s+|any\s+|some\s+|the\s+)?([\w-]+)"
)
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|nor|none|unable|excluded|ineligible|non-refundable|nothing)\b|n't\b", re.IGNORECASE
)
# "At no extra cost", "with no fee", "no cancellation fee", "no minimum term": the price is nil or nothing
# binds the customer, the answer is not a no; nor is a negation that widens ("not just", "no matter").
_FREE = re.compile(
    r"\b(?:(?:at|with|for)\s+)?no\s+(?:[a-z-]+\s+){0,2}?(?:cost|costs|charge|charges|fee|fees)\b"
    r"|\bno\s+(?:binding|minimum|lock-in|notice)\s+(?:period|term|contract)s?\b"
    # "of all brands, not just ours", "no matter how long ago": words of negation that widen, not deny
    r"|\bnot\s+(?:just|only)\b|\bno\s+matter\b|\bno\s+questions\s+asked\b",
    re.IGNORECASE,
)
_EXCEPT = re.compile(r"\b(?:except(?: for)?|excluding|other than|apart from|but not)\s+([^.;:,()]+)", re.IGNORECASE)
# A restriction or condition the customer's case may or may not meet.
_CONDITION = re.compile(
    r"\b(?:only|unless|as long as|provided|if|when|where|as soon as|depending|depends|subject to|"
    r"at least|at most|up to|no later than|within|before|after|until)\b",
    re.IGNORECASE,
)
# Conditions beside a bound that the customer's number does not settle.
_ANOTHER_CONDITION = re.compile(r"\b(?:unless|if|as long as|provided|only)\b", re.IGNORECASE)
_UNIT_DAYS = {"minute": 1 / 1440, "min": 1 / 1440, "hour": 1 / 24, "hr": 1 / 24, "day": 1, "night": 1, "week": 7}
_UNIT_DAYS |= {"month": 30, "year": 365}
_DURATION = re.compile(
    r"\b(\d+(?:[.,]\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[\s-]*"
    r"(?:business |working |calendar )?(minute|min|hour|hr|day|night|week|month|year)s?\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
# The customer's elapsed time: "3 weeks ago", "after 4 years", "for 18 months", "it's been 10 days".
_ELAPSED = re.compile(r"\b(?:ago|after|for|been|old|since|later)\b", re.IGNORECASE)
# A table cell that itself answers yes or no.
_CELL_VERDICT = {"yes": YES, "included": YES, "no": NO, "not included": NO, "not available": NO, "none": NO}


@dataclass(frozen=True)
class Decision:
    verdict: str  # YES, NO or DEPENDS
    why: str  # which rule decided, for the turn's signals

    def as_signals(self) -> dict:
        return {"verdict": self.verdict, "why": self.why}


def asks_yes_no(question: str, vector: np.ndarray | None = None) -> bool:
    """Does the customer want a yes or a no first? The learned detector reads the turn's vector
    (support.reader.yes_no); without a vector or its weights, the grammar test below decides."""
    detector = yes_no.load() if vector is not None else None
    if detector is None:
        return grammar_asks_yes_no(question)
    # A question that opens with a question word wants a fact, whatever else it says ("How late can I
    # cancel …?"): the vector alone read some of those as yes/no; this never vetoed a yes/no question
    # of the training help centres (leave-one-shop-out accuracy 0.894 -> 0.900).
    return not opens_with_question_word(question) and detector(vector)


def opens_with_question_word(question: str) -> bool:
    """The last sentence is the one asked: the turn's question has lost its final "?" (normalize_question),
    so "What is the fee? Is it refundable" asks the second."""
    sentences = [s.strip() for s in _SENTENCE.findall(question) if s.strip()]
    return bool(_OPENS_WH.search((sentences or [question])[-1].lower()))


def grammar_asks_yes_no(question: str) -> bool:
    """True when the customer's (last) question is a yes/no one: an auxiliary before its subject
    ("can I …?", "is it …?", "… - do you ship there?"), no question word before it ("how much do you
    charge"), not an indirect question ("do you know when …") and no "or" between choices."""
    sentences = [s.strip() for s in _SENTENCE.findall(question) if s.strip()]
    if not sentences:
        return False
    asked = [s for s in sentences if s.endswith("?")]
    last = (asked or sentences)[-1].lower()
    found = _ASKS.search(last)
    if found is None or " or " in f" {last} " or _WH.search(last[: found.start()]):
        return False
    return not _INDIRECT.search(last[found.end() :])


def decide(question: str, statement: str, terms: Iterable[str] | None = None) -> Decision:
    """What `statement` (the answering sentence, with its list's introduction when it is a list
    item) answers to a yes/no `question`. `terms`: the question's distinctive terms in this knowledge
    base (read.distinctive); an exception is the customer's case only when it names one of them, not
    when it shares a word every article uses ("order")."""
    q_words = _content(question)
    own = q_words if terms is None else q_words & set(terms)
    asked = _EXISTS.search(question.lower())
    if asked and not _content(asked.group(1)) & _content(statement):
        # "Is there parking at …?" answered by a sentence about the pick-up point: saying yes would
        # state a policy the article does not.
        return Decision(DEPENDS, "the rule does not mention what was asked for")
    negative = _negative(statement)
    mine = _customer_cells(statement, q_words)
    # A table row's bounds belong to its columns: only the customer's own cells are compared.
    bounded = " | ".join(mine) if " | " in statement else statement
    compared = limits.compare(question, bounded) if bounded else None
    if compared is not None:
        # "Must be 16 or older" against "my 15 yr old": the bound decides; a rule that forbids ("can't be
        # graded Excellent below 85 %") says no to the customers it bounds. Only the sentence holding
        # the bound is read for the negation ("… from 40 zł to 3,000 zł. Not available for gift cards.").
        # A bound met is not yet a yes where the sentence names an exception or another condition ("free
        # on orders of $75 or more, except to the territories"): the rules below read those.
        admits, at = compared
        sentence = next((m.group(0) for m in _SENTENCE.finditer(bounded) if m.start() <= at < m.end()), bounded)
        if admits == _negative(sentence):
            return Decision(NO, "the customer's number is outside the stated limit")
        if not (_EXCEPT.search(sentence) or _ANOTHER_CONDITION.search(sentence)):
            return Decision(YES, "the customer's number is within the stated limit")
    limit = _single_duration(statement)
    if limit is None and mine:
        limit = _single_duration(" ".join(mine))
    elapsed = _elapsed(question)
    if limit is not None and elapsed is not None and not negative:
        if elapsed <= limit:
            return Decision(YES, "within the stated period")
        return Decision(NO, "past the stated period")
    for match in _EXCEPT.finditer(statement):
        if _content(match.group(1)) & own:
            return Decision(NO, "the customer's case is the exception")
    if negative:
        return Decision(NO, "the rule says no")
    if len(mine) == 1 and mine[0].strip(" .").lower() in _CELL_VERDICT:
        return Decision(_CELL_VERDICT[mine[0].strip(" .").lower()], "the customer's column of the table")
    if " | " in statement:
        # A table row answers for its own row; whether the customer's case is that row is not read here.
        return Decision(DEPENDS, "a table row")
    if _CONDITION.search(statement) or _EXCEPT.search(statement):
        return Decision(DEPENDS, "a condition the customer has not stated")
    return Decision(YES, "the rule says yes")


def _negative(statement: str) -> bool:
    """The rule's main clause says no: a negation before any condition or exception, a nil price aside."""
    clause = re.split(r"\b(?:unless|if|as long as|provided|except|excluding)\b", statement, maxsplit=1, flags=re.I)[0]
    return bool(_NEGATION.search(_FREE.sub(" ", clause)))


def lead(verdict: str) -> str:
    """The word the reply opens with."""
    return {YES: "Yes.", NO: "No."}.get(verdict, "")


def _customer_cells(statement: str, q_words: set[str]) -> list[str]:
    """The values of a table row's cells whose column the customer named ("I'm a Gold member" picks
    "Gold: 100 days" out of "Return window | Basic: 30 days | Plus: 60 days | Gold: 100 days")."""
    if " | " not in statement:
        return []
    cells = [cell.split(": ", 1) for cell in statement.split(" | ")]
    return [value for header, value in (c for c in cells if len(c) == 2) if _content(header) & q_words]


def _content(text: str) -> set[str]:
    return set(tokens(text))


def _days(match: re.Match) -> float:
    amount = match.group(1).lower()
    number = _NUMBER_WORDS.get(amount)
    value = float(amount.replace(",", ".")) if number is None else float(number)
    return value * _UNIT_DAYS[match.group(2).lower()]


def _single_duration(statement: str) -> float | None:
    """The one period a rule states ("within 30 days", "a 10-year guarantee"); None when it states
    none or several (a table of tiers needs the customer's row, not a comparison)."""
    found = {_days(m) for m in _DURATION.finditer(statement)}
    return found.pop() if len(found) == 1 else None


def _elapsed(question: str) -> float | None:
    """How long ago the customer's case began, when they say so once ("3 weeks ago", "after 4 years")."""
    found = set()
    for m in _DURATION.finditer(question):
        tail = question[m.end() : m.end() + 12]
        head = question[max(0, m.start() - 12) : m.start()]
        if _ELAPSED.search(tail) or _ELAPSED.search(head):
            found.add(_days(m))
    return found.pop() if len(found) == 1 else None
