"""Output check, stage 9: a last look at what is about to be sent.

A reply is suppressed (and the conversation escalated) when it promises
something the cited text does not (refunds, discounts, exceptions, legal
statements), leaks instructions, or is empty or runs away in length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from support.pipeline.types import Passage

_COMMITMENTS = {
    "refund": re.compile(r"\brefund\w*|\bmoney back\b|\breimburs\w*", re.I),
    "discount": re.compile(r"\bdiscount\w*|\b\d+\s?% off\b|\bvoucher\w*|\bcoupon\w*|\bpromo code\b", re.I),
    "exception": re.compile(r"\bexception\w*|\bwaive\w*|\bmake an exception\b|\bspecial case\b|\bone-off\b", re.I),
    "free": re.compile(r"\bfree of charge\b|\bfor free\b|\bat no (?:extra )?cost\b|\bcomplimentary\b", re.I),
    "compensation": re.compile(r"\bcompensat\w*|\bgoodwill\b", re.I),
    "guarantee": re.compile(r"\bguarantee\w*|\bpromise\w*", re.I),
    "legal": re.compile(r"\bliab\w*|\blegally\b|\bnot responsible\b|\bwe accept responsibility\b|\bsue\b", re.I),
}
_LEAKS = re.compile(
    r"system prompt|my instructions|i (?:was|am) instructed|as an ai\b|language model|ignore (?:all )?previous|"
    r"numbered passages|you are a customer[- ]service",
    re.I,
)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w€£$.,])\+?\d[\d ()-]{7,}\d(?![\w%])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")

# The commonest function words of the languages our customers write in;
# enough of them in a message tells its language.
_LANGUAGES = {
    "en": frozenset("the and you your is are to of for with what how can do does my this that it in on".split()),
    "de": frozenset("der die das und ist nicht ich sie wie kann mein meine ein eine mit für auf zu wann".split()),
    "fr": frozenset("le la les et est pas je vous comment puis mon ma un une avec pour sur quand des".split()),
    "es": frozenset("el la los las y es no yo usted cómo puedo mi un una con para en cuándo que".split()),
    "nl": frozenset("de het en is niet ik je jij hoe kan mijn een met voor op wanneer van".split()),
}


def language_of(text: str) -> str | None:
    """A language code when the text clearly is in one, else None (short or mixed text)."""
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    if len(words) < 4:
        return None
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _LANGUAGES.items()}
    best = max(scores, key=scores.get)
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] >= 3 and ranked[0] >= 2 * max(ranked[1], 1):
        return best
    return None


def personal_data(text: str) -> set[str]:
    found = set(_EMAIL.findall(text)) | set(_IBAN.findall(text))
    found |= {re.sub(r"\D", "", m) for m in _PHONE.findall(text) if len(re.sub(r"\D", "", m)) >= 9}
    found |= {re.sub(r"\D", "", m) for m in _CARD.findall(text) if len(re.sub(r"\D", "", m)) >= 13}
    return found


def _normalise_pd(items: set[str]) -> set[str]:
    return {re.sub(r"\s", "", i).lower() for i in items}


@dataclass(frozen=True)
class OutputIssue:
    code: str
    detail: str


def check(text: str, passages: list[Passage], *, canary: str = "", question: str = "") -> OutputIssue | None:
    if not text.strip():
        return OutputIssue("empty", "the reply is empty")
    if len(text) > settings.CHAT_MAX_REPLY_CHARS:
        return OutputIssue("too_long", f"the reply has {len(text)} characters")
    if canary and canary in text:
        return OutputIssue("leak", "the reply contains the instructions' canary")
    if _LEAKS.search(text):
        return OutputIssue("leak", "the reply talks about its instructions")
    cited = " ".join(p.text for p in passages)
    for name, pattern in _COMMITMENTS.items():
        if pattern.search(text) and not pattern.search(cited):
            return OutputIssue("commitment", f"the reply mentions {name} but the cited text does not")
    # Personal data may come from the cited text (the company's own address) or
    # from the customer; anything else in a reply came from somewhere it should not.
    stray = _normalise_pd(personal_data(text)) - _normalise_pd(personal_data(cited + " " + question))
    if stray:
        return OutputIssue(
            "personal_data", "the reply contains personal data from neither the sources nor the customer"
        )
    asked, answered = language_of(question), language_of(text)
    if asked and answered and asked != answered:
        return OutputIssue("language", f"the customer wrote in {asked} but the reply is in {answered}")
    return None
