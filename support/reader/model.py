"""The learned reader: which retrieved sentence answers, and how likely any does.

A LightGBM ranker (trained by `manage.py train_reader`, dumped to JSON) scores
each candidate sentence of a turn; a logistic model over turn-level features,
calibrated (Platt) on the calibration split, gives
P(answerable). Both are evaluated here in numpy (about 5 ms a turn for ~40
sentences): no model forward pass, no training library at run time.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from support.reader.features import SENT_FEATURES, TURN_FEATURES, featurize, turn_features

MODEL_PATH = Path(__file__).resolve().parent / "model.json"


class Linear:
    def __init__(self, d):
        self.mean = np.array(d["mean"])
        self.scale = np.array(d["scale"])
        self.coef = np.array(d["coef"])
        self.intercept = float(d["intercept"])

    def logit(self, X):
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept


def _flatten(root: dict) -> tuple:
    """One dumped tree as arrays: internal nodes 0.., leaves as negative ids (-1 = leaf 0)."""
    feat: list[int] = []
    thr: list[float] = []
    left: list[int] = []
    right: list[int] = []
    dleft: list[bool] = []
    leaf: list[float] = []

    def walk(node: dict) -> int:
        if "leaf_value" in node:
            leaf.append(node["leaf_value"])
            return -len(leaf)
        i = len(feat)
        feat.append(node["split_feature"])
        thr.append(node["threshold"])
        dleft.append(bool(node.get("default_left", True)))
        left.append(0)
        right.append(0)
        left[i] = walk(node["left_child"])
        right[i] = walk(node["right_child"])
        return i

    top = walk(root)
    return top, feat, thr, left, right, dleft, leaf


class Trees:
    """Evaluates a LightGBM model dumped with Booster.dump_model() (numerical splits, as trained here).
    All trees are evaluated at once: node ids (n_samples x n_trees) advance one level per step."""

    def __init__(self, d):
        trees = [_flatten(t["tree_structure"]) for t in d["tree_info"]]
        T = len(trees)
        mn = max(1, max(len(t[1]) for t in trees))
        ml = max(len(t[6]) for t in trees)
        self.roots = np.array([t[0] for t in trees])
        self.feat = np.zeros((T, mn), int)
        self.thr = np.zeros((T, mn))
        self.left = np.zeros((T, mn), int)
        self.right = np.zeros((T, mn), int)
        self.dleft = np.zeros((T, mn), bool)
        self.leaf = np.zeros((T, ml))
        for i, (_, feat, thr, left, right, dleft, leaf) in enumerate(trees):
            n = len(feat)
            self.feat[i, :n], self.thr[i, :n], self.left[i, :n], self.right[i, :n] = feat, thr, left, right
            self.dleft[i, :n] = dleft
            self.leaf[i, : len(leaf)] = leaf
        self.tidx = np.arange(T)[None, :]

    def logit(self, X):
        X = np.asarray(X, dtype=np.float64)
        n = len(X)
        rows = np.arange(n)[:, None]
        node = np.tile(self.roots, (n, 1))
        while True:
            internal = node >= 0
            if not internal.any():
                break
            nd = np.where(internal, node, 0)
            x = X[rows, self.feat[self.tidx, nd]]
            go_left = np.where(np.isnan(x), self.dleft[self.tidx, nd], x <= self.thr[self.tidx, nd])
            nxt = np.where(go_left, self.left[self.tidx, nd], self.right[self.tidx, nd])
            node = np.where(internal, nxt, node)
        return self.leaf[self.tidx, -node - 1].sum(1)


def _model(d):
    return Trees(d["lgbm"]) if d["kind"] == "lgbm" else Linear(d)


class Calibrator:
    """Turn-model score → probability: Platt's sigmoid (a, b) or an isotonic table (x, y)."""

    def __init__(self, d):
        self.platt = (float(d["a"]), float(d["b"])) if "a" in d else None
        self.x = np.array(d.get("x", []))
        self.y = np.array(d.get("y", []))

    def __call__(self, s):
        if self.platt is not None:
            a, b = self.platt
            return 1.0 / (1.0 + np.exp(-(a * np.asarray(s) + b)))
        return np.interp(s, self.x, self.y)


class Reader:
    def __init__(self, spec: dict):
        self.spec = spec
        self.sent = _model(spec["sentence_model"])
        self.turn = _model(spec["turn_model"])
        if spec.get("sent_features", SENT_FEATURES) != SENT_FEATURES:
            raise ValueError("these reader weights were trained on other sentence features than this code computes")
        self.calib = Calibrator(spec["calibration"])
        # The turn model may read a subset of the turn features (the ones that carry over to new sites).
        used = spec.get("turn_features_used") or spec.get("turn_features") or TURN_FEATURES
        self.turn_columns = [TURN_FEATURES.index(name) for name in used]

    @property
    def threshold(self) -> float:
        """The P(answerable) below which a turn escalates, chosen on the calibration split."""
        return float(self.spec.get("threshold", 0.5))

    @classmethod
    def load(cls, path: Path | str = MODEL_PATH) -> Reader:
        with open(path) as f:
            return cls(json.load(f))

    def score(self, question: str, q_vec: np.ndarray, chunks: list[dict], kb_stats: dict | None = None) -> dict:
        X, keys, texts = featurize(question, q_vec, chunks, kb_stats)
        if len(keys) == 0:
            return {
                "sentences": [],
                "chunk_scores": [0.0] * len(chunks),
                "chunk_order": list(range(len(chunks))),
                "p_answerable": 0.0,
                "top": None,
            }
        logits = self.sent.logit(X)
        if self.spec["sentence_model"].get("objective") == "lambdarank":
            # ranking scores: p = softmax share within the turn (P(this is the best sentence | one is))
            e = np.exp(logits - logits.max())
            p = e / e.sum()
        else:
            p = 1 / (1 + np.exp(-logits))
        chunk_scores = np.zeros(len(chunks))
        for (ci, _), pi in zip(keys, p, strict=False):
            chunk_scores[ci] = max(chunk_scores[ci], pi)
        tf = turn_features(X, logits, keys, chunks)
        p_ans = float(self.calib(self.turn.logit(tf[None, self.turn_columns])[0]))
        order = np.argsort(-p, kind="stable")
        sents = [{"chunk": keys[i][0], "index": keys[i][1], "text": texts[i], "p": float(p[i])} for i in order]
        return {
            "sentences": sents,
            "chunk_scores": chunk_scores.tolist(),
            "chunk_order": np.argsort(-chunk_scores, kind="stable").tolist(),
            "p_answerable": p_ans,
            "top": sents[0],
        }


def blend(ranker: np.ndarray, reread: np.ndarray, weight: float) -> np.ndarray:
    """The ranker's logits plus the cross-encoder's, relative to its best (only differences count:
    it was trained listwise)."""
    return ranker + weight * (reread - reread.max())


@lru_cache(maxsize=4)
def _load(path: str) -> Reader:
    return Reader.load(path)


def load() -> Reader:
    """The reader, loaded once per process (READER_MODEL_PATH, default the committed weights)."""
    return _load(str(settings.READER_MODEL_PATH or MODEL_PATH))


@lru_cache(maxsize=8)
def file_digest(path: str) -> str:
    """A weights file's identity (the first 12 hex digits of its SHA-256), for the reply fingerprint and
    for weights that record which others they were fitted on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def digest() -> str:
    """Which weights answered: part of every reply's configuration fingerprint."""
    return file_digest(str(settings.READER_MODEL_PATH or MODEL_PATH))
