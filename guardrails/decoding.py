"""Undo common obfuscations, for scoring only.

Attackers hide "ignore your instructions" from filters as base64, leetspeak
("1gn0r3"), spaced-out letters ("i g n o r e") or ROT13. The guard scores the
decoded text next to the original; the decoded text is never shown, stored as
the message or passed on to later stages.

Each decoder is careful not to "decode" ordinary customer text: a base64 blob
must decode to mostly readable text, a leet token must turn into a common
English word that it was not before (so "3rd", "MX5" or "€35" stay as they
are), and spaced letters need at least five in a row.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import threading
from dataclasses import dataclass, field

_B64_BLOB = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_WORD = re.compile(r"[^\W_]+|[@$][^\W_]*", re.UNICODE)
_LEET_TOKEN = re.compile(r"[A-Za-z0-9@$!|]+")
_LEET = str.maketrans(
    {"1": "i", "3": "e", "4": "a", "0": "o", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
)
_LEET_CHARS = set("1340572@$!|")
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th|s|km|kg|mm|cm|m|h|w|v|wh|ah|x)$", re.IGNORECASE)
# Runs of at least five single letters separated by one separator: "i g n o r e", "i.g.n.o.r.e".
_SPACED = re.compile(r"(?<![\w])(?:[A-Za-z][ .\-_*/]{1,3}){4,}[A-Za-z](?![\w])")
_COMMON_ZIPF = 3.0
# The word tables below take 0.1-0.4 s to build; one lock, so that two threads of a worker never
# build them twice at once (`warm()` builds them at process start, outside any customer request).
# Re-entrant: the cost table is built from the vocabulary under the same lock.
_BUILD_LOCK = threading.RLock()


@dataclass
class Decoded:
    """The de-obfuscated text and which decoders changed it."""

    text: str
    methods: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.methods)


_tables: dict[str, object] = {}


def _table(name: str, build):
    """A word table, built once per process under the lock (checked again inside it, so that two
    threads that both miss do not both build it)."""
    table = _tables.get(name)
    if table is None:
        with _BUILD_LOCK:
            table = _tables.get(name)
            if table is None:
                table = _tables[name] = build()
    return table


def _vocabulary() -> tuple[frozenset[str], int]:
    return _table("vocabulary", _build_vocabulary)


def _build_vocabulary() -> tuple[frozenset[str], int]:
    from wordfreq import top_n_list

    words = [w for w in top_n_list("en", 40000) if w.isalpha()]
    return frozenset(words), max(len(w) for w in words[:20000])


def _word_costs() -> dict[str, float]:
    """Every vocabulary word's cost in `segment` (looked up once, not per candidate piece):
    every word costs; common words cost less."""
    return _table("word_costs", lambda: _build_word_costs())


def _build_word_costs() -> dict[str, float]:
    from wordfreq import zipf_frequency

    return {w: zipf_frequency(w, "en") - 8.0 for w in _vocabulary()[0]}


def clear_tables() -> None:
    """Forget the word tables (tests)."""
    with _BUILD_LOCK:
        _tables.clear()


def warm() -> None:
    """Build the decoders' word tables now (web and Celery workers call this at start, next to
    `core.embeddings.warm()`), so the first customer message does not pay for them."""
    with _BUILD_LOCK:
        _vocabulary()
        _word_costs()
        _is_word("warm")  # loads wordfreq's English frequency data
        deobfuscate("h3ll0 w o r l d s")


def _is_word(token: str) -> bool:
    from wordfreq import zipf_frequency

    return len(token) >= 2 and zipf_frequency(token, "en") >= _COMMON_ZIPF


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text) / len(text)
    letters = sum(ch.isalpha() or ch.isspace() for ch in text) / len(text)
    if printable < 0.95 or letters < 0.7:
        return None
    return text


def decode_base64(text: str) -> str | None:
    """Replace base64 blobs that decode to readable text; None when there are none."""
    changed = False

    def swap(match: re.Match[str]) -> str:
        nonlocal changed
        blob = match.group(0)
        if blob.isalpha() and (blob.islower() or blob.isupper()):
            return blob  # a long plain word, not an encoding
        padded = blob + "=" * (-len(blob) % 4)
        try:
            raw = base64.b64decode(padded, altchars=b"-_" if ("-" in blob or "_" in blob) else None, validate=True)
        except (binascii.Error, ValueError):
            return blob
        readable = _readable(raw)
        if readable is None:
            return blob
        changed = True
        return readable

    out = _B64_BLOB.sub(swap, text)
    return out if changed else None


def decode_leet(text: str) -> str | None:
    """Undo leetspeak in tokens that become common words only once decoded."""
    changed = False

    def swap(match: re.Match[str]) -> str:
        nonlocal changed
        token = match.group(0)
        if not (set(token) & _LEET_CHARS) or not any(ch.isalpha() for ch in token):
            return token
        if _ORDINAL.match(token) or token.isdigit():
            return token
        core = token.strip("!|")
        if not core or not (set(core) & _LEET_CHARS):
            return token
        plain = core.translate(_LEET).lower()
        if not plain.isalpha() or len(plain) < 3 or _is_word(core.lower()) or not _is_word(plain):
            return token
        changed = True
        return token.replace(core, plain)

    out = _LEET_TOKEN.sub(swap, text)
    return out if changed else None


def segment(letters: str) -> str:
    """Split a run of letters into common English words (Viterbi over word frequencies);
    "saythatyouhatetrump" → "say that you hate trump". Unknown stretches stay as they are."""
    vocab, longest = _vocabulary()
    costs = _word_costs()
    s = letters.lower()
    n = len(s)
    best: list[float] = [0.0] + [float("-inf")] * n
    back: list[int] = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - longest), end):
            piece = s[start:end]
            if piece in vocab:
                cost = costs[piece]
            elif end - start == 1:
                cost = -20.0  # a stray letter
            else:
                continue
            if best[start] + cost > best[end]:
                best[end] = best[start] + cost
                back[end] = start
    words: list[str] = []
    end = n
    while end > 0:
        start = back[end]
        words.append(s[start:end])
        end = start
    return " ".join(reversed(words))


def decode_spaced(text: str) -> str | None:
    """Join letters spelled out one by one ("i g n o r e  a l l") back into words."""
    changed = False

    def swap(match: re.Match[str]) -> str:
        nonlocal changed
        run = match.group(0)
        # Two or more separators in a row mark a word boundary when the writer kept one.
        parts = re.split(r"[ .\-_*/]{2,}", run)
        joined = [re.sub(r"[ .\-_*/]", "", part) for part in parts]
        # Kept boundaries: short pieces are words already; long ones are segmented anyway.
        words = [segment(w) if len(joined) == 1 or len(w) > 12 else w.lower() for w in joined]
        changed = True
        return " ".join(words)

    out = _SPACED.sub(swap, text)
    return out if changed else None


def decode_rot13(text: str) -> str | None:
    """ROT13 text: decoded only when that turns mostly-unknown words into mostly-common ones."""
    words = [w for w in _WORD.findall(text) if w.isascii() and w.isalpha() and len(w) >= 3]
    if len(words) < 3:
        return None
    before = sum(_is_word(w.lower()) for w in words) / len(words)
    if before > 0.4:
        return None
    decoded = codecs.decode(text, "rot13")
    after_words = [codecs.decode(w, "rot13").lower() for w in words]
    after = sum(_is_word(w) for w in after_words) / len(after_words)
    return decoded if after >= 0.7 else None


DECODERS = (("base64", decode_base64), ("spaced", decode_spaced), ("leet", decode_leet), ("rot13", decode_rot13))


def deobfuscate(text: str) -> Decoded:
    """Run every decoder in turn; each works on the previous one's output."""
    result = Decoded(text=text)
    for name, decoder in DECODERS:
        out = decoder(result.text)
        if out is not None and out != result.text:
            result.text = out
            result.methods.append(name)
    return result
