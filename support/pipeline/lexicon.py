"""Words: salient terms of a question, stems, the knowledge base's vocabulary
with inverse document frequencies, and the kind of value a question asks for.

These are the lexical signals answerability and compression stand on. The
vocabulary is read from the searchable chunks once per knowledge-base state
(it changes only when a version is verified or a document retired).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from knowledge.models import Chunk

_stemmer = snowballstemmer.stemmer("english")
_stem_lock = threading.Lock()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


WORD = re.compile(r"[a-z0-9€£$]+(?:[-'][a-z0-9]+)*", re.IGNORECASE)

STOPWORDS = _words(
    """
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he her here hers herself him himself his how i
i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor not of
off on once only or other ought our ours ourselves out over own same shan't she should shouldn't so some such
than that that's the their theirs them themselves then there there's these they this those through to too
under until up very was wasn't we were weren't what what's when where which while who whom why with won't
would wouldn't you your yours yourself yourselves mine will just also get got ok okay please hi hello hey thanks
thank regards dear yes yeah would like want need know tell us im dont cant wont ive id youre anything
something someone anyone thing things way much many really still even ever since via per etc e.g i.e lot lots
kind sort bit maybe today yesterday tomorrow tonight ago now soon later already recently currently usually
normally basically actually honestly literally exactly probably definitely totally completely seriously think
guess wonder wondering guys folks mate sure thing stuff anyway though
"""
)

# Words that make a message a question about the company in general, not a
# specific subject: on their own they are too vague to search.
GENERIC = _words(
    """
help question questions problem issue info information support service assist assistance query brightwheel
bike bikes order orders item items product products
"""
)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    # Cached: a turn stems a few hundred words, nearly all seen before.
    with _stem_lock:  # the snowball stemmer object is not thread-safe
        return _stemmer.stemWord(word.lower())


def tokens(text: str) -> list[str]:
    return [m.group(0).lower() for m in WORD.finditer(text)]


def content_words(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """How common a word is in general English (wordfreq's Zipf scale: 7 = 'the', 1 = very rare)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def informativeness(word: str) -> float:
    """Weight of a question word: rare words carry the subject, common ones little."""
    return min(4.0, max(0.2, 6.0 - zipf(word)))


@lru_cache(maxsize=8192)
def stems(text: str) -> frozenset[str]:
    """Stems of the content words, with hyphenated compounds also in their parts
    ("COVID-19" matches "covid", "self-employed" matches "self employed").
    Cached: every turn re-reads the sentences of the chunks it retrieved, and
    the same chunks come back again and again (0.7-1 ms a turn, measured)."""
    return frozenset(_stems(text))


def _stems(text: str) -> set[str]:
    out: set[str] = set()
    for word in content_words(text):
        out.add(stem(word))
        if "-" in word:
            out.update(stem(p) for p in word.split("-") if p and p not in STOPWORDS and not p.isdigit())
    return out


# --- What kind of value does the question ask for? ----------------------------------------

_MONEY = re.compile(
    r"(?:€|£|\$|\beur\b|\beuro|\bgbp\b|\busd\b)\s?\d|\d\s?(?:€|£|\$|eur\b|euros?\b)"
    r"|\bfree\b|\bno charge\b|\bat no cost\b",
    re.I,
)
_DURATION = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:-|–|to)?\s*\d*\s*(?:business |working |calendar )?"
    r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"
    r"|\bwithin\b|\bsame day\b|\bnext day\b|\bimmediately\b|\blifetime\b",
    re.I,
)
_TIME = re.compile(
    r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun)\b",
    re.I,
)
_NUMBER = re.compile(
    r"\b\d+(?:[.,]\d+)?\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty)\b", re.I
)
_CONTACT = re.compile(r"@|\+?\d[\d\s]{6,}\d|\bphone\b|\bcall\b|\bemail\b|\bchat\b|\bform\b", re.I)


@dataclass(frozen=True)
class AnswerType:
    name: str
    pattern: re.Pattern | None


# "charge" is money when someone or something is charged ("charges", "any charge", "delivery charge",
# "do you charge for", "charged me", "charge my card"); "how do I charge the battery" asks how, and
# "does the battery hold a charge" asks about the battery, not a price.
_MONEY_CUE = re.compile(
    r"\bhow much\b|\bcost|\bprice|\bfees?\b|\bpay for\b|\bexpensive\b|\bcharges\b"
    r"|\b(?:any|an extra|extra|additional|delivery|shipping|service|handling)\s+charge\b"
    r"|\bcharged?\s+(?:me|you|us|them|for|extra|a fee|my card)\b",
    re.I,
)
_TIME_CUE = re.compile(
    r"\bwhat time\b|\bopening hours\b|\bwhen (?:are|is) (?:you|the \w+) open\b|\bopen on\b|\bhours\b", re.I
)
_DURATION_CUE = re.compile(
    r"\bhow long\b|\bhow many (?:days|weeks|months|years|hours)\b|\bhow soon\b|\bhow quickly\b|\bwhen will\b"
    r"|\bhow fast\b|\bdeadline\b|\bvalid for\b|\bexpire",
    re.I,
)
_NUMBER_CUE = re.compile(r"\bhow many\b|\bhow far\b|\bhow heavy\b|\bwhat size\b|\bhow old\b|\bpercent|\brange\b", re.I)
_CONTACT_CUE = re.compile(
    r"\bhow (?:can|do) i (?:contact|reach)\b|\bphone number\b|\bemail address\b|\bcontact\b", re.I
)

_ANSWER_TYPES: list[tuple[re.Pattern, AnswerType]] = [
    (_MONEY_CUE, AnswerType("money", _MONEY)),
    (_TIME_CUE, AnswerType("time", _TIME)),
    (_DURATION_CUE, AnswerType("duration", _DURATION)),
    (_NUMBER_CUE, AnswerType("number", _NUMBER)),
    (_CONTACT_CUE, AnswerType("contact", _CONTACT)),
]


def answer_type(question: str) -> AnswerType | None:
    for cue, kind in _ANSWER_TYPES:
        if cue.search(question):
            return kind
    return None


# --- The knowledge base's vocabulary ---------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    df: dict[str, int]
    n_chunks: int

    def idf(self, term: str) -> float:
        return math.log((self.n_chunks + 1) / (self.df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        return term in self.df

    def correct(self, word: str) -> str | None:
        """A known stem one edit away from an unknown word (typos: 'refnd' → 'refund').
        Real English words are left alone: 'crack' is not a typo of 'track'."""
        if zipf(word.lower()) >= 2.5:
            return None
        return _closest(word.lower(), self)


def _edits1(word: str) -> set[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return deletes | transposes | replaces | inserts


def _closest(word: str, vocab: Vocabulary) -> str | None:
    if len(word) < 4 or not word.isalpha():
        return None
    best: tuple[int, str] | None = None
    for candidate in _edits1(word):
        s = stem(candidate)
        if s in vocab.df and (best is None or vocab.df[s] > best[0]):
            best = (vocab.df[s], s)
    return best[1] if best else None


_vocab_lock = threading.Lock()
_vocab: tuple[str, Vocabulary] | None = None


def vocabulary(state_key: str) -> Vocabulary:
    """The vocabulary of the searchable chunks, rebuilt when `state_key` changes."""
    global _vocab
    if _vocab is not None and _vocab[0] == state_key:
        return _vocab[1]
    with _vocab_lock:
        if _vocab is None or _vocab[0] != state_key:
            _vocab = (state_key, _build_vocabulary())
        return _vocab[1]


def _build_vocabulary() -> Vocabulary:
    df: Counter[str] = Counter()
    n = 0
    for heading, text in Chunk.objects.filter(searchable=True).values_list("heading_path", "text").iterator(2000):
        n += 1
        df.update(_stems(heading + " " + text))  # uncached: each chunk is read once here
    return Vocabulary(dict(df), n)


@lru_cache(maxsize=4096)
def question_terms(question: str) -> tuple[str, ...]:
    """Distinct content words of a question, in order."""
    seen: dict[str, None] = {}
    for word in content_words(question):
        seen.setdefault(word, None)
    return tuple(seen)
