"""Compose, stage 7. The default composer is extractive and deterministic: the
answer is the kept sentences themselves, in document order, each followed by
the number of its passage. It cannot invent anything because it writes
nothing of its own."""

from __future__ import annotations

import re

from support.pipeline.types import Passage

CITATION = re.compile(r"\s?\[(\d{1,2})\]")
EXTRACTIVE = "extractive"


def compose_extractive(passages: list[Passage]) -> str:
    paragraphs: list[str] = []
    for passage in passages:
        lines: list[str] = []
        prose: list[str] = []
        for sentence, is_item in zip(passage.sentences, passage.items, strict=True):
            if is_item:
                if prose:
                    lines.append(" ".join(prose))
                    prose = []
                lines.append(f"- {sentence} [{passage.n}]")
            else:
                prose.append(f"{sentence} [{passage.n}]")
        if prose:
            lines.append(" ".join(prose))
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def answer_sentences(text: str) -> list[tuple[str, list[int], bool]]:
    """Split an answer into cited statements: (statement, passage numbers, is list item).
    A statement ends at its citation marker; text after the last marker of a
    line is a statement that cites nothing."""
    out: list[tuple[str, list[int], bool]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        is_item = line.startswith(("- ", "* ", "• "))
        pos = 0
        for match in CITATION.finditer(line):
            segment = line[pos : match.start()]
            number = int(match.group(1))
            if _has_words(segment):
                out.append((_clean(segment), [number], is_item))
            elif out and pos > 0:
                out[-1][1].append(number)  # "... [1][2]" cites both
            pos = match.end()
        tail = line[pos:]
        if _has_words(tail):
            out.append((_clean(tail), [], is_item))
    return out


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _clean(text: str) -> str:
    text = text.strip()
    for bullet in ("- ", "* ", "• "):
        text = text.removeprefix(bullet)
    return text.strip()


def render(statements: list[tuple[str, list[int], bool]]) -> str:
    """Statements back into answer text: prose joined by spaces, list items on their own lines."""
    lines: list[str] = []
    prose: list[str] = []
    for statement, numbers, is_item in statements:
        marked = statement + "".join(f" [{n}]" for n in numbers)
        if is_item:
            if prose:
                lines.append(" ".join(prose))
                prose = []
            lines.append("- " + marked)
        else:
            prose.append(marked)
    if prose:
        lines.append(" ".join(prose))
    return "\n".join(lines)
