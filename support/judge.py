"""The one judge every question set is scored by: correct, wrong (answered but not correct: the
figure that must go to zero) or escalated, and the reply's length. Plain functions without Django,
so benchmarks can import it before the app registry is ready."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.choices import ReplyKind as Kind

# --- The judge ---------------------------------------------------------------------------------------

CORRECT, WRONG, ESCALATED = "correct", "wrong", "escalated"
ANSWERED = (Kind.GROUNDED.value, Kind.APPROVED.value)
YES_NO = ("yes", "no")
EITHER = "either"  # a gold yes/no with both answers under different conditions: stating one suffices

_CITE = re.compile(r"\s?\[\d{1,3}\]")
_WORD = re.compile(r"[^\W_]+")
_STATED = re.compile(r"(yes|no)\b(?![-'’])", re.IGNORECASE)
_LEAD = re.compile(r"[\W_]*")


def words(text: str) -> str:
    """The text's words, case-folded and joined by one space.

    Words are runs of letters/digits; citation markers (" [1]") are removed first, so spacing,
    punctuation, markup, bullets, case and citations never count.
    """
    return " ".join(_WORD.findall(_CITE.sub(" ", text).casefold()))


def contains(text: str, needle: str) -> bool:
    """Whether ``needle``'s words occur in ``text`` as whole consecutive words (``words`` of both).

    A needle without any word is never present."""
    wanted = words(needle)
    return bool(wanted) and f" {wanted} " in f" {words(text)} "


def stated_yes_no(text: str) -> str | None:
    """ "yes" or "no" when the reply's first word is one ("Yes,", "**No.**", "- yes"), else None.

    Markup, bullets and citation markers before it are skipped; "No-one" or "Nobody" state nothing."""
    body = _CITE.sub(" ", text)
    match = _STATED.match(body, _LEAD.match(body).end())
    return match.group(1).lower() if match else None


def reply_words(text: str) -> int:
    """The reply's length in words: whitespace-separated tokens with a letter or digit, without citation markers."""
    return sum(1 for token in _CITE.sub(" ", text).split() if _WORD.search(token))


@dataclass
class Gold:
    """What a correct answer must hold.

    facts: every one must be present; spans: alternatives, any one present suffices; yes_no:
    "yes" / "no" (the reply must state it), EITHER (the gold answer is yes under some conditions
    and no under others: the reply must state one of them) or None; cite: documents (source keys)
    of which a grounded reply must cite one (empty: no requirement)."""

    answerable: bool = True
    facts: list[str] = field(default_factory=list)
    spans: list[str] = field(default_factory=list)
    yes_no: str | None = None
    cite: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # CORRECT, WRONG or ESCALATED
    answerable: bool
    answered: bool
    words: int  # reply_words of the reply
    why: str = ""  # what made it wrong; empty otherwise

    @property
    def label(self) -> str:
        """The outcome as reported: an escalated unanswerable question is "escalated (correctly)"."""
        return "escalated (correctly)" if self.outcome == ESCALATED and not self.answerable else self.outcome


def judge(*, kind: str, text: str, gold: Gold, cited: Sequence[str] = ()) -> Verdict:
    """Score one reply against its gold, the same way for every set.

    A reply is *answered* when its kind is grounded or approved; anything else (escalated, clarify,
    blocked, an error) is *escalated*.

    Answerable gold: not answered -> escalated; answered -> correct when
      - every fact is present (when there are facts),
      - some span is present (when there are spans),
      - the reply states the gold yes/no (when the gold has one): its first word, after markup,
        bullets and citation markers, is "yes" or "no". An answer that does not state the deciding
        yes/no has not answered the question, so it is wrong, not correct;
      - a grounded reply cites one of ``gold.cite`` (when given; an approved reply is a person's
        answer and is not held to it),
    otherwise wrong.
    Unanswerable gold: answered -> wrong; otherwise escalated, the right outcome there
    (reported as "escalated (correctly)"; a clarifying question counts as escalated).

    Presence is words-only (``contains``): case, spacing, punctuation and citation markers are ignored.
    """
    answered = kind in ANSWERED
    length = reply_words(text) if answered else 0
    if not answered:
        return Verdict(ESCALATED, gold.answerable, False, length)
    if not gold.answerable:
        return Verdict(WRONG, False, True, length, "answered a question the documents do not answer")
    problems = [f"missing fact {fact!r}" for fact in gold.facts if not contains(text, fact)]
    if gold.spans and not any(contains(text, span) for span in gold.spans):
        problems.append("no gold span")
    if gold.yes_no is not None:
        stated = stated_yes_no(text)
        if stated is None:
            problems.append("states no yes/no")
        elif gold.yes_no != EITHER and stated != gold.yes_no:
            problems.append(f"states {stated}, gold {gold.yes_no}")
    if gold.cite and kind != Kind.APPROVED and not set(gold.cite) & set(cited):
        problems.append("gold document not cited")
    return Verdict(WRONG if problems else CORRECT, True, True, length, "; ".join(problems))


# --- Headline figures: correct / wrong / escalated / reply words ----------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def tally(verdicts: Iterable[Verdict]) -> dict:
    """Counts and shares of the outcomes, and the answered replies' median / p90 length in words.

    "escalated" counts answerable questions not answered (misses); "escalated_correctly" the
    unanswerable ones not answered (the right outcome). The four add up to "questions"."""
    items = list(verdicts)
    n = len(items)
    counts = {
        CORRECT: sum(v.outcome == CORRECT for v in items),
        WRONG: sum(v.outcome == WRONG for v in items),
        ESCALATED: sum(v.outcome == ESCALATED and v.answerable for v in items),
        "escalated_correctly": sum(v.outcome == ESCALATED and not v.answerable for v in items),
    }
    lengths = [v.words for v in items if v.answered]
    return {
        "questions": n,
        "answerable": sum(v.answerable for v in items),
        **counts,
        **{f"{k}_share": round(c / n, 4) if n else None for k, c in counts.items()},
        "reply_words_median": statistics.median(lengths) if lengths else None,
        "reply_words_p90": percentile(lengths, 90),
    }


def headline_table(groups: Sequence[tuple[str, Sequence[Verdict]]]) -> str:
    """One Markdown table, a row per (label, verdicts): questions, correct, wrong, escalated
    (answerable, not answered), escalated correctly (unanswerable, not answered), and the
    answered replies' median / p90 words."""

    def cell(count: int, n: int) -> str:
        return f"{count} ({100 * count / n:.1f} %)" if n else "0"

    headers = [
        "questions",
        "n",
        "correct",
        "wrong",
        "escalated",
        "escalated (correctly: not answerable)",
        "reply words, answered: median / p90",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for label, verdicts in groups:
        t = tally(verdicts)
        n = t["questions"]
        median, p90 = t["reply_words_median"], t["reply_words_p90"]
        size = "-" if median is None else f"{median:g} / {p90:g}"
        row = [label, n, *(cell(t[k], n) for k in (CORRECT, WRONG, ESCALATED, "escalated_correctly")), size]
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


# --- A question set (demo/questions.jsonl) ---------------------------------------------------------
