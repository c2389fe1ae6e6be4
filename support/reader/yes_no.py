"""Does the customer want a yes or a no? Learned from the question's own vector.

The grammar test in `support.pipeline.polarity` (an auxiliary before a pronoun) misses the way
customers write: "Return possible?", "covered?", "is phone support available on Saturday?",
"can I swap for a 26.5 for free?" (the decimal point ends its sentence). On the training help
centres it agreed with the question writers' yes/no labels for 83 % of the grounded questions (as the
turn sees them: spacing and the final "?" normalised away); a logistic regression over the turn's
MiniLM vector, which the turn has already computed, agrees for 89 % of the questions of shops it was
not fitted on (leave-one-shop-out), 90 % with polarity.py's veto of questions that open with a
question word. Evaluating it is one dot product.

Trained by `manage.py train_yes_no` on the grounded questions of the training help centres
(support/reader/data/shops/, written as training data): a question is a yes/no one when its
writer gave the answer a "yes_no".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from support.reader.model import file_digest

MODEL_PATH = Path(__file__).resolve().parent / "yes_no.json"
C = 3.0  # the L2 penalty's inverse: chosen by leave-one-shop-out accuracy among 0.3, 1, 3 and 10


class AsksYesNo:
    def __init__(self, spec: dict):
        self.spec = spec
        self.coef = np.asarray(spec["coef"], dtype=np.float32)
        self.intercept = float(spec["intercept"])
        self.threshold = float(spec.get("threshold", 0.5))

    def p(self, vector: np.ndarray) -> float:
        z = float(np.asarray(vector, dtype=np.float32) @ self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def __call__(self, vector: np.ndarray) -> bool:
        return self.p(vector) >= self.threshold


@lru_cache(maxsize=1)
def load() -> AsksYesNo | None:
    """The committed model, or None where the file is missing (the grammar test is used then)."""
    if not MODEL_PATH.is_file():
        return None
    return AsksYesNo(json.loads(MODEL_PATH.read_text()))


def digest() -> str:
    """Part of every reply's configuration fingerprint: the model decides the reply's first word."""
    return file_digest(str(MODEL_PATH)) if MODEL_PATH.is_file() else ""


def fit(
    vectors: np.ndarray,
    labels: Sequence[bool],
    groups: Sequence[str],
    rule: Callable[[int], bool],
    veto: Callable[[int], bool] | None = None,
) -> dict:
    """The model's weights, with its leave-one-group-out accuracy beside the grammar test's
    (`rule(i)` for question i) on the same questions, and with `veto(i)` (never yes/no) applied."""
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    g = np.asarray(groups)
    if len(set(y.tolist())) < 2 or len(set(g.tolist())) < 2:
        raise ValueError("training needs both kinds of question and at least two shops")
    held_out = np.zeros(len(y))
    for group in sorted(set(g.tolist())):
        out = g == group
        model = LogisticRegression(C=C, max_iter=5000).fit(X[~out], y[~out])
        held_out[out] = model.predict_proba(X[out])[:, 1]
    model = LogisticRegression(C=C, max_iter=5000).fit(X, y)
    rule_says = np.array([rule(i) for i in range(len(y))], dtype=int)
    vetoed = np.array([bool(veto(i)) if veto else False for i in range(len(y))])
    return {
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "threshold": 0.5,
        "C": C,
        "questions": len(y),
        "yes_no_questions": int(y.sum()),
        "shops": len(set(g.tolist())),
        "leave_one_shop_out_accuracy": round(float(((held_out >= 0.5) == y).mean()), 4),
        "leave_one_shop_out_accuracy_with_veto": round(float((((held_out >= 0.5) & ~vetoed) == y).mean()), 4),
        "grammar_rule_accuracy": round(float((rule_says == y).mean()), 4),
    }
