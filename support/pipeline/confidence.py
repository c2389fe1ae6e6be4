"""Will this reply be right? The last check before a quoted answer is sent.

The reader's P(answerable) is learned on doc2dial's simulated turns: whether the top sentence is a
gold one. A reply is judged on more than that (its yes or no, the article it cites, the sentences
quoted with the answer), and on help centres the reader's probability separates right replies from
wrong ones poorly (AUROC 0.70 over 767 replies of the 16 training help centres). This model reads the
whole turn as it stands before the reply is written: the reader's scores and how they spread over
articles, retrieval's cosines, the answering sentence's shape, whether the customer asked for a yes
or a no and what the rule says, and how many of the question's distinctive terms (weighed by the
knowledge base's own statistics) the quote contains. It is a logistic regression trained on the
pipeline's own replies to the training help centres' questions (`bench/confidence.py`), so its
output is P(this reply is correct) on help-centre questions (calibrated there: leave-one-shop-out ECE
0.03); one threshold, where a reply's expected value turns positive when a wrong reply costs three
right ones (0.75), decides whether the reply goes out or the question goes to a person. A clarifying
reply is scored as the quote it is: an answer without a yes or no (the model learned from answers).
"""

from __future__ import annotations

import math

import numpy as np

from knowledge.selectors import SearchHit
from support.pipeline import read
from support.pipeline.polarity import Decision
from support.pipeline.read import Candidate, Reading
from support.pipeline.types import Passage
from support.reader.confidence import FEATURES
from support.reader.features import QTYPES, qtype, states_amount, states_time, tokens

# An article's vote: the sum of its best five sentence scores and the token-level match's share, as
# read.by_document counts it by default (READER_DOCUMENT_VOTES); fixed here because the weights were
# fitted on it.
_VOTES = 5


def features(
    question: str,
    vector: np.ndarray,
    reading: Reading,
    hits: list[SearchHit],
    answer: Candidate,
    passages: list[Passage],
    asked: bool,
    decision: Decision | None,
) -> np.ndarray:
    cands = reading.candidates
    ps = np.array([c.p for c in cands]) if cands else np.zeros(1)
    top = cands[0] if cands else answer
    top_doc = hits[top.hit].document_id
    answer_doc = hits[answer.hit].document_id
    share = sum(c.p for c in cands if hits[c.hit].document_id == top_doc) / max(float(ps.sum()), 1e-12)
    p_ans = min(max(reading.p_answerable, 1e-6), 1 - 1e-6)
    text = " ".join(p.quote for p in passages)
    quoted = set(tokens(text))
    kind = qtype(question)
    terms = reading.terms
    covered = [t for t in terms if t in quoted]
    words = len(question.split())
    verdict, why = (decision.verdict, decision.why) if decision is not None else (None, "")
    totals = [*sorted(read.document_votes(cands, hits, _VOTES, reading.matched).values(), reverse=True), 0.0]
    q = np.asarray(vector, dtype=np.float32)
    answer_cos = _sentence_cosine(q, hits[answer.hit], answer.index)
    others = [_sentence_cosine(q, hits[c.hit], c.index) for c in cands[:10] if hits[c.hit].document_id != answer_doc]
    heading = read.heading_vectors([hits[answer.hit].heading_path])[hits[answer.hit].heading_path]
    values = {
        "reader_logit": math.log(p_ans / (1 - p_ans)),
        "top_p": float(ps[0]),
        "second_ratio": math.log(max(ps[1], 1e-9) / max(ps[0], 1e-9)) if len(ps) > 1 else 0.0,
        "top_document_share": share,
        "documents_in_top5": len({hits[c.hit].document_id for c in cands[:5]}),
        "answer_cosine": hits[answer.hit].cosine,
        "max_cosine": max(h.cosine for h in hits),
        "answer_hit_rank": math.log1p(answer.hit),
        "table_row": float(" | " in answer.text),
        "list_item": float(answer.is_item),
        "asked_yes_no": float(asked),
        "says_yes": float(verdict == "yes"),
        "says_no": float(verdict == "no"),
        "yes_by_default": float(why == "the rule says yes"),
        "by_limit": float("stated period" in why or "stated limit" in why),
        "by_exception_or_cell": float("exception" in why or "column" in why),
        "answer_is_top": float(answer is top),
        "document_margin": totals[0] - totals[1],
        "answer_sentence_cosine": answer_cos,
        "other_document_cosine_gap": answer_cos - max(others, default=0.0),
        "heading_cosine": float(q @ np.asarray(heading, dtype=np.float32)),
        # answer-type agreement: a "how much" answered with an amount, a "how long / when" with a period or date
        "amount_asked_and_quoted": float(kind[QTYPES.index("howmuch")] * states_amount(text)),
        "time_asked_and_quoted": float(kind[QTYPES.index("howlong_when")] * states_time(text)),
        "close_candidates": math.log1p(sum(1 for c in cands if c.p >= 0.5 * ps[0])),
        "question_words": math.log1p(words),
        "question_sentences": float(max(1, sum(question.count(m) for m in ".?!"))),
        "answer_words": math.log1p(len(answer.text.split())),
        "quoted_passages": float(len(passages)),
        "terms_covered": len(covered) / len(terms) if terms else 1.0,
        "terms_weight_covered": sum(terms[t] for t in covered) / sum(terms.values()) if terms else 1.0,
    }
    return np.array([values[name] for name in FEATURES], dtype=np.float64)


def _sentence_cosine(q: np.ndarray, hit: SearchHit, index: int) -> float:
    """The sentence's ingestion-time vector (float16, normalised) against the question's."""
    if not hit.sentence_vectors:
        return 0.0
    vectors = np.frombuffer(hit.sentence_vectors, dtype=np.float16).reshape(-1, q.shape[0])
    return float(vectors[index].astype(np.float32) @ q)
