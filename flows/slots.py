"""Reading a slot's value out of what a customer typed, one function per slot type.

Each returns the value in a canonical form (an order number upper-cased without spaces,
an ISO date, a choice's value) or None when the message holds no value of that type.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, timedelta

from flows.spec import Step

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A phone number starts with +, 00 or 0 (international or national form); order numbers and dates do not.
PHONE = re.compile(r"(?<![\w@-])(?:\+|\(?0)\d[\d ()./-]{6,}\d(?![\w@])")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)?(?![\w])")
MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DMY = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b")
_D_MONTH_Y = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\.?,?\s*(\d{{4}})?\b", re.I)
_MONTH_D_Y = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s*(\d{{4}})?\b", re.I)
_WORD = re.compile(r"[a-z0-9']+")
# Lead-ins customers put before a free-text answer or a correction.
_LEAD_IN = re.compile(
    r"^\s*(?:(?:sorry|oops|no|actually|i mean|correction)[,:;!. ]+)*(?:(?:it'?s|it is|that'?s|its)\s+)?", re.I
)


def order_number(text: str, pattern: str) -> str | None:
    match = re.search(pattern, text, flags=re.IGNORECASE)
    if match is None:
        return None
    return re.sub(r"\s+", "", match.group(0)).upper()


def email(text: str) -> str | None:
    match = EMAIL.search(text)
    return match.group(0).lower() if match else None


def number(text: str) -> str | None:
    match = NUMBER.search(text)
    return match.group(0).replace(",", ".") if match else None


def _valid(y: int, m: int, d: int) -> str | None:
    if y < 100:
        y += 2000
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def a_date(text: str, today: date) -> str | None:
    """ISO, day/month/year (European order), "3 March 2026", "March 3", today and yesterday."""
    lowered = text.lower()
    if re.search(r"\btoday\b", lowered):
        return today.isoformat()
    if re.search(r"\byesterday\b", lowered):
        return (today - timedelta(days=1)).isoformat()
    if m := _ISO.search(text):
        return _valid(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY.search(text):
        return _valid(int(m[3]), int(m[2]), int(m[1]))
    if m := _D_MONTH_Y.search(text):
        return _valid(int(m[3] or today.year), MONTHS[m[2].lower()], int(m[1]))
    if m := _MONTH_D_Y.search(text):
        return _valid(int(m[3] or today.year), MONTHS[m[1].lower()], int(m[2]))
    return None


def choice(text: str, choices: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    """The one option the message names (its value or a synonym, a typo forgiven); None when none
    or several do. The longest phrase wins where two overlap ("e-bike" over "bike")."""
    lowered = text.lower()
    spans: list[tuple[int, int, str]] = []
    for value, synonyms in choices:
        for phrase in (value, *synonyms):
            for m in re.finditer(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", lowered):
                spans.append((m.start(), m.end(), value))
    if not spans:
        # a typo: a word close to a one-word option of five letters or more
        for m in _WORD.finditer(lowered):
            for value, synonyms in choices:
                for phrase in (value, *synonyms):
                    if (
                        len(phrase) > 4
                        and " " not in phrase
                        and difflib.SequenceMatcher(None, phrase, m[0]).ratio() >= 0.8
                    ):
                        spans.append((m.start(), m.end(), value))
    kept = [a for a in spans if not any(b[0] <= a[0] and a[1] <= b[1] and b[1] - b[0] > a[1] - a[0] for b in spans)]
    values = {v for _, _, v in kept}
    return values.pop() if len(values) == 1 else None


def free_text(text: str) -> str | None:
    value = _LEAD_IN.sub("", text).strip().rstrip(".!").strip()
    return value or None


def extract(step: Step, text: str, today: date) -> str | None:
    """The value of `step`'s slot in `text`, or None."""
    if step.type == "order_number":
        return order_number(text, step.pattern)
    if step.type == "email":
        return email(text)
    if step.type == "number":
        return number(text)
    if step.type == "date":
        return a_date(text, today)
    if step.type == "choice":
        return choice(text, step.choices)
    return free_text(text)


def mask(value: str) -> str:
    """Personal data as logs and the dashboard may show it: e-mail addresses and phone numbers
    keep their first character and the domain or last two digits."""

    def _email(m: re.Match) -> str:
        local, _, domain = m.group(0).partition("@")
        return f"{local[:1]}***@{domain}"

    def _phone(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "***" + digits[-2:] if len(digits) >= 7 else m.group(0)

    return PHONE.sub(_phone, EMAIL.sub(_email, value))


def mask_slots(slots: dict) -> dict:
    return {k: mask(str(v)) if isinstance(v, str) else v for k, v in slots.items()}
