"""Compression, stage 6: keep only the sentences that bear on the question,
within a context token budget, and keep what belongs with them.

Sentence vectors were computed at ingestion (from the chunk's own forward
pass), so this stage does no model work: a dot product per sentence.
What belongs with a kept sentence:
- a list's introduction ("You can pay with:") brings its items, and an item
  brings its introduction (and its short list of siblings);
- a neighbouring sentence that states a condition or exception ("unless",
  "except", "only if", "However, ...") comes along;
- a sentence that starts by pointing back ("This", "They", "It") brings the
  sentence it points to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from core.text import estimate_tokens
from knowledge.selectors import SearchHit
from support.pipeline import lexicon
from support.pipeline.answerability import covered
from support.pipeline.types import Passage

_CONDITION = re.compile(
    r"^(?:however|but|unless|except|only|note|please note|this does not|this doesn't|if you|if the|if your|provided|"
    r"as long as|otherwise|in that case|exceptions?)\b|\b(?:unless|except|excluding|only if|provided that|as long as|"
    r"does not apply|do not apply|cannot be|can't be|are not|is not)\b",
    re.IGNORECASE,
)
_POINTS_BACK = re.compile(r"^(?:this|that|these|those|it|they|them|such|the same)\b", re.IGNORECASE)
MAX_SIBLING_ITEMS = 8
VALUE_BONUS = 0.15
KEEP_RATIO = 0.85  # sentences scoring below this share of the best one are left out


@dataclass
class Sentence:
    chunk_rank: int
    index: int
    text: str
    is_item: bool
    tokens: int
    score: float


def _sentences(
    hit: SearchHit,
    rank: int,
    q: np.ndarray,
    weights: dict[str, float],
    value: re.Pattern | None,
) -> list[Sentence]:
    vectors = hit.sentence_vectors
    vecs = np.frombuffer(vectors, dtype=np.float16).astype(np.float32).reshape(-1, q.shape[0]) if vectors else None
    total = sum(weights.values()) or 1.0
    heading = lexicon.stems(hit.heading_path)  # "Insurance › Monthly price" says what its list items are about
    out = []
    for i, (start, end) in enumerate(hit.sentence_spans):
        text = hit.text[start:end]
        is_item = start >= 2 and hit.text[start - 2 : start] == "- "
        sim = float(vecs[i] @ q) if vecs is not None and i < len(vecs) else 0.0
        words = lexicon.stems(text) | heading
        lex = sum(w for s, w in weights.items() if covered(s, words)) / total
        score = 0.5 * sim + 0.5 * lex if lex > 0 else 0.0  # a sentence sharing no salient word answers nothing
        if value is not None and score and value.search(text):
            score += VALUE_BONUS  # it states a value of the kind asked (a price, a duration, ...)
        out.append(Sentence(rank, i, text, is_item, max(1, estimate_tokens(text)), score))
    return out


def compress(
    hits: list[SearchHit],
    q: np.ndarray,
    weights: dict[str, float],
    value: re.Pattern | None = None,
) -> list[Passage]:
    budget = settings.CHAT_CONTEXT_TOKEN_BUDGET
    per_chunk: list[list[Sentence]] = []
    for rank, hit in enumerate(hits):
        per_chunk.append(_sentences(hit, rank, q, weights, value))
    ranked = sorted((s for chunk in per_chunk for s in chunk), key=lambda s: (-s.score, s.chunk_rank, s.index))
    if not ranked:
        return []
    top = ranked[0].score
    keep: set[tuple[int, int]] = set()
    used = 0
    cores = 0
    for sentence in ranked:
        if cores >= settings.CHAT_MAX_ANSWER_SENTENCES or sentence.score < max(0.3, top * KEEP_RATIO):
            break
        group = _with_companions(sentence, per_chunk[sentence.chunk_rank])
        cost = sum(s.tokens for s in group if (s.chunk_rank, s.index) not in keep)
        if used + cost > budget and cores:
            continue
        for s in group:
            keep.add((s.chunk_rank, s.index))
        used += cost
        cores += 1
    passages: list[Passage] = []
    for rank, hit in enumerate(hits):
        chosen = [s for s in per_chunk[rank] if (rank, s.index) in keep]
        if not chosen:
            continue
        passages.append(
            Passage(
                n=len(passages) + 1,
                chunk_id=hit.chunk_id,
                version_id=hit.version_id,
                document_id=hit.document_id,
                document_title=hit.document_title,
                version_number=hit.version_number,
                heading_path=hit.heading_path,
                text=hit.text,
                cosine=hit.cosine,
                sentences=[s.text for s in chosen],
                items=[s.is_item for s in chosen],
                version_title=hit.version_title,
            )
        )
    return passages


def _with_companions(sentence: Sentence, chunk: list[Sentence]) -> list[Sentence]:
    group = [sentence]
    i = sentence.index
    intro: Sentence | None = None
    if sentence.is_item:
        j = i - 1
        while j >= 0 and chunk[j].is_item:
            j -= 1
        if j >= 0 and chunk[j].text.rstrip().endswith(":"):
            intro = chunk[j]
    elif sentence.text.rstrip().endswith(":"):
        intro = sentence
    if intro is not None:
        items = []
        k = intro.index + 1
        while k < len(chunk) and chunk[k].is_item:
            items.append(chunk[k])
            k += 1
        group.append(intro)
        if len(items) <= MAX_SIBLING_ITEMS:
            group.extend(items)
    if i + 1 < len(chunk) and not chunk[i + 1].is_item and _CONDITION.search(chunk[i + 1].text):
        group.append(chunk[i + 1])
    if i > 0 and _POINTS_BACK.match(sentence.text):
        group.append(chunk[i - 1])
    seen: dict[int, Sentence] = {}
    for s in group:
        seen.setdefault(s.index, s)
    return sorted(seen.values(), key=lambda s: s.index)
