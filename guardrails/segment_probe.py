"""The segment probe: a learned scorer for one segment of a pasted message, on character n-grams only.

Each segment of a pasted e-mail or table is scored on its own (`guardrails.segments`). Embedding every
segment would cost 10–25 ms each on this machine, so the segment probe reads the segment's hashed
character 3–5-grams (`guardrails.ngrams`, the same hashing as the message probe) and nothing else: well
under a millisecond for a whole 2,000-character message.

It is trained by `manage.py train_segment_probe` (`guardrails.segment_training`) on more public attack
data than the message probe (Tensor Trust's hijacking and extraction attacks, next to the public
benchmark's train part and the team's patterns) against benign customer messages and document text, and
its one operating point is chosen on a validation split of that data (never on a test part). Product
rule, as for the message probe: on its own it may flag, never block.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from guardrails import ngrams

PROBE_FILE = Path(__file__).with_name("segment_probe.json")


@dataclass(frozen=True)
class SegmentProbe:
    weights: np.ndarray
    bias: float
    flag: float  # the logit at or above which a segment of pasted material flags the message
    version: str
    flag_own: float = float("inf")  # the same for the customer's own words (a whole message, its lead line)

    def logit(self, text: str) -> float:
        return ngrams.dot(text, self.weights) + self.bias


def weights_bytes(weights: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(weights, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def probe_from_dict(data: dict, *, weights: np.ndarray | None = None) -> SegmentProbe:
    """The probe from its stored form; the weights file is checked against its digest and shape."""
    if weights is None:
        path = PROBE_FILE.with_name(data["file"])
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != data["sha256"]:
            raise RuntimeError(f"{path} does not match the digest in {PROBE_FILE}; run manage.py train_segment_probe")
        weights = np.load(io.BytesIO(raw), allow_pickle=False)
    if tuple(data["sizes"]) != ngrams.SIZES or data["buckets"] != ngrams.BUCKETS or weights.shape != (ngrams.BUCKETS,):
        raise RuntimeError(f"{PROBE_FILE}: trained for other n-grams; run manage.py train_segment_probe")
    weights = np.asarray(weights, dtype=np.float64)
    flag_own = float(data.get("flag_own", "inf"))
    if flag_own < float(data["flag"]):
        raise RuntimeError(f"{PROBE_FILE}: the flag point for the customer's own words is below the pasted one")
    return SegmentProbe(weights, float(data["bias"]), float(data["flag"]), str(data["version"]), flag_own)


@lru_cache(maxsize=1)
def probe() -> SegmentProbe | None:
    """The stored segment probe, read once per process; None before the first training."""
    if not PROBE_FILE.exists():
        return None
    return probe_from_dict(json.loads(PROBE_FILE.read_text()))


def reload() -> None:
    probe.cache_clear()


def warm() -> None:
    """Read the weights now (a worker's start), not inside the first customer request."""
    probe()
