"""Learn the guard's calibration from the *train* part of the public benchmark.

What is learnt, all from `dataset.public_rows("train")` (see dataset.py for the
split rule) and nothing from the test part:

- public-train patterns: the train injections become signatures
  (source "public-train:<dataset>"), except those that are nearly a train
  benign text themselves (a signature that matches clean files is a bad
  signature) or nearly a copy of a pattern already kept;
- a linear probe on the message vector and the message's hashed character n-grams
  (L2 logistic regression, 384 + `ngrams.BUCKETS` weights);
- the calibration: logistic regression over `scoring.FEATURES`;
- the two operating points: the logits at which the out-of-fold
  false-positive rate on train benign rows is `FLAG_FPR` and `BLOCK_FPR`.

Out-of-fold: every train row's features are computed as if the row had never
been seen — its own pattern is left out of its similarity search, and its
probe value and calibration logit come from models fitted on the other folds.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from django.conf import settings

from core.embeddings import embed_passages
from core.errors import ApplicationError
from core.text import question_key
from guardrails import heuristics, ngrams, scoring
from guardrails.dataset import TEST, Row, public_rows, read_rows
from guardrails.extra_data import message_training_rows
from guardrails.sanitize import sanitize

SEEDS_DIR = Path(__file__).with_name("seeds")
TEAM_FILE = SEEDS_DIR / "team_patterns.jsonl"
PUBLIC_TRAIN_FILE = SEEDS_DIR / "public_train_patterns.jsonl"
TEAM_BENIGN_FILE = SEEDS_DIR / "team_benign.jsonl"
NGRAM_WEIGHTS_FILE = Path(__file__).with_name("probe_ngrams.npy")

FLAG_FPR = 0.015
BLOCK_FPR = 0.002
FOLDS = 5
# The probe's L2 penalty, for its vector and its n-gram weights alike (both inputs are unit-length rows).
PROBE_L2 = 1.0
CALIBRATION_L2 = 0.1
PRUNE_BENIGN_COSINE = 0.92
PRUNE_DUPLICATE_COSINE = 0.98
# One weak hit on an otherwise harmless message must stay this far (logit) below the flag point.
SINGLE_WEAK_MARGIN = 0.5
WEAK = scoring.FEATURES.index("weak")
PROBE = scoring.FEATURES.index("probe")
# The probe at its cap plus one weak hit must stay below the block point by this much (product rule (b):
# "below"; the probe at its cap alone keeps SINGLE_WEAK_MARGIN below it).
PROBE_WEAK_BLOCK_MARGIN = 0.0
# The probe at its cap alone, on an otherwise harmless message, stays this far below the FLAG point (issue #21,
# third session): the probe flags on its own through its own flag point (below), not through the logit. With
# the multilingual assistant commands among the benign rows the free fit put the probe at its cap 0.39 above
# the flag point, and "can you forget everything I told you" (a customer starting over) was flagged; every
# calibration before had kept it below (0.41 below in the one it replaced) without this constraint.
PROBE_ALONE_FLAG_MARGIN = 0.1
# The probe feature is capped at the maximum (quantile 1.0) of its out-of-fold values on in-domain
# benign rows (BANKING77 and the team's hard negatives): the highest benign value seen. Product rule
# (fifth held-out run): the probe may FLAG on its own (a flag costs little: approved answers only or a
# person), but must never BLOCK on its own or with only one weak hit.
PROBE_CAP_QUANTILE = 1.0
# The probe's own flag point (sixth held-out run): a message whose raw probe value reaches `probe_flag`
# is flagged — never blocked — whatever the calibrated logit says. It is set from the probe's own
# out-of-fold distribution on the benign train rows: above every in-domain benign value (BANKING77 and
# the team's hard negatives: `flag_probe_cap`) and above every benign row the logit does not
# already flag, so that on the train part the probe on its own adds at most PROBE_FLAG_EXTRA_FPR
# (none) to the false-positive rate.
PROBE_FLAG_EXTRA_FPR = 0.0
# Since the n-gram probe (2026-11-30), the own flag point reads a second, vector-only probe (the probe of
# the sixth run, refitted), not the probe in the logit. The n-gram probe is sharper on attack words, and
# so less predictable on an English customer message that borrows them ("If you don't know the answer,
# pass me to a human" reached it, above every in-domain benign train value): inside the capped, constrained
# logit that costs nothing, as the probe's own flag point it would flag such a message on its own.
IN_DOMAIN_BENIGN = ("banking77", "team-benign", "team-commands")
# The datasets whose train injections become signatures: the curated, explainable layer keeps to the
# benchmark's own attacks (Tensor Trust's game attacks — "say Access Granted" — train the probes only).
PATTERN_DATASETS = ("deepset", "self-reminder")
# The operating points are read off the benign rows of the benchmark's train part and the team's hard
# negatives, as before issue #21: the Wikipedia questions added then are easy negatives and would
# otherwise loosen the 1.5 % point; they still teach the probes and set the probe's own flag point.
THRESHOLD_DATASETS = ("deepset", "banking77", "team-benign")
DEFAULT_CATEGORY = {"deepset": "instruction_override", "self-reminder": "role_play"}


# --- text as the guard sees it ----------------------------------------------------------------------


def as_message(raw: str) -> str:
    """The sanitised message the pipeline would hand to the guard. Over-long texts are
    refused by the pipeline; here they are cut to the cap and scored (the attacker's best case)."""
    try:
        return sanitize(raw[: settings.CHAT_MAX_MESSAGE_CHARS])
    except ApplicationError:
        return ""


def embed_keys(keys: Sequence[str]) -> np.ndarray:
    """Vectors for many keys at once, each distinct key embedded once."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    order = sorted(range(len(unique)), key=lambda i: len(unique[i]))  # similar lengths batch faster
    vectors = embed_passages([unique[i] for i in order])
    by_key = {unique[i]: vectors[j] for j, i in enumerate(order)}
    return np.stack([by_key[k] for k in keys]).astype(np.float32)


def training_rows() -> list[Row]:
    """The public train part plus the team's hard negatives (in-domain customer messages that
    use words attacks use: "ignore my previous message", "instructions", "manager", ...), plus the
    fit split of the extra benign data (issue #21; `extra_data.message_training_rows`)."""
    return public_rows("train") + list(read_rows(TEAM_BENIGN_FILE)) + message_training_rows()


# --- logistic regression (numpy, Newton's method) -------------------------------------------------------


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    *,
    l2: float,
    sample_weight: np.ndarray | None = None,
    iterations: int = 50,
    fixed: dict[int, float] | None = None,
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (the bias is not penalised). Returns (weights, bias).
    `fixed` pins some weights (column index → value); the others are fitted around them."""
    if fixed:
        free = [j for j in range(x.shape[1]) if j not in fixed]
        offset = sum(x[:, j] * v for j, v in fixed.items())
        w_free, b = _fit_logistic(
            x[:, free], y, l2=l2, sample_weight=sample_weight, iterations=iterations, offset=offset
        )
        w = np.zeros(x.shape[1])
        w[free] = w_free
        for j, v in fixed.items():
            w[j] = v
        return w, b
    return _fit_logistic(x, y, l2=l2, sample_weight=sample_weight, iterations=iterations)


def _fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    *,
    l2: float,
    sample_weight: np.ndarray | None,
    iterations: int,
    offset: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, float]:
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    sw = np.ones(n) if sample_weight is None else sample_weight
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        z = np.clip(xb @ w + offset, -35, 35)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ (sw * (p - y)) + penalty * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-7:
            break
    return w[:-1], float(w[-1])


def fit_logistic_sparse(x, y: np.ndarray, *, l2: float, sample_weight: np.ndarray) -> tuple[np.ndarray, float]:
    """The same L2-regularised logistic regression as `fit_logistic` (the bias not penalised), for a wide
    sparse `x` (scipy CSR: the probe's n-gram columns) by L-BFGS instead of Newton's method."""
    from scipy.optimize import minimize

    def loss_and_grad(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b
        loss = float(np.sum(sample_weight * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * (w @ w))
        g = sample_weight * (1.0 / (1.0 + np.exp(-np.clip(z, -35, 35))) - y)
        return loss, np.append(x.T @ g + l2 * w, g.sum())

    result = minimize(
        loss_and_grad, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-6}
    )
    return result.x[:-1], float(result.x[-1])


def balanced_weights(y: np.ndarray) -> np.ndarray:
    pos = max(int(y.sum()), 1)
    neg = max(len(y) - pos, 1)
    return np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))


def fold_of(row: Row) -> int:
    """Deterministic fold for cross-fitting (hash of the row's source id)."""
    return hashlib.sha256(row.source.encode()).digest()[0] % FOLDS


def benign_reference(x: np.ndarray, y: np.ndarray, team_benign: np.ndarray) -> np.ndarray:
    """A harmless message's typical features: per feature, the larger of the median over all
    benign train rows and over the team's hard negatives (in-domain customer messages sit closer
    to the retail patterns than BANKING77 does); no rule hits."""
    reference = np.maximum(np.median(x[y == 0], axis=0), np.median(x[team_benign], axis=0))
    reference[scoring.FEATURES.index("strong")] = 0.0
    reference[scoring.FEATURES.index("weak")] = 0.0
    return reference


def single_weak_logit(weights: np.ndarray, bias: float, reference: np.ndarray) -> float:
    """The logit of an otherwise harmless message (the benign reference) with one weak rule hit."""
    return scoring.reference_logit(weights, bias, reference, weak=1.0)


def fit_calibration(
    x: np.ndarray,
    y: np.ndarray,
    sw: np.ndarray,
    folds: np.ndarray,
    reference: np.ndarray,
    log=print,
    *,
    probe_cap: float | None = None,
    threshold_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray, float, float, dict[int, float]]:
    """The calibration fit, constrained so that, on an otherwise harmless message (the reference),
    - ONE weak hit stays at least SINGLE_WEAK_MARGIN below the flag point,
    - the probe at its cap (its highest in-domain benign value) stays that far below the BLOCK point,
    - the probe at its cap plus one weak hit stays below the block point (PROBE_WEAK_BLOCK_MARGIN),
    - the probe at its cap alone stays PROBE_ALONE_FLAG_MARGIN below the flag point:
    a weak rule alone never flags; the probe may flag on its own, but neither it alone nor it with one
    weak hit ever blocks. When the free fit breaks one of
    them, the weak or probe weight is pinned lower (in every fold and in the final fit) and everything
    is refitted, until all hold.
    Returns (weights, bias, out-of-fold logits, z_flag, z_block, pinned weights by column)."""
    caps: dict[int, float] = {}
    for _ in range(60):

        def fit(mask: np.ndarray, caps: dict[int, float] = caps) -> tuple[np.ndarray, float]:
            w, b = fit_logistic(x[mask], y[mask], l2=CALIBRATION_L2, sample_weight=sw[mask])
            fixed: dict[int, float] = {}
            for _ in range(len(caps) + 1):
                over = {j: c for j, c in caps.items() if j not in fixed and w[j] > c}
                if not over:
                    break
                fixed.update(over)
                w, b = fit_logistic(x[mask], y[mask], l2=CALIBRATION_L2, sample_weight=sw[mask], fixed=fixed)
            return w, b

        oof_z = np.zeros(len(y))
        for f in range(FOLDS):
            w, b = fit(folds != f)
            oof_z[folds == f] = x[folds == f] @ w + b
        weights, bias = fit(np.ones(len(y), dtype=bool))
        benign_z = oof_z[(y == 0) & (threshold_rows if threshold_rows is not None else True)]
        z_flag = threshold_at_fpr(benign_z, FLAG_FPR)
        z_block = max(threshold_at_fpr(benign_z, BLOCK_FPR), z_flag + 1e-3)
        excess = single_weak_logit(weights, bias, reference) - (z_flag - SINGLE_WEAK_MARGIN)
        if excess > 0:
            caps[WEAK] = max(float(weights[WEAK]) - excess - 0.01, 0.0)
            log(f"one weak hit alone would reach the flag point: weak weight capped at {caps[WEAK]:.3f}, refitting")
            continue
        if probe_cap:
            alone = scoring.reference_logit(weights, bias, reference, probe=probe_cap) - (z_block - SINGLE_WEAK_MARGIN)
            with_weak = scoring.reference_logit(weights, bias, reference, weak=1.0, probe=probe_cap) - (
                z_block - PROBE_WEAK_BLOCK_MARGIN
            )
            alone_flag = scoring.reference_logit(weights, bias, reference, probe=probe_cap) - (
                z_flag - PROBE_ALONE_FLAG_MARGIN
            )
            excess = max(alone, with_weak, alone_flag)
            if excess > 0:
                caps[PROBE] = max(float(weights[PROBE]) - excess / probe_cap - 0.01, 0.0)
                which = (
                    "alone would flag"
                    if alone_flag >= max(alone, with_weak)
                    else "alone would block"
                    if alone >= with_weak
                    else "plus one weak hit would block"
                )
                log(f"the probe {which}: probe weight capped at {caps[PROBE]:.3f}, refitting")
                continue
        return weights, bias, oof_z, z_flag, z_block, caps
    raise RuntimeError("could not keep a weak hit below the flag point or the probe below the block point")


def round_up(value: float, decimals: int = 6) -> float:
    """`value` rounded up to `decimals` places (for thresholds stored in calibration.json)."""
    scale = 10**decimals
    return math.ceil(value * scale) / scale


def threshold_at_fpr(benign_z: np.ndarray, fpr: float) -> float:
    """The smallest logit that at most `fpr` of benign rows reach."""
    ordered = np.sort(benign_z)[::-1]
    allowed = int(np.floor(fpr * len(ordered)))
    return float(np.nextafter(ordered[allowed], np.inf)) if allowed < len(ordered) else float(ordered[-1])


# --- patterns -----------------------------------------------------------------------------------------


@dataclass
class SeedPattern:
    text: str
    category: str
    source: str
    origin: str = ""


def read_seed_file(path: Path) -> list[SeedPattern]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines(): texts may hold U+2028
        if line.strip():
            data = json.loads(line)
            out.append(SeedPattern(data["text"], data["category"], data.get("source", "team"), data.get("origin", "")))
    return out


def category_for(text: str, dataset: str) -> str:
    found = heuristics.hits(text)
    for strength in (heuristics.STRONG, heuristics.WEAK):
        for hit in found:
            if hit.strength == strength:
                return hit.category
    return DEFAULT_CATEGORY.get(dataset, "instruction_override")


def select_train_patterns(
    rows: list[Row], keys: list[str], vectors: np.ndarray, team_vectors: np.ndarray
) -> list[tuple[int, SeedPattern]]:
    """Train injections that make good signatures: (row index, pattern)."""
    y = np.array([r.is_injection for r in rows])
    benign = vectors[~y]
    kept: list[int] = []
    out: list[tuple[int, SeedPattern]] = []
    for i in np.flatnonzero(y):
        if not keys[i] or rows[i].dataset not in PATTERN_DATASETS:
            continue
        if len(benign) and float(np.max(benign @ vectors[i])) >= PRUNE_BENIGN_COSINE:
            continue
        pool = [vectors[j] for j in kept] + list(team_vectors)
        if pool and float(np.max(np.stack(pool) @ vectors[i])) >= PRUNE_DUPLICATE_COSINE:
            continue
        kept.append(int(i))
        row = rows[i]
        out.append(
            (
                int(i),
                SeedPattern(
                    text=row.text[: settings.CHAT_MAX_MESSAGE_CHARS],
                    category=category_for(row.text, row.dataset),
                    source=f"public-train:{row.dataset}",
                    origin=row.source,
                ),
            )
        )
    return out


# --- features -------------------------------------------------------------------------------------------


@dataclass
class TrainingData:
    rows: list[Row]
    texts: list[str]
    keys: list[str]
    vectors: np.ndarray
    decoded_vectors: dict[int, np.ndarray]
    evidence: list[scoring.TextEvidence]


def prepare(rows: list[Row]) -> TrainingData:
    """Sanitise, analyse and embed rows (the slow part: one model pass per distinct text)."""
    texts = [as_message(r.text) for r in rows]
    keys = [question_key(t) if t else "" for t in texts]
    evidence = [scoring.text_evidence(t) for t in texts]
    vectors = embed_keys(keys)
    changed = [i for i, e in enumerate(evidence) if e.decoded.changed]
    decoded = embed_keys([question_key(evidence[i].decoded.text) for i in changed])
    return TrainingData(rows, texts, keys, vectors, {i: decoded[j] for j, i in enumerate(changed)}, evidence)


def similarity_features(
    data: TrainingData, pattern_vectors: np.ndarray, pattern_rows: np.ndarray
) -> tuple[np.ndarray, list[bool]]:
    """Top-k similarities per row (its own pattern left out) and the obfuscation flag."""
    k = scoring.NEIGHBOURS
    n = len(data.rows)
    tops = np.zeros((n, k))
    obfuscated: list[bool] = []
    for i in range(n):
        own = pattern_rows == i
        sims = pattern_vectors @ data.vectors[i] if len(pattern_vectors) else np.zeros(0)
        sims = np.where(own, -1.0, sims)
        original_best = float(sims.max()) if len(sims) else 0.0
        decoded_best = 0.0
        if i in data.decoded_vectors and len(pattern_vectors):
            dsims = np.where(own, -1.0, pattern_vectors @ data.decoded_vectors[i])
            decoded_best = float(dsims.max())
            sims = np.maximum(sims, dsims)
        best = np.sort(sims)[::-1][:k]
        tops[i, : len(best)] = best
        e = data.evidence[i]
        obfuscated.append(
            scoring.obfuscation_shown(data.texts[i], e)
            or (e.decoded.changed and decoded_best > original_best + scoring.DECODED_SIM_GAIN)
        )
    return tops, obfuscated


def feature_matrix(data: TrainingData, tops: np.ndarray, obfuscated: list[bool], probe: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(data.rows)):
        strong, weak = scoring.hit_counts(data.evidence[i], obfuscated=obfuscated[i])
        out.append(scoring.feature_vector(list(tops[i]), strong, weak, float(probe[i])))
    return np.stack(out)


def probe_inputs(data: TrainingData):
    """The probe's input rows (scipy CSR): the hashed character n-grams of the message (`ngrams.buckets`,
    binary, L2-normalised) and its vector; and the same for its decoded form (an all-zero row when
    decoding did not change the message). Column order: n-grams, then vector."""
    import scipy.sparse as sp

    def ngram_rows(texts: list[str]):
        indptr, indices, values = [0], [], []
        for text in texts:
            hit = ngrams.buckets(text) if text else np.zeros(0, dtype=np.int64)
            indices.extend(hit.tolist())
            values.extend([1.0 / np.sqrt(len(hit))] * len(hit))
            indptr.append(len(indices))
        return sp.csr_matrix((values, indices, indptr), shape=(len(texts), ngrams.BUCKETS), dtype=np.float64)

    n = len(data.texts)
    decoded_texts = [e.decoded.text if e.decoded.changed else "" for e in data.evidence]
    decoded_vectors = np.zeros_like(data.vectors, dtype=np.float64)
    for i, v in data.decoded_vectors.items():
        decoded_vectors[i] = v
    original = sp.hstack([ngram_rows(data.texts), sp.csr_matrix(data.vectors.astype(np.float64))]).tocsr()
    decoded = sp.hstack([ngram_rows(decoded_texts), sp.csr_matrix(decoded_vectors)]).tocsr()
    changed = np.array([i in data.decoded_vectors for i in range(n)])
    return original, decoded, changed


def probe_values(original, decoded, changed: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """The probe's logit per row: the larger of the message's and its decoded form's, as at run time."""
    values = original @ weights + bias
    return np.where(changed, np.maximum(values, decoded @ weights + bias), values)


# --- the whole training -------------------------------------------------------------------------------


@dataclass
class TrainingReport:
    calibration: dict
    patterns: list[SeedPattern]
    oof_z: np.ndarray
    oof_sim1: np.ndarray
    labels: np.ndarray
    datasets: list[str]
    oof_probe: np.ndarray | None = None
    probe_ngram_weights: np.ndarray | None = None
    oof_strong: np.ndarray | None = None  # strong rule hits (with obfuscation) per row, as at run time

    def oof_scores(self) -> np.ndarray:
        """Out-of-fold scores as `score_message` would give them (signature floors and the probe's own
        flag point included)."""
        cal = scoring.calibration_from_dict(self.calibration, ngram_weights=self.probe_ngram_weights)
        probe = self.oof_probe if self.oof_probe is not None else np.full(len(self.oof_z), -np.inf)
        strong = self.oof_strong if self.oof_strong is not None else [None] * len(self.oof_z)
        return np.array(
            [
                scoring.final_score(z, s, cal, probe=float(p), strong=None if k is None else int(k))
                for z, s, p, k in zip(self.oof_z, self.oof_sim1, probe, strong, strict=True)
            ]
        )


def choose_probe_flag(
    benign_probe: np.ndarray, benign_flagged: np.ndarray, probe_cap: float, extra_fpr: float = PROBE_FLAG_EXTRA_FPR
) -> float:
    """The probe's own flag point, from its out-of-fold values on the benign train rows: strictly above
    `probe_cap` (every in-domain benign value), and above all but `extra_fpr` of the benign rows that the
    calibrated logit does not already flag (`benign_flagged`)."""
    above_cap = float(np.nextafter(probe_cap, np.inf))
    rest = np.sort(benign_probe[~benign_flagged])[::-1]
    allowed = int(np.floor(extra_fpr * len(benign_probe)))
    if allowed >= len(rest):
        return above_cap
    return max(above_cap, float(np.nextafter(rest[allowed], np.inf)))


def train(*, rows: list[Row] | None = None, use_probe: bool = True, log=print) -> TrainingReport:
    """Fit everything on the train part; nothing is written (see `save`)."""
    rows = rows if rows is not None else training_rows()
    if any(r.split == TEST for r in rows):
        raise ValueError("a row of the public benchmark's test part was given for training")
    log(f"preparing {len(rows)} train rows (sanitise, heuristics, embeddings)…")
    data = prepare(rows)
    y = np.array([1.0 if r.is_injection else 0.0 for r in rows])
    folds = np.array([fold_of(r) for r in rows])

    team = read_seed_file(TEAM_FILE)
    team_vectors = embed_keys([question_key(as_message(p.text)) for p in team])
    chosen = select_train_patterns(rows, data.keys, data.vectors, team_vectors)
    log(f"public-train patterns: {len(chosen)} of {int(y.sum())} train injections kept")
    pattern_vectors = np.vstack([team_vectors, data.vectors[[i for i, _ in chosen]]])
    pattern_rows = np.array([-1] * len(team) + [i for i, _ in chosen])
    tops, obfuscated = similarity_features(data, pattern_vectors, pattern_rows)

    sw = balanced_weights(y)
    x_vec = data.vectors.astype(np.float64)
    if use_probe:
        # The probe in the logit reads the vector and the character n-grams; the probe behind the own flag
        # point reads the vector only (see the note above IN_DOMAIN_BENIGN).
        original, decoded, changed = probe_inputs(data)
        vectors_only = original[:, ngrams.BUCKETS :], decoded[:, ngrams.BUCKETS :]
        oof_probe, oof_flag_probe = np.zeros(len(rows)), np.zeros(len(rows))
        for f in range(FOLDS):
            fit, held = folds != f, folds == f
            w, b = fit_logistic_sparse(original[fit], y[fit], l2=PROBE_L2, sample_weight=sw[fit])
            oof_probe[held] = probe_values(original[held], decoded[held], changed[held], w, b)
            w, b = fit_logistic(x_vec[fit], y[fit], l2=PROBE_L2, sample_weight=sw[fit])
            oof_flag_probe[held] = probe_values(vectors_only[0][held], vectors_only[1][held], changed[held], w, b)
        w, probe_b = fit_logistic_sparse(original, y, l2=PROBE_L2, sample_weight=sw)
        probe_ngram_w, probe_w = w[: ngrams.BUCKETS], w[ngrams.BUCKETS :]
        flag_probe_w, flag_probe_b = fit_logistic(x_vec, y, l2=PROBE_L2, sample_weight=sw)
    else:
        oof_probe, oof_flag_probe = np.zeros(len(rows)), np.zeros(len(rows))
        probe_w, probe_ngram_w, probe_b, flag_probe_w, flag_probe_b = None, None, 0.0, None, 0.0

    x = feature_matrix(data, tops, obfuscated, oof_probe)
    raw_probe = oof_flag_probe.copy()  # what the own flag point reads
    probe_cap: float | None = None
    flag_probe_cap: float | None = None
    in_domain = np.array([r.dataset in IN_DOMAIN_BENIGN and not r.is_injection for r in rows])
    if use_probe:
        probe_cap = round(max(float(np.quantile(x[in_domain, PROBE], PROBE_CAP_QUANTILE)), 1e-3), 6)
        x[:, PROBE] = np.minimum(x[:, PROBE], probe_cap)
        log(f"probe feature capped at {probe_cap:.3f} (quantile {PROBE_CAP_QUANTILE} of in-domain benign rows)")
    reference = benign_reference(x, y, np.array([r.dataset == "team-benign" for r in rows]))
    threshold_rows = np.array([r.dataset in THRESHOLD_DATASETS for r in rows])
    weights, bias, oof_z, z_flag, z_block, caps = fit_calibration(
        x, y, sw, folds, reference, log=log, probe_cap=probe_cap, threshold_rows=threshold_rows
    )
    # Rounded up once, here: rounding to nearest could put an operating point just below the benign row
    # that sets it and flag (block) one benign train row more than chosen; the probe's flag point below
    # is chosen against the stored values.
    z_flag, z_block = round_up(z_flag), round_up(z_block)

    probe_flag: float | None = None
    if use_probe and probe_cap is not None:
        benign = y == 0
        # What the calibrated logit (and the signature floor) already flags, out-of-fold.
        flagged_by_z = (oof_z >= z_flag) | (tops[:, 0] >= scoring.SIGNATURE_FLAG_SIM)
        flag_probe_cap = round(float(np.max(raw_probe[in_domain])), 6)
        probe_flag = round_up(choose_probe_flag(raw_probe[benign], flagged_by_z[benign], flag_probe_cap))
        by_probe = (raw_probe >= probe_flag) & ~flagged_by_z
        log(
            f"probe flag point {probe_flag:.3f} (vector probe; in-domain benign max {flag_probe_cap:.3f}): "
            "flags on its own "
            f"{int(np.sum(by_probe & benign))} more benign train rows (in-domain {int(np.sum(by_probe & in_domain))}) "
            f"and {int(np.sum(by_probe & (y == 1)))} more train injections, out-of-fold"
        )

    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.dataset, {"injection": 0, "benign": 0})[r.label] += 1
    calibration = {
        "version": datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        "features": list(scoring.FEATURES),
        "weights": [round(float(v), 6) for v in weights],
        "bias": round(bias, 6),
        "z_flag": z_flag,
        "z_block": z_block,
        "anchor_flag": 0.6,
        "anchor_block": 0.8,
        "benign_reference": [round(float(v), 6) for v in reference],
        "single_weak_margin": SINGLE_WEAK_MARGIN,
        "probe_weak_block_margin": PROBE_WEAK_BLOCK_MARGIN,
        "probe_alone_flag_margin": PROBE_ALONE_FLAG_MARGIN,
        "weak_cap": round(caps[WEAK], 6) if WEAK in caps else None,
        "probe_weight_cap": round(caps[PROBE], 6) if PROBE in caps else None,
        "probe_cap": probe_cap,
        "probe_cap_quantile": PROBE_CAP_QUANTILE if use_probe else None,
        "probe_flag": probe_flag,
        "flag_probe_cap": flag_probe_cap,
        "flag_probe": {"weights": [round(float(v), 6) for v in flag_probe_w], "bias": round(flag_probe_b, 6)}
        if use_probe
        else None,
        "probe_flag_extra_fpr": PROBE_FLAG_EXTRA_FPR if probe_flag is not None else None,
        "target_fpr": {"flag": FLAG_FPR, "block": BLOCK_FPR},
        "trained_on": {
            "split": "train",
            "rows": counts,
            "public_train_patterns": len(chosen),
            "team_patterns": len(team),
        },
        "probe": {
            "weights": [round(float(v), 6) for v in probe_w],
            "bias": round(probe_b, 6),
            "ngrams": {"file": NGRAM_WEIGHTS_FILE.name, "sizes": list(ngrams.SIZES), "buckets": ngrams.BUCKETS},
        }
        if use_probe
        else None,
    }
    return TrainingReport(
        calibration,
        [p for _, p in chosen],
        oof_z,
        tops[:, 0],
        y,
        [r.dataset for r in rows],
        raw_probe,
        probe_ngram_w.astype(np.float32) if probe_ngram_w is not None else None,
        oof_strong=x[:, scoring.FEATURES.index("strong")].copy(),
    )


def save(report: TrainingReport) -> None:
    """Write calibration.json (and the probe's n-gram weights beside it, with their digest in
    calibration.json) and the public-train seed file, then reload the calibration."""
    probe = report.calibration.get("probe")
    if probe and report.probe_ngram_weights is not None:
        NGRAM_WEIGHTS_FILE.write_bytes(scoring.ngram_weights_bytes(report.probe_ngram_weights))
        probe["ngrams"]["sha256"] = hashlib.sha256(NGRAM_WEIGHTS_FILE.read_bytes()).hexdigest()
    scoring.CALIBRATION_FILE.write_text(json.dumps(report.calibration, indent=1) + "\n")
    with PUBLIC_TRAIN_FILE.open("w", encoding="utf-8") as handle:
        for p in report.patterns:
            handle.write(
                json.dumps(
                    {"text": p.text, "category": p.category, "source": p.source, "origin": p.origin},
                    ensure_ascii=False,
                )
                + "\n"
            )
    scoring.reload_calibration()
