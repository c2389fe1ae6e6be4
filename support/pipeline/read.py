"""Read, the stage after retrieval: which retrieved sentence answers the question, whether any
does, and what must be quoted with it.

The learned reader (support/reader/) scores every sentence of the retrieved chunks and gives a
calibrated P(answerable); one threshold serves every knowledge base. Nothing here knows a
shop's words: the question's terms are weighed by the knowledge base's own statistics (read
from its searchable chunks once per knowledge generation), and the only word lists are the
English markers of a condition or a list ("unless", "only if", a trailing colon).

What is quoted: the answering sentence first, then at most READER_MAX_SUPPORTING sentences
from the same section that carry its conditions and exceptions (the next sentence when it
states one, the sentence a "This …" points back to, a list's introduction or its items).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from core import embeddings
from core.text import estimate_tokens
from knowledge.models import Chunk
from knowledge.selectors import SearchHit, chunk_tokens
from support.pipeline.types import Passage
from support.reader import confidence as confidence_model
from support.reader import cross_encoder, late
from support.reader import model as reader_model
from support.reader.features import tokens

# A sentence that states a condition or an exception to the one before it.
_CONDITION = re.compile(
    r"^(?:however|but|unless|except|only|note|please note|if|provided|as long as|otherwise|in that case|"
    r"exceptions?|this does not|this doesn't)\b|\b(?:unless|except|excluding|only if|provided that|as long as|"
    r"does not apply|do not apply)\b",
    re.IGNORECASE,
)
_POINTS_BACK = re.compile(r"^(?:this|that|these|those|it|they|such)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")
MAX_LIST_ITEMS = 8
log = logging.getLogger(__name__)
_cross_encoder_failed = threading.Event()  # it could not be built: this process reads without it
MIN_WORDS = 3  # shorter prose (a version line, a lone label) is never quoted on its own; list items may be short


@dataclass
class Candidate:
    hit: int  # index into the turn's hits
    index: int  # sentence index in that hit
    text: str
    p: float
    is_item: bool


@dataclass
class Reading:
    p_answerable: float
    threshold: float
    candidates: list[Candidate] = field(default_factory=list)  # best first
    chunk_order: list[int] = field(default_factory=list)  # hits reranked by the reader
    skipped: dict[int, set[int]] = field(default_factory=dict)  # hit -> its boilerplate sentences
    # The question's distinctive terms (stem -> inverse document frequency in this knowledge base):
    # what the customer said about their case, for the qualifier sentence.
    terms: dict[str, float] = field(default_factory=dict)
    # (hit, sentence) -> how well the question's own words meet the sentence's (match_words); empty when off.
    matched: dict[tuple[int, int], float] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return bool(self.candidates) and self.p_answerable >= self.threshold

    def as_signals(self) -> dict:
        top = self.candidates[0] if self.candidates else None
        return {
            "p_answerable": round(self.p_answerable, 4),
            "threshold": self.threshold,
            "answerable": self.answerable,
            "top": {"hit": top.hit, "sentence": top.index, "p": round(top.p, 4)} if top else None,
            "chunk_order": self.chunk_order,
            "words_matched": bool(self.matched),  # False: no stored token vectors were readable, or it is off
        }


def threshold() -> float:
    """The reader's own gate on P(answerable). Where the reply-confidence model is installed it
    decides instead (answer_threshold), on every turn the reader can quote from."""
    if confidence_model.load() is not None:
        return 0.0
    configured = settings.READER_MIN_ANSWERABLE
    return float(configured) if configured >= 0 else reader_model.load().threshold


def decisive_threshold() -> float:
    """The threshold that decides whether a quoted answer goes out, whichever probability it
    applies to (the reply-confidence model's where installed, else the reader's)."""
    gate = confidence_model.load()
    return answer_threshold(gate) if gate is not None else threshold()


def answer_threshold(gate: confidence_model.Confidence) -> float:
    """READER_MIN_ANSWERABLE when set (0 answers every turn that can quote), else the threshold
    stored with the confidence weights."""
    configured = settings.READER_MIN_ANSWERABLE
    return float(configured) if configured >= 0 else gate.threshold


def read(question: str, vector: np.ndarray, hits: list[SearchHit], generation: int) -> Reading:
    """Score the hits' sentences; `hits` come best first from the hybrid search."""
    limit = threshold()
    if not hits:
        return Reading(0.0, limit)
    heads = heading_vectors([h.heading_path for h in hits])
    stats = kb_stats(generation)
    skipped = {i: found for i, h in enumerate(hits) if (found := boilerplate(h, stats["boilerplate"]))}
    chunks = [as_chunk(h, heads[h.heading_path], skipped.get(i, set())) for i, h in enumerate(hits)]
    scored = reader_model.load().score(question, vector, chunks, stats)
    candidates = [
        Candidate(s["chunk"], s["index"], s["text"], s["p"], _is_item(hits[s["chunk"]], s["index"]))
        for s in scored["sentences"]
    ]
    matched = match_words(question, candidates, hits, stats)
    candidates, order = by_document(candidates, hits, scored["chunk_order"], matched)
    candidates = within_article(candidates, hits, matched)
    candidates = reread(question, candidates, hits)
    terms = distinctive(question, stats)
    return Reading(scored["p_answerable"], limit, candidates, order, skipped, terms, matched)


def match_words(
    question: str, candidates: list[Candidate], hits: list[SearchHit], stats: dict
) -> dict[tuple[int, int], float]:
    """How well the question's own words meet each candidate's (support.reader.late), by (hit,
    sentence): what the ranker, reading two pooled vectors and word overlaps, cannot see. Empty when
    switched off (READER_LATE_CANDIDATES = 0) or when a hit has no stored token vectors (a chunk
    ingested before them): the turn is then read as before."""
    if settings.READER_LATE_CANDIDATES <= 0 or len(candidates) < 2:
        return {}
    wanted = {c.hit for c in candidates}
    stored = chunk_tokens([hits[i].chunk_id for i in wanted])
    dims = embeddings.token_dims()
    per_hit = {}
    for i in wanted:
        per_hit[i] = embeddings.unpack_tokens(*stored.get(hits[i].chunk_id, (b"", [])), dims)
        if len(per_hit[i]) != len(hits[i].sentence_spans):
            return {}
    asked = embeddings.query_tokens(question)
    weights = late.question_weights(asked.text, asked.offsets, stats)
    question = embeddings.project_tokens(asked.vectors)
    scores = late.scores(question, weights, [per_hit[c.hit][c.index] for c in candidates])
    return {(c.hit, c.index): float(m) for c, m in zip(candidates, scores, strict=True)}


def within_article(
    candidates: list[Candidate], hits: list[SearchHit], matched: dict[tuple[int, int], float]
) -> list[Candidate]:
    """The chosen article's best READER_LATE_CANDIDATES sentences reordered by their match, the
    ranker's logit times READER_LATE_WEIGHT breaking near ties. P(answerable) and every p stay the
    ranker's. (The match as a feature of the reply-confidence gate was tried: AUROC +0.007, fewer right
    replies at the threshold; docs/quality.md, reader v9.)"""
    if not matched or len(candidates) < 2:
        return candidates
    document = hits[candidates[0].hit].document_id
    n = next((i for i, c in enumerate(candidates) if hits[c.hit].document_id != document), len(candidates))
    head = candidates[: min(n, settings.READER_LATE_CANDIDATES)]
    logits = np.log(np.array([max(c.p, 1e-12) for c in head]))  # p is a softmax share: its log is the logit
    order = late.reorder(logits, np.array([matched[c.hit, c.index] for c in head]), settings.READER_LATE_WEIGHT)
    return [head[i] for i in order] + candidates[len(head) :]


def reread(question: str, candidates: list[Candidate], hits: list[SearchHit]) -> list[Candidate]:
    """The cross-encoder's second look, within the article the vote chose: its best
    READER_CROSS_ENCODER_CANDIDATES sentences are read together with the question and reordered by
    the ranker's and the cross-encoder's logits blended. Only within the article: reread across
    articles, sentences that read like answers moved the vote to the wrong one (docs/quality.md).
    P(answerable) and every p stay the ranker's."""
    limit = settings.READER_CROSS_ENCODER_CANDIDATES
    if limit <= 0 or len(candidates) < 2 or _cross_encoder_failed.is_set():
        return candidates
    try:
        encoder = cross_encoder.load()
    except RuntimeError as exc:  # the turn goes on with the ranker's order; said once per process
        if not _cross_encoder_failed.is_set():
            _cross_encoder_failed.set()
            log.error("%s", exc)
        return candidates
    if encoder is None:
        return candidates
    document = hits[candidates[0].hit].document_id
    n = next((i for i, c in enumerate(candidates) if hits[c.hit].document_id != document), len(candidates))
    head = candidates[: min(n, limit)]
    if len(head) < 2:
        return candidates
    scores = encoder.score(question, [cross_encoder.pair_text(hits[c.hit].heading_path, c.text) for c in head])
    logits = np.log(np.array([max(c.p, 1e-12) for c in head]))  # p is a softmax share: its log is the logit
    order = np.argsort(-reader_model.blend(logits, scores, encoder.weight), kind="stable")
    return [head[i] for i in order] + candidates[len(head) :]


def by_document(
    candidates: list[Candidate],
    hits: list[SearchHit],
    chunk_order: list[int],
    matched: dict[tuple[int, int], float] | None = None,
) -> tuple[list[Candidate], list[int]]:
    """The article first, then the sentence: documents ranked by the sum of their best
    READER_DOCUMENT_VOTES sentence scores, candidates and chunks regrouped in that order (each
    document's own order kept). A lone sentence that resembles the question ("Made-to-order sofas
    can be cancelled…" for a question about delivering a sofa) loses to an article where several
    sentences speak to it; 0 keeps the single best sentence's order. With the token-level match,
    a document's vote also counts READER_LATE_VOTE times how far its best-matching sentence falls
    short of the turn's best match: the article whose sentence meets the customer's own words."""
    votes = settings.READER_DOCUMENT_VOTES
    if votes <= 0 or not candidates:
        return candidates, chunk_order
    total = document_votes(candidates, hits, votes, matched)
    rank = {doc: r for r, doc in enumerate(sorted(total, key=lambda d: -total[d]))}
    last = len(rank)
    regrouped = sorted(candidates, key=lambda c: rank[hits[c.hit].document_id])  # stable: p order within
    order = sorted(chunk_order, key=lambda i: rank.get(hits[i].document_id, last))
    return regrouped, order


def document_votes(
    candidates: list[Candidate], hits: list[SearchHit], votes: int, matched: dict[tuple[int, int], float] | None
) -> dict[int, float]:
    """Each document's vote: the sum of its best `votes` sentence scores, less READER_LATE_VOTE times
    how far its best-matching sentence falls short of the turn's best match (when matched)."""
    scores: dict[int, list[float]] = {}
    best: dict[int, float] = {}
    for cand in candidates:  # best first, so each document's list is sorted
        document = hits[cand.hit].document_id
        scores.setdefault(document, []).append(cand.p)
        if matched:
            best[document] = max(best.get(document, -np.inf), matched[cand.hit, cand.index])
    top = max(best.values(), default=0.0)
    weight = settings.READER_LATE_VOTE
    return {doc: sum(ps[:votes]) + weight * (best.get(doc, top) - top) for doc, ps in scores.items()}


def distinctive(question: str, stats: dict) -> dict[str, float]:
    """The question's terms that few of the knowledge base's chunks use, with their IDF."""
    n = max(int(stats.get("n") or 0), 1)
    out = {}
    for term in dict.fromkeys(tokens(question)):
        if term.isdigit():
            continue  # amounts and periods are compared by polarity, not matched as words
        df = stats["df"].get(term, 0)
        if 0 < df <= settings.READER_QUALIFIER_MAX_DF * n:
            out[term] = float(np.log((n + 1) / (df + 0.5)))
    return out


def as_chunk(hit: SearchHit, heading_vector: np.ndarray, skip: set[int] | None = None) -> dict:
    """A search hit as the reader's features read it; `skip`: sentences that are never candidates."""
    return {
        "skip": skip or set(),
        "doc_id": hit.document_id,
        "heading_path": hit.heading_path,
        "text": hit.text,
        "sentence_spans": hit.sentence_spans,
        "sentence_vectors": _sentence_vectors(hit, heading_vector.shape[0]),
        "heading_vector": heading_vector,
        "section_chunk_index": 0 if hit.opens_section else 1,
        "cosine": hit.cosine,
        "vector_rank": hit.vector_rank,
        "text_rank": hit.text_rank,
        "bm25": hit.text_score,
    }


def answer_candidate(reading: Reading) -> Candidate | None:
    """The sentence quoted first: the best candidate long enough to state a rule."""
    answer = next((c for c in reading.candidates if c.is_item or _words(c.text) >= MIN_WORDS), None)
    top = reading.candidates[0] if reading.candidates else None
    if answer is None or answer.p < settings.READER_SUPPORT_RATIO * top.p:
        return None  # P(answerable) was judged on the top sentence; a far weaker one is not that answer
    return answer


def statement(reading: Reading, hits: list[SearchHit]) -> str:
    """The answering sentence as a rule reads: a list item with the sentence that introduces its
    list ("The guarantee does not cover: - outdoor furniture left outside")."""
    answer = answer_candidate(reading)
    if answer is None:
        return ""
    hit = hits[answer.hit]
    sentences = [hit.text[a:b] for a, b in hit.sentence_spans]
    items = [_is_item(hit, i) for i in range(len(sentences))]
    intro = [j for j in _companions(answer.index, sentences, items) if j < answer.index and not items[j]]
    return " ".join([sentences[j] for j in intro[:1]] + [answer.text])


def quote(reading: Reading, hits: list[SearchHit]) -> list[Passage]:
    """The answering sentence and what must come with it, as numbered passages (answer first)."""
    answer = answer_candidate(reading)
    if answer is None:
        return []
    hit = hits[answer.hit]
    sentences = [hit.text[a:b] for a, b in hit.sentence_spans]
    items = [_is_item(hit, i) for i in range(len(sentences))]
    keep = {answer.index} | _companions(answer.index, sentences, items)
    keep -= reading.skipped.get(answer.hit, set())
    supporting = 0
    for cand in reading.candidates[1:]:
        # Another sentence the reader rates close to the answer, in the same section: a second
        # fact the question needs (a price and its condition, a period and its exception).
        if supporting >= settings.READER_MAX_SUPPORTING:
            break
        if cand.hit != answer.hit or cand.index in keep or _words(cand.text) < MIN_WORDS:
            continue
        if cand.p >= settings.READER_SUPPORT_RATIO * answer.p:
            keep.add(cand.index)
            supporting += 1
    chosen = _fit(keep, answer.index, sentences, items)
    ordered = [answer.index] + [i for i in chosen if i != answer.index]
    if items[answer.index] or (answer.index + 1 < len(items) and items[answer.index + 1]):
        ordered = chosen  # a list reads in its own order, introduction first
    passages = [_passage(1, hit, [sentences[i] for i in ordered], [items[i] for i in ordered])]
    extra = qualifier(reading, hits, answer, " ".join(sentences[i] for i in ordered))
    if extra is not None:
        other = hits[extra.hit]
        passages.append(_passage(2, other, [extra.text], [extra.is_item]))
    return passages


def qualifier(reading: Reading, hits: list[SearchHit], answer: Candidate, quoted: str) -> Candidate | None:
    """A sentence of the answer's article, outside what is quoted, that speaks to what the customer
    said about their case and the quote does not: "I'm a Gold member" and "Gold members get 50 % off",
    when the quote gave the price list. The customer's distinctive words (rare in this knowledge
    base) that the quote leaves out pick it among the reader's best candidates; none, none quoted."""
    missing = {
        t: w for t, w in reading.terms.items() if t not in set(tokens(quoted + " " + hits[answer.hit].heading_path))
    }
    if not missing:
        return None
    document = hits[answer.hit].document_id
    best, best_weight = None, 0.0
    for cand in reading.candidates[: settings.READER_QUALIFIER_CANDIDATES]:
        if cand is answer or hits[cand.hit].document_id != document or _words(cand.text) < MIN_WORDS:
            continue
        if cand.text in quoted:
            continue
        weight = sum(missing.get(t, 0.0) for t in set(tokens(cand.text)))
        if weight >= settings.READER_QUALIFIER_MIN_WEIGHT and weight > best_weight:
            best, best_weight = cand, weight
    return best


def _passage(n: int, hit: SearchHit, sentences: list[str], items: list[bool]) -> Passage:
    return Passage(
        n=n,
        chunk_id=hit.chunk_id,
        version_id=hit.version_id,
        document_id=hit.document_id,
        document_title=hit.document_title,
        version_number=hit.version_number,
        heading_path=hit.heading_path,
        text=hit.text,
        cosine=hit.cosine,
        sentences=sentences,
        items=items,
        version_title=hit.version_title,
    )


def _companions(i: int, sentences: list[str], items: list[bool]) -> set[int]:
    """What a sentence cannot be quoted without: a list item needs the sentence that introduces
    its list (the one right before the list, colon or not); a sentence that introduces a list is
    answered by the list, so its items come along (up to MAX_LIST_ITEMS); the sentence it points
    back to; a condition or exception stated right after it."""
    out: set[int] = set()
    if items[i]:
        j = i - 1
        while j >= 0 and items[j]:
            j -= 1
        if j >= 0:
            out.add(j)
    elif i + 1 < len(sentences) and items[i + 1]:
        run = []
        k = i + 1
        while k < len(sentences) and items[k]:
            run.append(k)
            k += 1
        if len(run) <= MAX_LIST_ITEMS:
            out.update(run)
    if i > 0 and _POINTS_BACK.match(sentences[i]) and not items[i]:
        out.add(i - 1)
    if i + 1 < len(sentences) and not items[i + 1] and _CONDITION.search(sentences[i + 1]):
        out.add(i + 1)
    return out


def _fit(indices: set[int], answer: int, sentences: list[str], items: list[bool]) -> list[int]:
    """Within the context token budget and the sentence cap (list items do not count against the
    cap: a list is quoted whole or not at all); the answer always stays, the nearest go first."""
    budget = settings.CHAT_CONTEXT_TOKEN_BUDGET
    cap = settings.CHAT_MAX_ANSWER_SENTENCES
    used = max(1, estimate_tokens(sentences[answer]))
    kept = [answer]
    counted = 0 if items[answer] else 1
    for i in sorted(indices - {answer}, key=lambda i: (abs(i - answer), i)):
        cost = max(1, estimate_tokens(sentences[i]))
        if used + cost > budget or (not items[i] and counted >= cap):
            continue
        kept.append(i)
        used += cost
        counted += 0 if items[i] else 1
    return sorted(kept)


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _is_item(hit: SearchHit, index: int) -> bool:
    start = hit.sentence_spans[index][0]
    line_start = hit.text.rfind("\n", 0, start) + 1
    return hit.text[line_start:start].startswith("- ")


def _sentence_vectors(hit: SearchHit, dims: int) -> np.ndarray:
    if not hit.sentence_vectors:
        return np.zeros((len(hit.sentence_spans), dims), dtype=np.float32)
    return np.frombuffer(hit.sentence_vectors, dtype=np.float16).reshape(-1, dims)


# --- What the reader needs from the knowledge base, cached ------------------------------------------

_HEADINGS = 4096
_heading_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_heading_lock = threading.Lock()


def heading_vectors(headings: list[str]) -> dict[str, np.ndarray]:
    """Each heading path's vector; headings repeat from turn to turn, so they are embedded once."""
    wanted = list(dict.fromkeys(headings))
    with _heading_lock:
        found = {h: _heading_cache[h] for h in wanted if h in _heading_cache}
        for h in found:
            _heading_cache.move_to_end(h)
    missing = [h for h in wanted if h not in found]
    if missing:
        vectors = embeddings.embed_passages(missing)
        found.update(zip(missing, vectors, strict=True))
        with _heading_lock:
            for heading in missing:
                _heading_cache[heading] = found[heading]
            while len(_heading_cache) > _HEADINGS:
                _heading_cache.popitem(last=False)
    return found


_stats_lock = threading.Lock()
_stats: tuple[int, dict] | None = None
LEAD_SENTENCES = 3  # an article's lead: the first sentences of its first chunk
_SHAPE = re.compile(r"[^\W\d_]+")


def shape(sentence: str) -> str | None:
    """A sentence's opening: its first two words, lower case ("this article", "last updated")."""
    words = _SHAPE.findall(sentence.lower())[:2]
    return " ".join(words) if len(words) == 2 else None


def boilerplate(hit: SearchHit, shapes: frozenset[str]) -> set[int]:
    """The lead sentences of an article that open the way many of the knowledge base's articles
    open: its own template ("This article explains …", "Last updated: …"), never an answer."""
    if hit.ordinal != 0 or not shapes:
        return set()
    spans = hit.sentence_spans[:LEAD_SENTENCES]
    return {j for j, (a, b) in enumerate(spans) if shape(hit.text[a:b]) in shapes}


def template_shapes(leads: Counter[str], documents: int) -> frozenset[str]:
    """Openings shared by the leads of at least a third of the articles (and three of them): a
    help centre's template, learned from the knowledge base itself rather than listed here."""
    need = max(3, settings.READER_BOILERPLATE_SHARE * documents)
    return frozenset(s for s, count in leads.items() if count >= need)


def kb_stats(generation: int) -> dict:
    """How many searchable chunks contain each term (the knowledge base's own vocabulary) and the
    openings its articles share (its template), rebuilt when a version is verified or a document
    retired (the generation changes)."""
    global _stats
    if _stats is not None and _stats[0] == generation:
        return _stats[1]
    with _stats_lock:
        if _stats is None or _stats[0] != generation:
            df: Counter[str] = Counter()
            leads: Counter[str] = Counter()
            n = 0
            versions = set()
            rows = Chunk.objects.filter(searchable=True).values_list(
                "version_id", "ordinal", "heading_path", "text", "sentence_spans"
            )
            for version, ordinal, heading, text, spans in rows.iterator(2000):
                n += 1
                versions.add(version)
                df.update(set(tokens(heading + "\n" + text)))
                if ordinal == 0:
                    leads.update({shape(text[a:b]) for a, b in spans[:LEAD_SENTENCES]} - {None})
            stats = {"n": n, "df": dict(df), "boilerplate": template_shapes(leads, len(versions))}
            _stats = (generation, stats)
        return _stats[1]
