"""Which flow a message asks for: a matcher fitted on the approved flows' trigger examples.

Two questions, answered separately:

- **Which flow?** A multinomial logistic regression over the MiniLM vectors of every approved
  flow's trigger examples, fitted when the set of approved flows changes (a few hundred
  milliseconds for 75 flows of 10 examples; `fit`). It separates neighbouring flows better than
  the nearest centroid does, because it weighs the directions that tell *these* flows apart.
- **Any flow at all?** The message's cosine to the chosen flow's centroid, divided by the square
  root of the flow's own typicality: how close its examples sit to the centroid of the others
  (leave-one-out), shrunk towards TYPICALITY_PRIOR when a flow has few examples. A flow whose
  examples are all phrased alike ("reset my pin") needs a close match; one whose examples
  scatter ("problem with my order") accepts a looser one (on CLINC150's halves, 0.905 / 0.888 in
  scope at 85 % no-flow recall against 0.893 / 0.885 for the plain cosine). Plus
  PROBABILITY_WEIGHT x ln(p x K ** FLOWS_EXPONENT), p the classifier's probability for the flow
  among K: a message the classifier hesitates over, between two or more flows, is more often one
  no flow covers (0.858 -> 0.865 in scope at the same 0.869 no-flow recall on all of CLINC150,
  +0.8 to +2.5 points on its halves and draws; docs/flows.md). One threshold
  (FLOW_TRIGGER_THRESHOLD) on that ratio says "no flow"; past REFERENCE_FLOWS flows it grows with
  their number (THRESHOLD_PER_LOG_FLOWS): a message no flow covers finds a nearer flow among 150
  than among 75.

Every constant here was chosen on public intent data of other domains (CLINC150 split by domain,
HWU64; `flows/data/README.md`, docs/flows.md), never on the set an evaluation reports.
Only numpy and scipy (imported with the module, so a web process pays for it at start, not in a
turn): web processes never import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax
from threadpoolctl import threadpool_limits

# The logistic regression: vectors are scaled by FEATURE_SCALE (unit vectors otherwise make every
# logit small), with an L2 penalty L2_PENALTY on the weights; at most FIT_ITERATIONS L-BFGS steps,
# from the nearest-centroid classifier (weights = centroids x WARM_START).
FEATURE_SCALE = 5.0
L2_PENALTY = 1e-3
FIT_ITERATIONS = 100
WARM_START = 1.0
# A flow's typicality (mean leave-one-out cosine of its examples to the centroid of the others) is
# shrunk towards TYPICALITY_PRIOR with the weight of PRIOR_WEIGHT examples; the prior is the mean
# over CLINC150's (0.67) and HWU64's (0.59) intents with 10 examples each. The confidence is the
# cosine to the centroid / typicality ** TYPICALITY_POWER (1 over-corrects flows whose examples
# scatter: out-of-scope messages then pass them too easily; 0 ignores typicality).
TYPICALITY_PRIOR = 0.63
PRIOR_WEIGHT = 2.0
TYPICALITY_POWER = 0.5
# The classifier's hesitation: PROBABILITY_WEIGHT x ln(p x K ** FLOWS_EXPONENT) is added to the
# confidence. At the threshold a message's p falls roughly as K ** -0.35 on the development sets,
# so K ** FLOWS_EXPONENT keeps the term near zero there whatever the number of flows: the same
# threshold serves three flows and 150, and a shop with a few flows is read as before (with p
# alone the threshold had to fall by about 0.03 x ln K, and the demo's knowledge questions then
# reached its flows twice as often).
PROBABILITY_WEIGHT = 0.08
FLOWS_EXPONENT = 0.35
# The threshold for K flows is FLOW_TRIGGER_THRESHOLD, plus THRESHOLD_PER_LOG_FLOWS x ln(K /
# REFERENCE_FLOWS) above REFERENCE_FLOWS flows. It never falls below the setting: a shop with three
# flows meets questions about its own shop, much nearer its flows than the public sets' out-of-scope
# messages are (docs/flows.md: the demo's knowledge questions).
THRESHOLD_PER_LOG_FLOWS = 0.08
REFERENCE_FLOWS = 75
# The similarity a flow reports beside its confidence (compared with approved answers' cosine):
# NEAREST_WEIGHT x the nearest example + the rest x the centroid, raw MiniLM cosines.
NEAREST_WEIGHT = 0.6


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class Scored:
    """One flow's reading of a message."""

    index: int
    probability: float  # the classifier's, among the approved flows
    confidence: float  # cosine to the centroid / typicality: compared with the threshold
    similarity: float  # raw cosine blend: compared with approved answers


@dataclass(frozen=True)
class Matcher:
    keys: tuple  # one per flow, in order (what the caller needs back: version id, name)
    examples: np.ndarray  # every trigger vector, unit length, n x d
    owner: np.ndarray  # the flow index of each example (examples are stored flow by flow)
    starts: np.ndarray  # where each flow's examples begin
    centroids: np.ndarray  # K x d, unit length
    typicality: np.ndarray  # K
    weights: np.ndarray | None  # d x K (None with one flow)
    bias: np.ndarray | None

    @property
    def size(self) -> int:
        return len(self.keys)

    def threshold(self, base: float) -> float:
        return base + THRESHOLD_PER_LOG_FLOWS * math.log(max(self.size, REFERENCE_FLOWS) / REFERENCE_FLOWS)

    def score(self, vector: np.ndarray) -> list[Scored]:
        """Every flow read against the message, the most probable first."""
        q = _unit(np.asarray(vector, dtype=np.float32))
        if self.weights is None:
            prob = np.ones(self.size)
        else:
            logits = (q * FEATURE_SCALE) @ self.weights + self.bias
            logits -= logits.max()
            prob = np.exp(logits)
            prob /= prob.sum()
        centroid = self.centroids @ q
        # Examples are stored flow by flow, so each flow's nearest example is one reduceat.
        nearest = np.maximum.reduceat(self.examples @ q, self.starts)
        blend = NEAREST_WEIGHT * nearest + (1 - NEAREST_WEIGHT) * centroid
        confidence = centroid / self.typicality**TYPICALITY_POWER + hesitation(prob, self.size)
        order = np.lexsort((-confidence, -prob))
        return [Scored(int(i), float(prob[i]), float(confidence[i]), float(blend[i])) for i in order]


def hesitation(prob: np.ndarray, flows: int) -> np.ndarray:
    """PROBABILITY_WEIGHT x ln(p x K ** FLOWS_EXPONENT): below zero when the classifier spreads its
    probability over several of the K flows, zero with one flow."""
    if flows < 2:
        return np.zeros_like(prob)
    return PROBABILITY_WEIGHT * (np.log(np.maximum(prob, 1e-12)) + FLOWS_EXPONENT * math.log(flows))


def typicality(vectors: np.ndarray) -> float:
    """Mean leave-one-out cosine of a flow's examples to the centroid of the others, shrunk
    towards TYPICALITY_PRIOR (a flow of one example gets the prior)."""
    n = len(vectors)
    if n < 2:
        return TYPICALITY_PRIOR
    total = vectors.sum(axis=0)
    loo = _unit(total[None, :] - vectors)
    observed = float(np.mean(np.sum(loo * vectors, axis=1)))
    weight = n - 1
    value = (weight * observed + PRIOR_WEIGHT * TYPICALITY_PRIOR) / (weight + PRIOR_WEIGHT)
    return max(value, 0.05)


def fit(flows: list[tuple[object, np.ndarray]]) -> Matcher:
    """A matcher for these flows: (key, the flow's trigger vectors) each, in a stable order."""
    keys = tuple(k for k, _ in flows)
    groups = [_unit(np.asarray(v, dtype=np.float64).reshape(-1, np.asarray(v).shape[-1])) for _, v in flows]
    if any(len(g) == 0 for g in groups):
        raise ValueError("every flow needs at least one trigger example")
    examples = np.vstack(groups)
    owner = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups)])
    centroids = _unit(np.stack([g.mean(axis=0) for g in groups]))
    typ = np.array([typicality(g) for g in groups])
    weights = bias = None
    if len(groups) > 1:
        # One BLAS thread: on a small shared machine a multi-threaded fit was 10x slower (contention).
        with threadpool_limits(limits=1):
            weights, bias = _logistic(examples * FEATURE_SCALE, owner, centroids)
    return Matcher(
        keys=keys,
        examples=examples.astype(np.float32),
        owner=owner,
        starts=np.cumsum([0] + [len(g) for g in groups[:-1]]),
        centroids=centroids.astype(np.float32),
        typicality=typ,
        weights=None if weights is None else weights.astype(np.float32),
        bias=None if bias is None else bias.astype(np.float32),
    )


def _logistic(x: np.ndarray, y: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, L2 on the weights, fitted with L-BFGS from the nearest
    centroid (weights = the centroids x WARM_START): a good start, so few steps are needed."""
    n, d = x.shape
    classes = len(centroids)
    target = np.zeros((n, classes))
    target[np.arange(n), y] = 1.0

    def loss_and_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = w[: d * classes].reshape(d, classes), w[d * classes :]
        logits = x @ W + b
        loss = float(np.mean(logsumexp(logits, axis=1) - np.sum(logits * target, axis=1)))
        loss += L2_PENALTY * float(np.sum(W * W))
        g = (softmax(logits, axis=1) - target) / n
        return loss, np.concatenate([(x.T @ g + 2 * L2_PENALTY * W).ravel(), g.sum(axis=0)])

    result = minimize(
        loss_and_grad,
        np.concatenate([(centroids.T * WARM_START).ravel(), np.zeros(classes)]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": FIT_ITERATIONS},
    )
    return result.x[: d * classes].reshape(d, classes), result.x[d * classes :]
