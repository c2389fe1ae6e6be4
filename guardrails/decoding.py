"""Undo common obfuscations, for scoring only.

Attackers hide "ignore your instructions" from filters: invisible Unicode tag
characters, zero-width bit runs, look-alike letters from other scripts ("іgnоrе"
in Cyrillic), base64, base32, hex, Morse, the NATO spelling alphabet, leetspeak
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
import json
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

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
        _confusables()
        _is_word("warm")  # loads wordfreq's English frequency data
        deobfuscate("h3ll0 w o r l d s")


@lru_cache(maxsize=65536)
def _is_word(token: str) -> bool:
    """Cached: wordfreq's lookup (its own tokenising and normalising) cost about 20 µs a word, and the
    ROT13 and leetspeak checks ask for the same words message after message."""
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


# Unicode tag characters (U+E0020–U+E007E) mirror printable ASCII and render as nothing: a sentence
# written in them is invisible to a person and read by a language model.
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
# Zero-width characters used as bits (two of them, eight per byte); sanitize() strips them from the
# message, this reads what a run of them said before it is stripped.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]{16,}")
_B32_BLOB = re.compile(r"(?<![A-Za-z0-9=])[A-Z2-7]{16,}={0,6}(?![A-Za-z0-9=])")
# Hex bytes, at least eight, optionally separated ("69 67 6e", "\\x69\\x67", "0x69,0x67").
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[\s,:]?){8,}(?![0-9A-Za-z])")
_DIT_DAH = r"[.\-\u2022\u2013\u2014_]{1,7}"
_MORSE_RUN = re.compile(rf"(?<![\w.\-])(?:{_DIT_DAH}(?:\s*/\s*|\s+|\|)){{4,}}{_DIT_DAH}(?![\w.\-])")
_MORSE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h",
    "..": "i", ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p",
    "--.-": "q", ".-.": "r", "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x",
    "-.--": "y", "--..": "z", "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4",
    ".....": "5", "-....": "6", "--...": "7", "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",",
    "..--..": "?", "-.-.--": "!", ".----.": "'", "-..-.": "/", "---...": ":",
}  # fmt: skip
# The ICAO/NATO spelling alphabet (with the common "alpha"/"juliet" spellings).
_NATO = {
    "alfa": "a", "alpha": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e", "foxtrot": "f",
    "golf": "g", "hotel": "h", "india": "i", "juliett": "j", "juliet": "j", "kilo": "k", "lima": "l",
    "mike": "m", "november": "n", "oscar": "o", "papa": "p", "quebec": "q", "romeo": "r", "sierra": "s",
    "tango": "t", "uniform": "u", "victor": "v", "whiskey": "w", "whisky": "w", "x-ray": "x", "xray": "x",
    "yankee": "y", "zulu": "z",
}  # fmt: skip
_NATO_RUN = re.compile(
    r"(?<![\w-])(?:(?:" + "|".join(sorted(map(re.escape, _NATO), key=len, reverse=True)) + r")(?:[\s,./|;-]+|$)){4,}",
    re.IGNORECASE,
)
_NATO_SPACE = re.compile(r"\s*(?:/|\||\(space\)|\bspace\b|;)\s*", re.IGNORECASE)
_MIXED_WORD = re.compile(r"[^\W\d_]{2,}")


def _replace(pattern: re.Pattern[str], text: str, decode: Callable[[str], str | None]) -> str | None:
    """`text` with every match of `pattern` that `decode` reads replaced by its reading (a match it
    returns None for stays); None when no match was read, so callers know nothing was encoded."""
    changed = False

    def swap(match: re.Match[str]) -> str:
        nonlocal changed
        plain = decode(match.group(0))
        if plain is None:
            return match.group(0)
        changed = True
        return plain

    out = pattern.sub(swap, text)
    return out if changed else None


def decode_tags(text: str) -> str | None:
    """Invisible tag characters back to the ASCII they mirror (U+E0041 → "A")."""
    if not _TAGS.search(text):
        return None

    def swap(match: re.Match[str]) -> str:
        plain = "".join(chr(ord(ch) - 0xE0000) for ch in match.group(0) if 0xE0020 <= ord(ch) <= 0xE007E)
        return f" {plain} " if plain else ""

    return _TAGS.sub(swap, text)


# Invisible text is hidden text: two or more words (at least eight letters) written in tag characters or as a
# zero-width bit run are read by a language model and seen by no person. (An emoji subdivision flag — the black
# flag and "gbsct" in tags — is one short word and does not count.)
INVISIBLE_MIN_LETTERS = 8


def invisible_words(text: str) -> bool:
    """Whether `text` hides words in invisible characters (tag characters, or a zero-width bit run)."""
    hidden = [
        "".join(chr(ord(ch) - 0xE0000) for ch in m.group(0) if 0xE0020 <= ord(ch) <= 0xE007E)
        for m in _TAGS.finditer(text)
    ]
    if _ZERO_WIDTH.search(text):
        hidden.append(decode_zero_width(text) or "")
    return any(
        len(words.split()) >= 2 and sum(ch.isalpha() for ch in words) >= INVISIBLE_MIN_LETTERS for words in hidden
    )


def decode_zero_width(text: str) -> str | None:
    """A run of two kinds of zero-width character read as bits, eight to a byte (either way round)."""

    def read(run: str) -> str | None:
        kinds = sorted(set(run))
        if len(kinds) != 2:
            return None
        for zero in kinds:
            bits = "".join("0" if ch == zero else "1" for ch in run)
            raw = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits) - 7, 8))
            readable = _readable(raw)
            if readable is not None:
                return f" {readable} "
        return None

    return _replace(_ZERO_WIDTH, text, read)


def _confusables() -> dict[str, str]:
    return _table("confusables", _build_confusables)


def _build_confusables() -> dict[str, str]:
    """Every character that Unicode's confusables data (as shipped by the maintained
    `confusable-homoglyphs` package) lists as a look-alike of an ASCII letter, mapped to that letter."""
    import confusable_homoglyphs

    data = json.loads((Path(confusable_homoglyphs.__file__).with_name("confusables.json")).read_text("utf-8"))
    out: dict[str, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii():
            continue
        for entry in entries:
            glyph = entry.get("c", "")
            if len(glyph) == 1 and glyph.isascii() and glyph.isalpha():
                out[char] = glyph
                break
    return out


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def decode_homoglyphs(text: str) -> str | None:
    """Words that mix Latin with look-alike letters of another script ("раураl", "іgnore"), or that
    become a common English word once their look-alikes are mapped, read as the Latin word. Words
    wholly in another script that do not (Russian, Greek, German umlauts) stay as they are."""
    if text.isascii():
        return None
    table = _confusables()
    letters = [ch for ch in text if ch.isalpha()]
    # A word wholly in another script is read as Latin only inside mostly-Latin text: in a Greek or
    # Russian message, "να" is Greek, not "va".
    latin_text = sum(ch.isascii() for ch in letters) >= 0.5 * max(len(letters), 1)

    def read(word: str) -> str | None:
        if word.isascii() or not any(ch in table for ch in word):
            return None
        plain = "".join(table.get(ch, ch) for ch in word)
        if not plain.isascii():
            return None
        scripts = {_script(ch) for ch in word if ch.isalpha()}
        if len(scripts) > 1 or (latin_text and _is_word(plain.lower()) and not _is_word(word.lower())):
            return plain
        return None

    return _replace(_MIXED_WORD, text, read)


def decode_base32(text: str) -> str | None:
    """Replace base32 blobs (upper-case letters and 2–7) that decode to readable text."""

    def read(blob: str) -> str | None:
        if blob.isalpha() and len(blob) < 24:
            return None  # a shouted word
        try:
            raw = base64.b32decode(blob.rstrip("=") + "=" * (-len(blob.rstrip("=")) % 8))
        except (binascii.Error, ValueError):
            return None
        return _readable(raw)

    return _replace(_B32_BLOB, text, read)


def decode_hex(text: str) -> str | None:
    """Replace runs of hex bytes that decode to readable text (colour codes and ids do not)."""

    def read(run: str) -> str | None:
        digits = re.sub(r"\\x|0x|[\s,:]", "", run)
        if len(digits) % 2:
            return None
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            return None
        readable = _readable(raw)
        return None if readable is None else f" {readable} "

    return _replace(_HEX_RUN, text, read)


def decode_morse(text: str) -> str | None:
    """Morse code (dots and dashes, letters split by blanks, words by "/" or wider gaps)."""

    def read(run: str) -> str | None:
        run = run.replace("\u2022", ".").replace("\u2013", "-").replace("\u2014", "-").replace("_", "-")
        words = re.split(r"\s*[/|]\s*|\s{3,}", run.strip())
        letters = [[_MORSE.get(code) for code in word.split()] for word in words]
        if any(None in word for word in letters) or sum(len(w) for w in letters) < 5:
            return None
        joined = ["".join(w) for w in letters]  # type: ignore[arg-type]
        return " " + " ".join(segment(w) if len(joined) == 1 and len(w) > 8 else w for w in joined) + " "

    return _replace(_MORSE_RUN, text, read)


def decode_nato(text: str) -> str | None:
    """Words spelt in the NATO alphabet ("India Golf November…"), word gaps as "/" or "space"."""
    # A cheap count first: the alternation below scans every position of a long message.
    if sum(word.strip(",./|;-").lower() in _NATO for word in text.split()) < 4:
        return None

    def read(run: str) -> str | None:
        words = [w for w in _NATO_SPACE.split(run) if w.strip()]
        spelt = ["".join(_NATO.get(t.lower(), "") for t in re.split(r"[\s,.-]+", w) if t) for w in words]
        spelt = [w for w in spelt if w]
        if sum(len(w) for w in spelt) < 5:
            return None
        return " " + " ".join(segment(w) if len(spelt) == 1 and len(w) > 8 else w for w in spelt) + " "

    return _replace(_NATO_RUN, text, read)


def decode_base64(text: str) -> str | None:
    """Replace base64 blobs that decode to readable text; None when there are none."""

    def read(blob: str) -> str | None:
        if blob.isalpha() and (blob.islower() or blob.isupper()):
            return None  # a long plain word, not an encoding
        padded = blob + "=" * (-len(blob) % 4)
        try:
            raw = base64.b64decode(padded, altchars=b"-_" if ("-" in blob or "_" in blob) else None, validate=True)
        except (binascii.Error, ValueError):
            return None
        return _readable(raw)

    return _replace(_B64_BLOB, text, read)


def decode_leet(text: str) -> str | None:
    """Undo leetspeak in tokens that become common words only once decoded."""

    def read(token: str) -> str | None:
        if not (set(token) & _LEET_CHARS) or not any(ch.isalpha() for ch in token):
            return None
        if _ORDINAL.match(token) or token.isdigit():
            return None
        core = token.strip("!|")
        if not core or not (set(core) & _LEET_CHARS):
            return None
        plain = core.translate(_LEET).lower()
        if not plain.isalpha() or len(plain) < 3 or _is_word(core.lower()) or not _is_word(plain):
            return None
        return token.replace(core, plain)

    return _replace(_LEET_TOKEN, text, read)


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

    def read(run: str) -> str:
        # Two or more separators in a row mark a word boundary when the writer kept one.
        parts = re.split(r"[ .\-_*/]{2,}", run)
        joined = [re.sub(r"[ .\-_*/]", "", part) for part in parts]
        # Kept boundaries: short pieces are words already; long ones are segmented anyway.
        words = [segment(w) if len(joined) == 1 or len(w) > 12 else w.lower() for w in joined]
        return " ".join(words)

    return _replace(_SPACED, text, read)


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


DECODERS = (
    ("tags", decode_tags),
    ("zero_width", decode_zero_width),
    ("homoglyphs", decode_homoglyphs),
    ("base64", decode_base64),
    ("base32", decode_base32),
    ("hex", decode_hex),
    ("morse", decode_morse),
    ("nato", decode_nato),
    ("spaced", decode_spaced),
    ("leet", decode_leet),
    ("rot13", decode_rot13),
)
# Decoders that undo an encoding (not a spelling): a message that is mostly such a payload, with a
# request to decode and follow it, is itself a signal (`scoring.encoded_payload`).
ENCODINGS = frozenset({"tags", "zero_width", "base64", "base32", "hex", "morse", "nato", "rot13"})


def deobfuscate(text: str) -> Decoded:
    """Run every decoder in turn; each works on the previous one's output."""
    result = Decoded(text=text)
    for name, decoder in DECODERS:
        out = decoder(result.text)
        if out is not None and out != result.text:
            result.text = out
            result.methods.append(name)
    return result
