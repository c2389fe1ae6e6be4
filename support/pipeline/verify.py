"""Verify, stage 8: every statement of the answer must cite a passage given to
the composer and be supported by it. Unsupported statements are removed.

Support is lexical (the statement's content words are in the cited passage)
plus a hard rule on numbers: a number, price or date in the answer that the
cited passage does not contain is an invention, whatever else matches. For
statements that are not verbatim (the LLM path) an embedding check against
the passage's sentences backs the lexical one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.text import split_sentences
from support.pipeline import lexicon
from support.pipeline.compose import answer_sentences, render
from support.pipeline.types import Passage

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
MIN_LEXICAL_SUPPORT = 0.75


@dataclass
class Verified:
    text: str
    kept: int
    dropped: list[str]
    cited: list[int]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def supported(statement: str, passage: Passage, *, embed=None) -> bool:
    source = passage.heading_path + " " + passage.text
    if statement in passage.text:
        return True
    if not _numbers(statement) <= _numbers(source):
        return False
    words = lexicon.stems(statement)
    if not words:
        return False
    overlap = len(words & lexicon.stems(source)) / len(words)
    if overlap >= MIN_LEXICAL_SUPPORT:
        return True
    if embed is not None and overlap >= 0.4:
        vectors = embed([statement, *split_sentences(passage.text)])
        return float((vectors[1:] @ vectors[0]).max()) >= 0.8
    return False


def verify(answer: str, passages: list[Passage], *, embed=None) -> Verified:
    by_number = {p.n: p for p in passages}
    kept: list[tuple[str, list[int], bool]] = []
    dropped: list[str] = []
    cited: list[int] = []
    for statement, numbers, is_item in answer_sentences(answer):
        sources = [by_number[n] for n in dict.fromkeys(numbers) if n in by_number]
        if sources and all(supported(statement, p, embed=embed) for p in sources):
            kept.append((statement, [p.n for p in sources], is_item))
            cited.extend(p.n for p in sources if p.n not in cited)
        else:
            dropped.append(statement)
    return Verified(text=render(kept), kept=len(kept), dropped=dropped, cited=cited)
