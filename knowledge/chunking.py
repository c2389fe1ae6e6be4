"""Heading-aware chunking: sections split into chunks of about
CHUNK_TARGET_TOKENS, never cutting a sentence, with a small sentence overlap
between neighbours in the same section. List items and table rows are kept
whole, like sentences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from knowledge.parsing import Block, ParsedDocument
from knowledge.text import split_sentences

HEADING_SEPARATOR = " › "
MODEL_MAX_TOKENS = 256  # all-MiniLM-L6-v2 truncates beyond this


@dataclass(frozen=True)
class Unit:
    text: str
    tokens: int
    block: int  # units of one block are joined by spaces, blocks by newlines
    is_item: bool


@dataclass
class ChunkDraft:
    ordinal: int
    heading_path: str
    text: str
    token_count: int
    sentence_spans: list[tuple[int, int]]

    @property
    def embedding_text(self) -> str:
        """What is embedded and indexed: the heading path carries the subject."""
        return f"{self.heading_path}\n{self.text}" if self.heading_path else self.text

    @property
    def body_offset(self) -> int:
        return len(self.embedding_text) - len(self.text)


def chunk_document(
    doc: ParsedDocument,
    *,
    count_tokens: Callable[[list[str]], list[int]],
    target_tokens: int = 220,
    max_tokens: int = 300,
    overlap_sentences: int = 1,
) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []
    for path, section in groupby(enumerate(doc.blocks), key=lambda pair: pair[1].heading_path):
        heading = HEADING_SEPARATOR.join(path)
        units = _units([block for _, block in section], count_tokens)
        heading_tokens = count_tokens([heading])[0] + 3 if heading else 2
        # Keep every chunk inside what the model reads, heading included.
        limit = max(32, min(max_tokens, MODEL_MAX_TOKENS - heading_tokens))
        for group in _pack(
            units, target=min(target_tokens, limit), limit=limit, overlap=overlap_sentences, count_tokens=count_tokens
        ):
            text, spans = _join(group)
            drafts.append(
                ChunkDraft(
                    ordinal=len(drafts),
                    heading_path=heading,
                    text=text,
                    token_count=sum(u.tokens for u in group),
                    sentence_spans=spans,
                )
            )
    return drafts


def _units(blocks: list[Block], count_tokens: Callable[[list[str]], list[int]]) -> list[Unit]:
    pieces: list[tuple[str, int, bool]] = []
    for index, block in enumerate(blocks):
        parts = [block.text] if block.is_item else split_sentences(block.text)
        pieces.extend((part, index, block.is_item) for part in parts)
    counts = count_tokens([p[0] for p in pieces]) if pieces else []
    return [Unit(text, tokens, index, item) for (text, index, item), tokens in zip(pieces, counts, strict=True)]


def _pack(
    units: list[Unit], *, target: int, limit: int, overlap: int, count_tokens: Callable[[list[str]], list[int]]
) -> list[list[Unit]]:
    units = [piece for unit in units for piece in _split_oversized(unit, limit, count_tokens)]
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    fresh = 0  # units in `current` that are not overlap from the previous chunk
    for unit in units:
        if current and fresh and size + unit.tokens > target and (size >= target // 2 or size + unit.tokens > limit):
            groups.append(current)
            carried = current[-overlap:] if overlap else []
            carried = [u for u in carried if sum(c.tokens for c in carried) + unit.tokens <= limit // 2]
            current, size, fresh = list(carried), sum(u.tokens for u in carried), 0
        current.append(unit)
        size += unit.tokens
        fresh += 1
    if current and fresh:
        # A short tail joins the previous chunk when both fit the limit.
        if groups and size < target // 3:
            tail = [u for u in current if u not in groups[-1]]
            if sum(u.tokens for u in groups[-1]) + sum(u.tokens for u in tail) <= limit:
                groups[-1].extend(tail)
                return groups
        groups.append(current)
    return groups


def _split_oversized(unit: Unit, limit: int, count_tokens: Callable[[list[str]], list[int]]) -> list[Unit]:
    """A single sentence longer than a chunk (rare: run-on text, long tables) is split on words."""
    if unit.tokens <= limit:
        return [unit]
    words = unit.text.split()
    pieces: list[Unit] = []
    step = max(1, len(words) * limit // (unit.tokens * 2))
    for start in range(0, len(words), step):
        text = " ".join(words[start : start + step])
        pieces.append(Unit(text, count_tokens([text])[0], unit.block, unit.is_item))
    return pieces


def _join(units: list[Unit]) -> tuple[str, list[tuple[int, int]]]:
    text = ""
    spans: list[tuple[int, int]] = []
    previous: Unit | None = None
    for unit in units:
        if previous is not None:
            text += " " if unit.block == previous.block and not unit.is_item else "\n"
        prefix = "- " if unit.is_item else ""
        start = len(text) + len(prefix)
        text += prefix + unit.text
        spans.append((start, len(text)))
        previous = unit
    return text, spans
