"""Does what retrieval found actually answer the question?

A similarity threshold cannot decide this (docs/benchmarks.md, FINDINGS):
uncovered questions about a covered topic score as high as answerable ones.
The decision combines calibrated signals, each recorded on the reply:

- `cosine`: similarity of the best chunk (a floor, not the decision);
- `coverage`: share of the question's salient terms, weighted by their
  rarity in the knowledge base (IDF), that occur in the retrieved passages;
  typos are corrected against the knowledge base's vocabulary first;
- `unknown`: salient terms that occur nowhere in the knowledge base (the
  subject the customer asks about is not one we document);
- `answer_type`: when the question asks for a price, a duration, a time or
  a number, the passages must state a value of that kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings

from knowledge.selectors import SearchHit
from support.pipeline import lexicon

# Customers' words and the words help centres use for the same thing.
_SYNONYMS = [
    {"cost", "price", "fee", "charg", "pay", "expens", "cheap"},
    {"ship", "deliveri", "deliv", "post", "postag", "courier", "send", "dispatch"},
    {"return", "send back", "refund", "exchang"},
    {"ebik", "e-bik", "electr", "pedelec"},
    {"cancel", "cancell"},
    {"guarante", "warranti"},
    {"repair", "servic", "fix", "mend", "workshop"},
    {"open", "hour", "time"},
    {"phone", "call", "telephon", "contact", "email", "reach"},
    {"money", "refund", "paid"},
    {"broken", "damag", "fault", "defect"},
    {"buy", "purchas", "order"},
    {"long", "day", "week", "month", "time"},
    {"voucher", "gift", "card"},
    {"instal", "financ", "loan", "credit", "monthly"},
    {"size", "frame", "height", "tall"},
    {"batteri", "charg", "rang"},
    {"address", "locat", "where"},
]
_SYNONYM_OF: dict[str, set[str]] = {}
for group in _SYNONYMS:
    for word in group:
        _SYNONYM_OF.setdefault(word, set()).update(group)


@dataclass
class Decision:
    answerable: bool
    reason: str
    cosine: float
    coverage: float
    unknown: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    answer_type: str | None = None
    type_found: bool | None = None
    stems: dict[str, float] = field(default_factory=dict)  # salient stem → weight

    def as_signals(self) -> dict:
        return {
            "answerable": self.answerable,
            "reason": self.reason,
            "cosine": round(self.cosine, 4),
            "coverage": round(self.coverage, 4),
            "unknown_terms": self.unknown,
            "missing_terms": self.missing,
            "answer_type": self.answer_type,
            "answer_type_found": self.type_found,
        }


_ASK_WORDS = (
    "how|what|when|where|which|who|whom|whose|why|can|could|do|does|did|is|are|was|were|will|would|should|"
    "shall|may|might|have|has|am|any|if"
)
_ASK_START = re.compile(rf"^(?:{_ASK_WORDS})\b", re.IGNORECASE)
# An ask that starts a clause inside a sentence: "My wife died last year, what support can I get".
_CLAUSE_ASK = re.compile(rf"(?:^|[,;:]\s*)(?:{_ASK_WORDS})\b", re.IGNORECASE)
CONTEXT_WEIGHT = 0.0  # words of the customer's story, outside the question itself: they steer retrieval only


def ask_sentences(message: str) -> list[str]:
    """The sentences that ask something. Customers often tell their situation first
    ("I bought an e-bike in Sussex last week ..."); the subject of the question
    is in the ask, and only its words may make a question unanswerable."""
    # Customers type in any case, so split on end punctuation alone (not on the
    # capital letter a help-centre text would have after it).
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", message) if s.strip()] or [message]
    asks = [_ask_clause(s) for s in sentences if s.rstrip().endswith("?") or _ASK_START.match(s.strip())]
    if not asks and _unended_ask(sentences[-1]):
        asks = [_ask_clause(sentences[-1])]
    return asks or sentences


def _unended_ask(sentence: str) -> bool:
    """The pipeline sees the normalised question, whose final "?" is gone
    (core.text.normalize_question). When nothing else asks, a last sentence left
    without end punctuation is the ask if a clause of it starts with a question
    word ("My wife died last year, what support can I get") or it runs on into
    a capitalised one ("... a Brazilian citizen Is it possible ...")."""
    if sentence.rstrip().endswith((".", "!", "?")):
        return False
    return bool(_CLAUSE_ASK.search(sentence) or _CAPITAL_ASK.search(sentence))


_CAPITAL_ASK = re.compile(
    r"(?<=[\s,;:])(?:How|What|When|Where|Which|Who|Why|Can|Could|Do|Does|Did|Is|Are|Will|Would|Should|May|Am|"
    r"Have|Has|If)\b"
)


def _ask_clause(sentence: str) -> str:
    """A run-on message ("... look after them permanently How long will it take?")
    asks from its last capitalised question word on."""
    starts = [m.start() for m in _CAPITAL_ASK.finditer(sentence)]
    return sentence[starts[-1] :] if starts else sentence


def _expand(term: str, vocab: lexicon.Vocabulary) -> list[str]:
    # "covid-19" or "self-employed" may be written whole or in parts; use the parts
    # when the knowledge base does not know the compound.
    if "-" in term and not vocab.known(lexicon.stem(term)):
        parts = [p for p in term.split("-") if p and not lexicon.has_digit(p) and p not in lexicon.STOPWORDS]
        if parts:
            return parts
    return [term]


def salient_stems(question: str, vocab: lexicon.Vocabulary) -> tuple[dict[str, float], list[str]]:
    """Salient stems weighted by how informative the word is in general English,
    and the subject words the knowledge base has never seen.

    Numbers are left out: they describe the customer's situation ("183 cm",
    "€1,400"), not a subject the documents must name. Words outside the asking
    sentences weigh less and never count as an unknown subject.
    """
    asked = {t for sentence in ask_sentences(question) for t in lexicon.question_terms(sentence)}
    words = [t for t in lexicon.question_terms(question) if not lexicon.has_digit(t)]
    terms = [t for t in words if t not in lexicon.GENERIC] or words
    weights: dict[str, float] = {}
    unknown: list[str] = []
    for whole in terms:
        in_ask = whole in asked
        for term in _expand(whole, vocab):
            s = lexicon.stem(term)
            if not vocab.known(s):
                alias = next((alt for alt in sorted(_SYNONYM_OF.get(s, ())) if vocab.known(alt)), None)
                fixed = alias or vocab.correct(term)
                if fixed:
                    s = fixed
                elif in_ask and lexicon.zipf(term) <= UNKNOWN_SUBJECT_MAX_ZIPF:
                    unknown.append(term)
            weight = lexicon.informativeness(term) * (1.0 if in_ask else CONTEXT_WEIGHT)
            if weight > 0:
                weights[s] = max(weights.get(s, 0.0), weight)
    return weights, unknown


# An unknown word at least this rare in English names a subject we do not document.
UNKNOWN_SUBJECT_MAX_ZIPF = 5.5
WINDOW_SENTENCES = 3


def covered(stem: str, evidence: set[str]) -> bool:
    if stem in evidence:
        return True
    return any(alt in evidence for alt in _SYNONYM_OF.get(stem, ()))


def is_vague(question: str) -> bool:
    """Too little to search on: 'bike', 'help', 'hello?'."""
    terms = lexicon.question_terms(question)
    specific = [t for t in terms if t not in lexicon.GENERIC]
    return len(specific) == 0 or (len(specific) == 1 and len(lexicon.tokens(question)) <= 2)


def local_coverage(weights: dict[str, float], hits: list[SearchHit]) -> float:
    """The best share of the question's weight found together in one place: the
    heading path plus a window of consecutive sentences. Answers are local;
    terms scattered over three documents are not an answer."""
    total = sum(weights.values())
    if not total:
        return 0.0
    best = 0.0
    for hit in hits:
        heading = lexicon.stems(hit.heading_path)
        sentence_spans = hit.sentence_spans or [[0, len(hit.text)]]
        sentence_stems = [lexicon.stems(hit.text[a:b]) for a, b in sentence_spans]
        for i in range(len(sentence_stems)):
            window = heading.union(*sentence_stems[i : i + WINDOW_SENTENCES])
            best = max(best, sum(w for s, w in weights.items() if covered(s, window)) / total)
    return best


def decide(question: str, hits: list[SearchHit], vocab: lexicon.Vocabulary) -> Decision:
    best = max((h.cosine for h in hits), default=0.0)
    weights, unknown = salient_stems(question, vocab)
    evidence_hits = hits[:3]
    evidence: set[str] = set()
    for hit in evidence_hits:
        evidence |= lexicon.stems(hit.heading_path + " " + hit.text)
    missing = [s for s in weights if not covered(s, evidence)]
    coverage = local_coverage(weights, evidence_hits)
    kind = lexicon.answer_type(question)
    type_found = None
    if kind is not None and kind.pattern is not None:
        type_found = any(kind.pattern.search(h.text) for h in evidence_hits)
    decision = Decision(
        answerable=True,
        reason="ok",
        cosine=best,
        coverage=coverage,
        unknown=unknown,
        missing=missing,
        answer_type=kind.name if kind else None,
        type_found=type_found,
        stems=weights,
    )
    if not hits:
        decision.answerable, decision.reason = False, "nothing_retrieved"
    elif best < settings.ANSWERABLE_MIN_COSINE:
        decision.answerable, decision.reason = False, "low_similarity"
    elif unknown:
        decision.answerable, decision.reason = False, "unknown_subject"
    elif coverage < settings.ANSWERABLE_MIN_COVERAGE:
        decision.answerable, decision.reason = False, "terms_not_covered"
    elif type_found is False:
        decision.answerable, decision.reason = False, "no_value_of_asked_kind"
    return decision
