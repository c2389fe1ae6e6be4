"""Words: content words and stems (what verification compares), and whether a
question says enough to search on. English only, nothing of any one knowledge base."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

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
help question questions problem issue info information support service assist assistance query
order orders item items product products thing things
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


@lru_cache(maxsize=4096)
def question_terms(question: str) -> tuple[str, ...]:
    """Distinct content words of a question, in order."""
    seen: dict[str, None] = {}
    for word in content_words(question):
        seen.setdefault(word, None)
    return tuple(seen)


def is_vague(question: str) -> bool:
    """Too little to search on: 'help', 'hello?', a lone word."""
    terms = question_terms(question)
    specific = [t for t in terms if t not in GENERIC]
    return len(specific) == 0 or (len(specific) == 1 and len(tokens(question)) <= 2)
