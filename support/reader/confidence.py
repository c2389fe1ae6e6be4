"""The reply-confidence model's weights and their evaluation: P(this reply is correct).

The features are computed by support.pipeline.confidence from the turn; this module only holds
their names, in the order the weights expect, and evaluates the logistic regression (a dot
product). Trained by `bench/confidence.py fit`; the weights are support/reader/confidence.json.
"""

from __future__ import annotations

import json
import logging
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from core import embeddings
from support.reader import cross_encoder, yes_no
from support.reader import model as reader_model
from support.reader.model import file_digest

log = logging.getLogger(__name__)
MODEL_PATH = Path(__file__).resolve().parent / "confidence.json"

FEATURES = (
    "reader_logit",
    "top_p",
    "second_ratio",
    "top_document_share",
    "documents_in_top5",
    "answer_cosine",
    "max_cosine",
    "answer_hit_rank",
    "table_row",
    "list_item",
    "asked_yes_no",
    "says_yes",
    "says_no",
    "yes_by_default",
    "by_limit",
    "by_exception_or_cell",
    "answer_is_top",
    "document_margin",
    "answer_sentence_cosine",
    "other_document_cosine_gap",
    "heading_cosine",
    "amount_asked_and_quoted",
    "time_asked_and_quoted",
    "close_candidates",
    "question_words",
    "question_sentences",
    "answer_words",
    "quoted_passages",
    "terms_covered",
    "terms_weight_covered",
)


class Confidence:
    def __init__(self, spec: dict):
        if tuple(spec["features"]) != FEATURES:
            raise ValueError("these confidence weights were trained on other features than this code computes")
        self.spec = spec
        self.mean = np.asarray(spec["mean"])
        self.scale = np.asarray(spec["scale"])
        self.coef = np.asarray(spec["coef"])
        self.intercept = float(spec["intercept"])
        self.threshold = float(spec["threshold"])

    def p(self, x: np.ndarray) -> float:
        z = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=1)
def load() -> Confidence | None:
    """The committed weights, or None where there are none (the reader's threshold alone decides). Weights
    fitted on another reader's or yes/no detector's outputs still load, with a warning: their features
    would mean other things (retrain with `make confidence`)."""
    if not MODEL_PATH.is_file():
        return None
    spec = json.loads(MODEL_PATH.read_text())
    now = trained_with()
    stale = sorted(k for k, v in spec.get("trained_with", {}).items() if now.get(k) != v)
    if stale:
        log.warning("the reply-confidence weights were fitted with other %s weights: retrain them", " and ".join(stale))
    return Confidence(spec)


def trained_with() -> dict[str, str]:
    """The weights whose outputs the features read: the reader, the yes/no detector, the cross-encoder
    that rereads the chosen article ("" when it is off), the token-level match's setting and the
    projection its stored token vectors went through."""
    reread = cross_encoder.digest() if settings.READER_CROSS_ENCODER_CANDIDATES > 0 else ""
    late = f"{settings.READER_LATE_CANDIDATES}:{settings.READER_LATE_WEIGHT:g}:{settings.READER_LATE_VOTE:g}"
    return {
        "reader": reader_model.digest(),
        "yes_no": yes_no.digest(),
        "cross_encoder": reread,
        "late": late,
        "token_projection": embeddings.token_tag().hex(),  # as the stored token blobs name it
    }


def digest() -> str:
    return file_digest(str(MODEL_PATH)) if MODEL_PATH.is_file() else ""
