"""Prompt-injection score for one customer message (pipeline stage 2).

`score_message(text, vector)` combines three kinds of evidence:

1. signatures: cosine similarity of the message to the nearest active
   `InjectionPattern` rows (held in memory per process, `pattern_index`);
2. heuristics: the hand-written rules in `guardrails.heuristics`;
3. obfuscation: the message de-obfuscated (`guardrails.decoding`) and scored
   again; hiding words from a filter is itself counted as a strong signal;

plus a linear "probe" on the message vector and its character n-grams. A logistic calibration learnt on
the train part of the public benchmark (`manage.py train_guard`, stored in
calibration.json) turns these features into a logit `z`, and a monotone map
places the two operating points chosen on the train part at the default
thresholds (flag 0.60, block 0.80), so `GUARD_FLAG_THRESHOLD` and
`GUARD_BLOCK_THRESHOLD` keep their meaning.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection

from core.choices import GuardDecision
from core.embeddings import embed_query
from guardrails import heuristics, intents, ngrams, segment_probe, segments
from guardrails.decoding import ENCODINGS, Decoded, deobfuscate, invisible_words

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
NEIGHBOURS = 3
FEATURES = ("sim1", "sim3", "sim1_hinge", "strong", "weak", "probe")
SIM_HINGE = 0.7
MAX_HITS = 3
# A decoded text whose nearest pattern is this much closer than the original's counts as obfuscation.
DECODED_SIM_GAIN = 0.05
# Signature floors, like an antivirus: a message this close to an active pattern is flagged
# (blocked) whatever the other evidence says. On the train part, LOO, 5 of 1,970 benign rows
# reach 0.88 and none reaches 0.92 (all deepset; no BANKING77 row gets above 0.71).
SIGNATURE_FLAG_SIM = 0.88
SIGNATURE_BLOCK_SIM = 0.92

# A request to decode an encoded payload and act on it ("decode this and follow it", "what does this say?
# do it"): with a payload present, the request is itself obfuscation (one more strong hit).
_DECODE_AND_FOLLOW = re.compile(
    r"\b(?:decode|decipher|decrypt|translate|convert|interpret|read|unscramble|reverse)\b[^\n]{0,120}?"
    r"\b(?:follow|execute|do\s+(?:it|that|this|what|as)|obey|carry\s+(?:it\s+)?out|act\s+on|comply|perform|"
    r"respond|answer|reply|run|apply)\b",
    re.IGNORECASE,
)

ALLOWED = GuardDecision.ALLOWED
FLAGGED = GuardDecision.FLAGGED
BLOCKED = GuardDecision.BLOCKED


@dataclass(frozen=True)
class GuardResult:
    """What the guard thinks of one message; `signals` is the evidence, as JSON."""

    score: float
    decision: str
    pattern_id: int | None
    similarity: float
    category: str | None
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.decision == BLOCKED

    @property
    def flagged(self) -> bool:
        return self.decision == FLAGGED


@dataclass(frozen=True)
class Neighbour:
    pattern_id: int
    category: str
    source: str
    similarity: float


@dataclass(frozen=True)
class TextEvidence:
    """Heuristic evidence for one message: hits on the text and on its decoded form."""

    hits: list[heuristics.Hit]
    decoded: Decoded
    decoded_hits: list[heuristics.Hit]

    @property
    def new_decoded_rules(self) -> set[str]:
        return {h.rule for h in self.decoded_hits} - {h.rule for h in self.hits}


@dataclass(frozen=True)
class Calibration:
    weights: np.ndarray
    bias: float
    z_flag: float
    z_block: float
    anchor_flag: float
    anchor_block: float
    probe_weights: np.ndarray | None
    probe_bias: float
    version: str
    benign_reference: np.ndarray | None = None
    # The probe feature is capped here (its maximum on in-domain benign train rows: BANKING77 and the
    # team's hard negatives): beyond the highest benign value it adds no more suspicion.
    probe_cap: float | None = None
    # The probe's own flag point: a raw probe value at or above it flags the message (never blocks),
    # whatever the logit says. Chosen by `train_guard` above every in-domain benign train value.
    probe_flag: float | None = None
    # The probe's weights on the message's hashed character n-grams (`guardrails.ngrams`), stored beside
    # calibration.json (probe_ngrams.npy); None for a probe on the vector only.
    probe_ngram_weights: np.ndarray | None = None
    # The probe behind the own flag point: a second linear probe on the vector only (the n-gram probe is
    # sharper on attack words, hence less predictable on a customer message that borrows them; inside the
    # capped logit that is harmless, as a flag on its own it is not). `flag_probe_cap` is its highest
    # in-domain benign train value. Without it, the flag point reads the probe above.
    flag_probe_weights: np.ndarray | None = None
    flag_probe_bias: float = 0.0
    flag_probe_cap: float | None = None

    def reference_logit(self, *, weak: int = 0, probe: float = 0.0) -> float | None:
        """The logit of an otherwise harmless message (the stored benign reference features) with
        `weak` weak rule hits and the probe feature at `probe`; None without a reference."""
        if self.benign_reference is None:
            return None
        return reference_logit(self.weights, self.bias, self.benign_reference, weak=weak, probe=probe)

    def single_weak_logit(self) -> float | None:
        """One weak rule hit on an otherwise harmless message."""
        return self.reference_logit(weak=1)

    def probe_alone_logit(self) -> float | None:
        """The probe at its cap (its highest in-domain benign value) on an otherwise harmless message."""
        return None if self.probe_cap is None else self.reference_logit(probe=self.probe_cap)

    def probe_and_weak_logit(self) -> float | None:
        """The probe at its cap plus one weak rule hit on an otherwise harmless message."""
        return None if self.probe_cap is None else self.reference_logit(weak=1, probe=self.probe_cap)


def reference_logit(
    weights: np.ndarray, bias: float, reference: np.ndarray, *, weak: float = 0.0, probe: float = 0.0
) -> float:
    """The logit of an otherwise harmless message (the benign reference features) with `weak` weak
    rule hits and the probe feature at `probe`: what the calibration constraints are stated on,
    both when `train_guard` fits them and when a calibration is loaded."""
    features = np.array(reference, dtype=np.float64)
    features[FEATURES.index("weak")] = float(weak)
    features[FEATURES.index("probe")] = float(probe)
    return float(features @ weights + bias)


@lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The learnt weights, read once per process (re-read after `train_guard` by `reload_calibration`)."""
    return calibration_from_dict(json.loads(CALIBRATION_FILE.read_text()))


def ngram_weights_bytes(weights: np.ndarray) -> bytes:
    """The probe's n-gram weights as the bytes of a .npy file (float32)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(weights, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _ngram_weights(spec: dict | None) -> np.ndarray | None:
    """The probe's n-gram weights named by calibration.json, checked against their stored digest and shape."""
    if not spec:
        return None
    path = CALIBRATION_FILE.with_name(spec["file"])
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != spec.get("sha256"):
        raise RuntimeError(f"{path} does not match the digest in {CALIBRATION_FILE}; run manage.py train_guard")
    if tuple(spec["sizes"]) != ngrams.SIZES or spec["buckets"] != ngrams.BUCKETS:
        raise RuntimeError(f"{CALIBRATION_FILE}: the probe was trained for other n-grams; run manage.py train_guard")
    weights = np.load(io.BytesIO(raw), allow_pickle=False).astype(np.float64)
    if weights.shape != (ngrams.BUCKETS,):
        raise RuntimeError(f"{path}: expected {ngrams.BUCKETS} weights, found {weights.shape}")
    return weights


def calibration_from_dict(data: dict, *, ngram_weights: np.ndarray | None = None) -> Calibration:
    """A calibration from its stored form; the probe's n-gram weights are read from the file that
    calibration.json names, unless given (`train_guard` checks a calibration before writing it)."""
    if tuple(data["features"]) != FEATURES:
        raise RuntimeError(f"{CALIBRATION_FILE} was trained for features {data['features']}; run manage.py train_guard")
    probe = data.get("probe") or {}
    flag_probe = data.get("flag_probe") or {}
    reference = data.get("benign_reference")
    cal = Calibration(
        weights=np.asarray(data["weights"], dtype=np.float64),
        bias=float(data["bias"]),
        z_flag=float(data["z_flag"]),
        z_block=float(data["z_block"]),
        anchor_flag=float(data.get("anchor_flag", 0.6)),
        anchor_block=float(data.get("anchor_block", 0.8)),
        probe_weights=np.asarray(probe["weights"], dtype=np.float64) if probe.get("weights") else None,
        probe_bias=float(probe.get("bias", 0.0)),
        version=str(data.get("version", "")),
        benign_reference=np.asarray(reference, dtype=np.float64) if reference else None,
        probe_cap=float(data["probe_cap"]) if data.get("probe_cap") is not None else None,
        probe_flag=float(data["probe_flag"]) if data.get("probe_flag") is not None else None,
        probe_ngram_weights=(
            _ngram_weights(probe.get("ngrams"))
            if ngram_weights is None
            else np.asarray(ngram_weights, dtype=np.float64)
        ),
        flag_probe_weights=np.asarray(flag_probe["weights"], dtype=np.float64) if flag_probe.get("weights") else None,
        flag_probe_bias=float(flag_probe.get("bias", 0.0)),
        flag_probe_cap=float(data["flag_probe_cap"]) if data.get("flag_probe_cap") is not None else None,
    )
    # By design a weak rule (a cue also seen in harmless text) only counts together with other
    # evidence: one weak hit on an otherwise harmless message must not reach the flag point.
    # `train_guard` constrains the fit so; a calibration that breaks it is refused.
    # (A file from before this check has no reference; the tests require one.)
    single = cal.single_weak_logit()
    if single is not None and single >= cal.z_flag:
        raise RuntimeError(
            f"{CALIBRATION_FILE}: one weak hit on a harmless message reaches the flag point "
            f"(logit {single:.3f} ≥ z_flag {cal.z_flag:.3f}); run manage.py train_guard"
        )
    # Product rule: the probe (a linear model on the message vector, which learnt "German = injection"
    # from the deepset rows) may FLAG on its own — a flag costs little: the message is answered from
    # approved answers only or handed to a person — but never BLOCKS on its own or with one weak hit.
    alone, with_weak = cal.probe_alone_logit(), cal.probe_and_weak_logit()
    if alone is not None and alone >= cal.z_block:
        raise RuntimeError(
            f"{CALIBRATION_FILE}: the probe alone reaches the block point (logit {alone:.3f} ≥ z_block "
            f"{cal.z_block:.3f}); run manage.py train_guard"
        )
    if with_weak is not None and with_weak >= cal.z_block:
        raise RuntimeError(
            f"{CALIBRATION_FILE}: the probe plus one weak hit reaches the block point (logit {with_weak:.3f} ≥ "
            f"z_block {cal.z_block:.3f}); run manage.py train_guard"
        )
    # The probe's own flag point must lie above every in-domain benign train value of the probe it reads
    # (the cap): it is meant for what no benign customer message in the training data looks like.
    flag_cap = cal.flag_probe_cap if cal.flag_probe_weights is not None else cal.probe_cap
    if cal.probe_flag is not None and (flag_cap is None or cal.probe_flag <= flag_cap):
        raise RuntimeError(
            f"{CALIBRATION_FILE}: the probe's flag point {cal.probe_flag:.3f} is not above its cap "
            f"{flag_cap}; run manage.py train_guard"
        )
    return cal


def reload_calibration() -> None:
    calibration.cache_clear()


calibration()  # read at import: a missing or stale calibration file fails loudly at start, not mid-chat


def text_evidence(text: str) -> TextEvidence:
    """Heuristic hits on the message and, when decoding changes it, on the decoded text."""
    decoded = deobfuscate(text)
    return TextEvidence(
        hits=heuristics.hits(text),
        decoded=decoded,
        decoded_hits=heuristics.hits(decoded.text) if decoded.changed else [],
    )


def hit_counts(evidence: TextEvidence, *, obfuscated: bool) -> tuple[int, int]:
    """Distinct strong and weak rules hit (text and decoded text together); obfuscation
    that hides a hit or a closer signature counts as one more strong hit."""
    rules = {h.rule: h.strength for h in [*evidence.hits, *evidence.decoded_hits]}
    strong = sum(1 for s in rules.values() if s == heuristics.STRONG) + int(obfuscated)
    weak = sum(1 for s in rules.values() if s == heuristics.WEAK)
    return min(strong, MAX_HITS), min(weak, MAX_HITS)


def feature_vector(
    sims: Sequence[float], strong: int, weak: int, probe: float, probe_cap: float | None = None
) -> np.ndarray:
    """The calibration's input, in the order of FEATURES. `sims` are the top similarities, best first;
    the probe feature is clipped to [0, probe_cap]."""
    top = list(sims[:NEIGHBOURS]) + [0.0] * max(0, NEIGHBOURS - len(sims))
    sim1 = max(top[0], 0.0)
    # The probe only ever adds suspicion: it learnt "customer-service wording = benign" from
    # BANKING77, and must not talk a retail-specific attack (which reads like a customer) down. Nor
    # does it add more than a high benign value: it also learnt "German = injection" (deepset).
    probe_feature = max(probe, 0.0) if probe_cap is None else min(max(probe, 0.0), probe_cap)
    return np.asarray(
        [sim1, max(float(np.mean(top)), 0.0), max(sim1 - SIM_HINGE, 0.0), strong, weak, probe_feature],
        dtype=np.float64,
    )


def probe_logit(vector: np.ndarray, text: str = "", cal: Calibration | None = None) -> float:
    """The probe's logit for a message: its vector and the character n-grams of its text."""
    cal = cal or calibration()
    if cal.probe_weights is None:
        return 0.0
    value = float(np.asarray(vector, dtype=np.float64) @ cal.probe_weights + cal.probe_bias)
    if cal.probe_ngram_weights is not None:
        value += ngrams.dot(text, cal.probe_ngram_weights)
    return value


def flag_probe_logit(vector: np.ndarray, text: str = "", cal: Calibration | None = None) -> float:
    """What the probe's own flag point reads: the vector-only flag probe when stored, else the probe."""
    cal = cal or calibration()
    if cal.flag_probe_weights is None:
        return probe_logit(vector, text, cal)
    return float(np.asarray(vector, dtype=np.float64) @ cal.flag_probe_weights + cal.flag_probe_bias)


def logit(features: np.ndarray, cal: Calibration | None = None) -> float:
    cal = cal or calibration()
    return float(features @ cal.weights + cal.bias)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 60.0), -60.0)))


def score_from_logit(z: float, cal: Calibration | None = None) -> float:
    """Monotone map of the logit to 0..1 with z_flag → anchor_flag and z_block → anchor_block."""
    cal = cal or calibration()
    if z < cal.z_flag:
        return cal.anchor_flag * 2.0 * _sigmoid(z - cal.z_flag)
    if z < cal.z_block:
        span = max(cal.z_block - cal.z_flag, 1e-9)
        return cal.anchor_flag + (cal.anchor_block - cal.anchor_flag) * (z - cal.z_flag) / span
    return cal.anchor_block + (1.0 - cal.anchor_block) * (2.0 * _sigmoid(z - cal.z_block) - 1.0)


# Just below the block point: where a score without strong evidence stops (GUARD_BLOCK_NEEDS_STRONG).
_BELOW_BLOCK = 0.001


def final_score(
    z: float, sim1: float, cal: Calibration | None = None, *, probe: float | None = None, strong: int | None = None
) -> float:
    """The calibrated score, raised to the signature floor when a pattern matches closely, and to the
    flag point (never beyond) when `probe` — the raw value of the probe the flag point reads
    (`flag_probe_logit`) — reaches the probe's own flag point. With GUARD_BLOCK_NEEDS_STRONG, a message
    with no `strong` evidence (no strong rule hit, no obfuscation) and no signature at the block floor is
    flagged at most: similarity and the probes may flag, only strong evidence blocks."""
    cal = cal or calibration()
    score = score_from_logit(z, cal)
    if strong == 0 and sim1 < SIGNATURE_BLOCK_SIM and settings.GUARD_BLOCK_NEEDS_STRONG:
        score = min(score, cal.anchor_block - _BELOW_BLOCK)
    if sim1 >= SIGNATURE_BLOCK_SIM:
        score = max(score, cal.anchor_block)
    elif sim1 >= SIGNATURE_FLAG_SIM:
        score = max(score, cal.anchor_flag)
    if probe_flags(probe, cal):
        score = max(score, cal.anchor_flag)  # a flag at most: the probe never blocks on its own
    return score


def probe_flags(probe: float | None, cal: Calibration | None = None) -> bool:
    """Whether the raw value of the flag point's probe (`flag_probe_logit`) reaches the probe's own flag point."""
    cal = cal or calibration()
    return probe is not None and cal.probe_flag is not None and probe >= cal.probe_flag


def decide(score: float) -> str:
    """allowed / flagged / blocked by the configured thresholds."""
    if score >= settings.GUARD_BLOCK_THRESHOLD:
        return BLOCKED
    if score >= settings.GUARD_FLAG_THRESHOLD:
        return FLAGGED
    return ALLOWED


@dataclass(frozen=True)
class PatternIndex:
    """The active patterns as one in-memory matrix: the search over a few hundred signatures is a matrix
    product (about 0.1 ms), where a query to PostgreSQL cost a round trip per message (0.7 ms median on a
    quiet machine, 5 ms and more at its 95th percentile on a loaded one)."""

    ids: np.ndarray  # int64, one per row of `matrix`
    categories: tuple[str, ...]
    sources: tuple[str, ...]
    matrix: np.ndarray  # (patterns, dimensions), rows of unit length (float64)
    fingerprint: tuple
    checked_at: float


_pattern_index: PatternIndex | None = None

# What changes whenever an active pattern is added, removed, retired or edited: the number of rows, their
# ids, and their row versions (`xmin`, a new one on every UPDATE). One cheap query, no vectors.
_FINGERPRINT_SQL = (
    "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(xmin::text::bigint), 0) "
    "FROM guardrails_injectionpattern WHERE active"
)
# pgvector's binary form (`vector_send`: 2-byte dimensions, 2 unused bytes, big-endian float4s) is read
# ten times faster than its text form.
_PATTERNS_SQL = (
    "SELECT id, category, source, vector_send(embedding) FROM guardrails_injectionpattern WHERE active ORDER BY id"
)


def patterns_changed() -> None:
    """Forget the in-memory patterns: the next search reads the table again. Called by every write path in
    this process (services, the admin, a model save); another process's write is seen within
    `GUARD_PATTERNS_REFRESH_SECONDS`."""
    global _pattern_index
    _pattern_index = None


def _fingerprint(cursor) -> tuple:
    cursor.execute(_FINGERPRINT_SQL)
    return tuple(int(v) for v in cursor.fetchone())


def _load_pattern_index() -> PatternIndex:
    with connection.cursor() as cursor:
        fingerprint = _fingerprint(cursor)  # first: a write between the two reads is seen at the next check
        cursor.execute(_PATTERNS_SQL)
        rows = cursor.fetchall()
    dims = settings.EMBEDDING_DIMENSIONS
    matrix = np.array([np.frombuffer(bytes(r[3]), dtype=">f4", offset=4) for r in rows], dtype=np.float64).reshape(
        len(rows), dims
    )
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return PatternIndex(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        categories=tuple(r[1] for r in rows),
        sources=tuple(r[2] for r in rows),
        matrix=matrix,
        fingerprint=fingerprint,
        checked_at=time.monotonic(),
    )


def pattern_index() -> PatternIndex:
    """The active patterns. After a write in this process they are read again at once; otherwise the table's
    fingerprint is checked at most every GUARD_PATTERNS_REFRESH_SECONDS (one small query), and the patterns
    are read again only when it changed."""
    global _pattern_index
    index = _pattern_index
    if index is None:
        index = _pattern_index = _load_pattern_index()
    elif time.monotonic() - index.checked_at >= settings.GUARD_PATTERNS_REFRESH_SECONDS:
        with connection.cursor() as cursor:
            fingerprint = _fingerprint(cursor)
        if fingerprint == index.fingerprint:
            index = _pattern_index = replace(index, checked_at=time.monotonic())
        else:
            index = _pattern_index = _load_pattern_index()
    return index


def warm_patterns() -> None:
    """Read the patterns at process start, not inside the first customer message (nothing when the table
    is not there yet: a process started before the migrations reads it at its first message)."""
    try:
        pattern_index()
    except DatabaseError:
        patterns_changed()


def nearest_patterns(vectors: Sequence[np.ndarray], *, k: int = NEIGHBOURS) -> list[list[Neighbour]]:
    """The k nearest active patterns for each vector by cosine similarity, closest first (ties by id, as
    the SQL search ordered them)."""
    if not vectors:
        return []
    index = pattern_index()
    if not len(index.ids):
        return [[] for _ in vectors]
    queries = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
    norms = np.linalg.norm(queries, axis=1, keepdims=True)
    queries = np.divide(queries, norms, out=np.zeros_like(queries), where=norms > 0)
    sims = queries @ index.matrix.T
    out: list[list[Neighbour]] = []
    for row in sims:
        order = np.lexsort((index.ids, -row))[:k]
        out.append([Neighbour(int(index.ids[j]), index.categories[j], index.sources[j], float(row[j])) for j in order])
    return out


def _merge(per_vector: list[list[Neighbour]]) -> list[Neighbour]:
    best: dict[int, Neighbour] = {}
    for neighbours in per_vector:
        for n in neighbours:
            if n.pattern_id not in best or n.similarity > best[n.pattern_id].similarity:
                best[n.pattern_id] = n
    return sorted(best.values(), key=lambda n: (-n.similarity, n.pattern_id))[:NEIGHBOURS]


def _category(neighbours: list[Neighbour], evidence: TextEvidence, obfuscated: bool) -> str | None:
    if neighbours and neighbours[0].similarity >= 0.75:
        return neighbours[0].category
    all_hits = [*evidence.hits, *evidence.decoded_hits]
    for strength in (heuristics.STRONG, heuristics.WEAK):
        for hit in all_hits:
            if hit.strength == strength:
                return "obfuscation" if obfuscated and hit.rule in evidence.new_decoded_rules else hit.category
    if obfuscated:
        return "obfuscation"
    if neighbours and neighbours[0].similarity >= 0.5:
        return neighbours[0].category
    return None


@dataclass(frozen=True)
class SegmentEvidence:
    """The worst segment of a message (None fields when nothing was found)."""

    count: int = 0
    worst: segments.Segment | None = None
    probe: float | None = None
    addressed: str | None = None
    flags: bool = False


def segment_evidence(texts: Sequence[str]) -> SegmentEvidence:
    """Split each text (the message, and its decoded form when decoding changed it) into segments and
    score every segment with the segment probe and the addressed-instruction rule; the worst one wins.
    A text without pasted material is one segment of the customer's own words (`count` stays 0 for it)."""
    seg_probe = segment_probe.probe()
    best: tuple[tuple[bool, float], SegmentEvidence] | None = None
    count = 0
    for text in dict.fromkeys(texts):
        parts = segments.split(text)
        count += len(parts)
        # A message without pasted material is one segment of the customer's own words.
        for segment in parts or [segments.Segment(0, text, pasted=False)]:
            value = seg_probe.logit(segment.text) if seg_probe is not None else None
            addressed = segments.addressed_instruction(segment)
            # Pasted material flags at the validation split's operating point; the customer's own words
            # (which borrow attack words: "repeat the instructions", "answer in German") only above every
            # validation benign row.
            point = (seg_probe.flag if segment.pasted else seg_probe.flag_own) if seg_probe is not None else 0.0
            flags = addressed is not None or (value is not None and value >= point)
            key = (flags, value if value is not None else 0.0)
            if best is None or key > best[0]:
                best = (key, SegmentEvidence(0, segment, value, addressed, flags))
    if best is None:
        return SegmentEvidence()
    found = best[1]
    if not count and not found.flags:
        return SegmentEvidence()
    return SegmentEvidence(count, found.worst, found.probe, found.addressed, found.flags)


def obfuscation_shown(text: str, evidence: TextEvidence) -> bool:
    """Obfuscation the text itself shows, without an embedding: hidden words the rules see in the decoded
    text, an encoded payload with a request to decode and follow it, or words written in invisible
    characters (no customer types them)."""
    decoded = evidence.decoded
    return decoded.changed and (
        bool(evidence.new_decoded_rules) or encoded_request(text, decoded) or invisible_words(text)
    )


def encoded_request(text: str, decoded: Decoded) -> bool:
    """An encoded payload (not a mere spelling) together with a request to decode it and act on it."""
    return bool(set(decoded.methods) & ENCODINGS) and _DECODE_AND_FOLLOW.search(text) is not None


@dataclass(frozen=True)
class _Whole:
    """The whole-message evidence and its score (before segments and the request-for-a-person rule)."""

    vectors: list[np.ndarray]
    neighbours: list[Neighbour]
    features: np.ndarray
    z: float
    probe: float
    flag_probe: float
    score: float
    obfuscated: bool
    strong: int
    weak: int


def _whole_message(
    text: str,
    vector: np.ndarray,
    evidence: TextEvidence,
    shown: bool,
    decoded_vector: np.ndarray | None,
    cal: Calibration,
) -> _Whole:
    """Signatures, rules and probes on the message and its decoded form (with the decoded form's own vector
    when it was embedded)."""
    decoded = evidence.decoded
    vectors = [vector] if decoded_vector is None else [vector, decoded_vector]
    per_vector = nearest_patterns(vectors)
    neighbours = _merge(per_vector)
    original_best = per_vector[0][0].similarity if per_vector and per_vector[0] else 0.0
    decoded_best = per_vector[1][0].similarity if len(per_vector) > 1 and per_vector[1] else 0.0
    obfuscated = shown or (decoded.changed and decoded_best > original_best + DECODED_SIM_GAIN)
    strong, weak = hit_counts(evidence, obfuscated=obfuscated)
    # The probes read the decoded text's n-grams with the message's vector, and with its own when it was
    # embedded.
    pairs = [(vector, text)] + ([(vector, decoded.text)] if decoded.changed else [])
    if decoded_vector is not None:
        pairs.append((decoded_vector, decoded.text))
    probe = max(probe_logit(v, t, cal) for v, t in pairs)
    flag_probe = max(flag_probe_logit(v, t, cal) for v, t in pairs)
    features = feature_vector([n.similarity for n in neighbours], strong, weak, probe, cal.probe_cap)
    z = logit(features, cal)
    score = final_score(z, float(features[0]), cal, probe=flag_probe, strong=strong)
    return _Whole(vectors, neighbours, features, z, probe, flag_probe, score, obfuscated, strong, weak)


def _embed_decoded(whole: _Whole, segs: SegmentEvidence, decoded: Decoded, shown: bool, cal: Calibration) -> bool:
    """Whether the decoded form is worth its own embedding (10-25 ms, most of the guard's time beyond the
    shared one): only when a decoder changed the message, its rules did not already show a hidden attack
    (`shown`), and GUARD_EMBED_DECODED is on; and only when the embedding could change the decision.
    Every calibration weight is positive and the embedded form only adds evidence (neighbours,
    obfuscation, one more probe reading), so it is skipped when the rest already blocks the message; and,
    unless GUARD_EMBED_DECODED_FLAGGED, when the rest already flags it (by the logit, a signature, the
    probe's own point or a segment): the embedding could then only turn the flag into a block."""
    if not decoded.changed or shown or not settings.GUARD_EMBED_DECODED:
        return False
    if not bool(np.all(cal.weights >= 0)):
        return True
    if whole.score >= cal.anchor_block:
        return False
    return settings.GUARD_EMBED_DECODED_FLAGGED or not (whole.score >= cal.anchor_flag or segs.flags)


def score_message(text: str, vector: np.ndarray) -> GuardResult:
    """Score the sanitised message `text` (not lower-cased: some rules look at case) whose
    normalised question the pipeline already embedded as `vector`. The decoded text is
    embedded only when a decoder changed the message, its rules did not already show a hidden attack,
    the rest of the evidence does not already flag it, and GUARD_EMBED_DECODED is on (`_embed_decoded`)."""
    cal = calibration()
    evidence = text_evidence(text)
    decoded = evidence.decoded
    # Hidden words the rules already see in the decoded text, or an encoded payload with a request to
    # decode and follow it, are obfuscation whatever the signatures say: the decoded form is then not
    # embedded (an extra embedding is most of the guard's time beyond the shared one).
    shown = obfuscation_shown(text, evidence)
    whole = _whole_message(text, vector, evidence, shown, None, cal)
    # Segments, not messages: pasted material is as suspicious as its worst segment. The segment
    # evidence (the segment probe, or an instruction aimed at the bot inside pasted material) flags,
    # never blocks on its own.
    # A message the whole-message evidence already blocks is not split: a segment could only raise it to
    # a flag (the rules' matches name the evidence), and long jailbreaks are where splitting costs most.
    segs = (
        SegmentEvidence()
        if whole.score >= cal.anchor_block
        else segment_evidence([text, decoded.text] if decoded.changed else [text])
    )
    if _embed_decoded(whole, segs, decoded, shown, cal):
        whole = _whole_message(text, vector, evidence, shown, embed_query(decoded.text), cal)
    vectors, neighbours, features, z, score = whole.vectors, whole.neighbours, whole.features, whole.z, whole.score
    probe, flag_probe, obfuscated = whole.probe, whole.flag_probe, whole.obfuscated
    strong, weak = whole.strong, whole.weak
    if segs.flags:
        score = max(score, cal.anchor_flag)
    # A customer asking for a person is never flagged on the probes' say-so alone.
    handoff = (
        intents.asks_for_human(text)
        and strong == 0
        and weak == 0
        and not decoded.changed
        and not segs.count
        and float(features[0]) < SIGNATURE_FLAG_SIM
    )
    if handoff:
        score = min(score, cal.anchor_flag - 0.01)
    score = round(score, 4)
    top = neighbours[0] if neighbours else None
    signals: dict[str, Any] = {
        "heuristics": [
            {"rule": h.rule, "category": h.category, "strength": h.strength, "match": h.match} for h in evidence.hits
        ],
        "neighbours": [
            {
                "pattern_id": n.pattern_id,
                "similarity": round(n.similarity, 4),
                "category": n.category,
                "source": n.source,
            }
            for n in neighbours
        ],
        "features": {name: round(float(value), 4) for name, value in zip(FEATURES, features, strict=True)},
        "logit": round(z, 4),
        "probe": round(probe, 4),
        "flag_probe": round(flag_probe, 4),
        "probe_flag": probe_flags(flag_probe, cal),
        "calibration": cal.version,
    }
    if segs.count or segs.flags:
        signals["segments"] = {
            "count": segs.count,
            "flags": segs.flags,
            "worst": {
                "index": segs.worst.index if segs.worst else None,
                "text": segs.worst.text if segs.worst else "",
                "pasted": segs.worst.pasted if segs.worst else False,
                "probe": None if segs.probe is None else round(segs.probe, 4),
                "addressed": segs.addressed,
            },
        }
    if handoff:
        signals["handoff_request"] = True
    if evidence.decoded.changed:
        signals["decoded"] = {
            "methods": evidence.decoded.methods,
            "obfuscated": obfuscated,
            "embedded": len(vectors) > 1,
            "text": evidence.decoded.text[:300],
            "heuristics": [{"rule": h.rule, "category": h.category} for h in evidence.decoded_hits],
        }
    return GuardResult(
        score=score,
        decision=decide(score),
        pattern_id=top.pattern_id if top else None,
        similarity=round(top.similarity, 4) if top else 0.0,
        category=_category(neighbours, evidence, obfuscated) or ("pasted_payload" if segs.flags else None),
        signals=signals,
    )
