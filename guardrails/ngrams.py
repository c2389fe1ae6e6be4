"""Hashed character n-grams: the probe's second input, next to the message vector.

The embedding model is English (MiniLM): German, Dutch, French or Spanish text, transliterations and
odd spellings all land in a corner of its space where the probe can only say "unusual". Character
3–5-grams see the words themselves, in any language and script, and cost a few milliseconds even on a
2,000-character message. Each distinct n-gram of the lower-cased text (blanks collapsed) is hashed
(CRC-32, stable across processes, unlike `hash()`) into one of `BUCKETS` columns; the row is binary
and L2-normalised, so a long message does not weigh more than a short one.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

from core.text import collapse

SIZES = (3, 4, 5)
BUCKETS = 2**16  # a power of two (`buckets` masks with BUCKETS - 1)


def normalise(text: str) -> str:
    return collapse(text).lower()


@lru_cache(maxsize=256)
def buckets(text: str) -> np.ndarray:
    """The distinct hash buckets hit by the text's character n-grams (sorted, int64). Cached: the
    message probe and the segment probe read the same text in one guard call. The array is shared:
    read it, never write to it."""
    s = normalise(text)
    grams = {s[i : i + n] for n in SIZES for i in range(len(s) - n + 1)}
    if not grams:
        return np.zeros(0, dtype=np.int64)
    # map() over the builtins, and the modulus on the array (BUCKETS is a power of two): a third faster than
    # a generator expression, the same buckets.
    hashes = np.fromiter(map(zlib.crc32, map(str.encode, grams)), dtype=np.int64, count=len(grams))
    out = np.unique(hashes & (BUCKETS - 1))
    out.setflags(write=False)  # cached and shared
    return out


def dot(text: str, weights: np.ndarray) -> float:
    """The L2-normalised binary n-gram row of `text` times `weights` (length BUCKETS)."""
    hit = buckets(text)
    if not len(hit):
        return 0.0
    return float(weights[hit].sum() / np.sqrt(len(hit)))
