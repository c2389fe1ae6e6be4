"""Token-level matching of the question against a sentence ("late interaction").

Why: the ranker sees a question and a sentence only as two mean-pooled vectors plus word overlaps.
Within the article the vote chose, the sentences all resemble the question, and the one that
answers it is the one whose words meet the question's own words: "Class II stockings need a
report from your doctor" for "can I get class I stockings fitted without a doctor's report".
Matching each of the question's word pieces to its closest word piece of the sentence, with the
embedding model's own contextual token vectors (stored at ingestion), sees that; nothing is
trained but the fixed projection the vectors are stored through (core/token_projection.npz), and
no shop's vocabulary is named.

The score of a sentence is

    sum_i w_i * max_j cos(q_i, s_j) / sum_i w_i  +  COVERAGE * mean_j max_i cos(q_i, s_j)

where q_i are the question's word pieces, s_j the sentence's, and w_i the inverse document
frequency, in this knowledge base, of the word the piece belongs to (0 for function words: a
question's "can I" meets every sentence). The second term is the share of the sentence that the
question speaks to. Measured on the 1,048 grounded questions of the 22 training help centres, the
gold sentence first within the gold article: mean-pooled cosine 0.485, word overlap with IDF plus
cosine 0.569, this score 0.617 (docs/quality.md, reader v9).
"""

from __future__ import annotations

import math

import numpy as np

from support.reader.features import tokens

COVERAGE = 0.5


def question_weights(text: str, offsets: np.ndarray, stats: dict) -> np.ndarray:
    """Each word piece's weight: the IDF of the word it belongs to in the knowledge base (its
    chunk-level document frequencies, `stats["df"]` over `stats["n"]` chunks); 0 for function
    words. A punctuation piece joined to a word ("doctor's", "e-bike") takes that word's weight, as
    measured. All zero (a question of function words only) falls back to equal weights."""
    n = max(int(stats.get("n") or 0), 1)
    df = stats.get("df") or {}
    weights = np.zeros(len(offsets), dtype=np.float32)
    for i, (start, end) in enumerate(offsets):
        left, right = int(start), int(end)
        while left > 0 and text[left - 1].isalnum():
            left -= 1
        while right < len(text) and text[right].isalnum():
            right += 1
        stems = tokens(text[left:right])
        if stems:
            weights[i] = math.log((n + 1) / (df.get(stems[0], 0) + 0.5))
    weights = np.clip(weights, 0.0, None)
    if not weights.sum():
        weights[:] = 1.0
    return weights


def scores(question: np.ndarray, weights: np.ndarray, sentences: list[np.ndarray]) -> np.ndarray:
    """The late-interaction score of each sentence (token vectors normalised, rows are tokens)."""
    if not len(question) or not sentences:
        return np.zeros(len(sentences))
    total = float(weights.sum())
    out = np.zeros(len(sentences))
    for k, sentence in enumerate(sentences):
        if not len(sentence):
            continue
        sim = question @ sentence.T
        out[k] = float(sim.max(axis=1) @ weights) / total + COVERAGE * float(sim.max(axis=0).mean())
    return out


def reorder(logits: np.ndarray, late: np.ndarray, weight: float) -> np.ndarray:
    """The candidates' new order (indices, best first): the late score plus `weight` times the
    ranker's logit, so the ranker breaks near ties and a weight of 0 is the late score alone."""
    return np.argsort(-(late + weight * logits), kind="stable")
