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


@dataclass(frozen=True)
class OutputIssue:
    code: str
    detail: str


def check(text: str, passages: list[Passage], *, canary: str = "") -> OutputIssue | None:
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
    return None
