"""Numbers against limits: "my 15 yr old son" against "must be 16 or older", "a A$2,500 keyboard" against
"orders from A$50 to A$2,000".

A rule that states a bound on an age, an amount, a percentage, a measure or a count of something answers
a yes/no question once the customer gives their own number of the same kind. Only English grammar and
generic value shapes are used (comparison words, currency signs, units), the same for every knowledge
base; periods of time are compared by `polarity` against the customer's elapsed time, not here.

A rule with two bounds of the customer's kind that disagree ("under 16 … or under 18") decides nothing:
which one is the customer's is not read here. Known limit: a customer outside a rule's bound is told no even
where the rule's consequence is not what they asked about ("parcels heavier than 20 kg go by freight" for "can
my 3 kg parcel go by post?"); on the 20 training help centres' recorded replies a no from a bound was right 9
times in 10 (the miss quoted the general rule where the customer's tier had its own in another article), a
yes 11 times in 13, so it stays until a rule's subject can be matched with the question's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from support.reader.features import states_time, tokens

# 1,300 and 1 300 (a space, no-break or narrow no-break space between thousands, as Nordic and French
# prices are written) are one number; 1.5 and 1,5 are decimals.
# 1.299,95 (a point between thousands, a decimal comma) is read as money only (see _money_value).
_NUM = (
    r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?(?![\d])"
    r"|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d,.])"
    r"|\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?(?![\d.])"
    r"|\d+(?:[.,]\d+)?)"
)
# A currency sign or a currency's short name written next to the number, before or after it.
_CURRENCY = r"(?:[A-Z]{1,3}\$|[$€£¥₹₩₽₺₪]|\b(?:[A-Z]{3}|zł|kr|Kč|Ft|lei|Rs\.?|R)\b)"
_MONEY = re.compile(rf"{_CURRENCY}\.?\s?{_NUM}|{_NUM}\s?(?:{_CURRENCY}|(?:dollars?|euros?|pounds?)\b)")
_PERCENT = re.compile(rf"{_NUM}\s?%")
_UNITS = {
    "kg": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg", "g": "g", "gram": "g",
    "grams": "g", "lb": "lb", "lbs": "lb", "pound": "lb", "cm": "cm", "mm": "mm", "m": "m", "metre": "m",
    "metres": "m", "meter": "m", "meters": "m", "km": "km", "mile": "mile", "miles": "mile", "inch": "in",
    "inches": "in", '"': "in", "in": "in", "ft": "ft", "feet": "ft", "l": "l", "litre": "l", "litres": "l",
    "liter": "l", "liters": "l", "ml": "ml", "gb": "gb", "tb": "tb", "mb": "mb", "w": "w", "kw": "kw",
}  # fmt: skip
_UNIT_WORDS = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_MEASURE = re.compile(rf"{_NUM}\s?({_UNIT_WORDS})(?![\w])", re.I)
_AGE = re.compile(
    rf"\b{_NUM}[\s-]*(?:years?|yrs?|yr)[\s-]*old\b|\b{_NUM}\s?(?:yo|y/o)\b|\baged?\s+{_NUM}\b"
    rf"|\b(?:i'?m|i am|is|turns?|turned)\s+{_NUM}(?=\s*(?:[,.;!?]|$|and\b|but\b|so\b|now\b))",
    re.I,
)
# Words that say a number in a rule is an age.
_AGE_CONTEXT = re.compile(
    r"\b(?:ages?|aged|years? old|year-olds?|yrs|older|younger|adults?|child|children|kids?|teens?|teenagers?|"
    r"minors?|anyone|people|guests?|born)\b|\d\s?\+",
    re.I,
)
_COUNT = re.compile(rf"\b{_NUM}\s+([a-z][a-z-]+)", re.I)
# Counts of these are dates, times or periods, not quantities a limit caps: what the reader's features read as
# a period or a date (support.reader.features.states_time: "3 days", "12 March"), and these besides.
_NOT_COUNTED = re.compile(
    r"^(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|am|pm|nights?|yrs?|business|working|calendar|"
    r"percent|per|or|and|to|of|x|times?)$",
    re.I,
)
# The customer stated a bound, not their own number ("the order is over $99"): nothing to compare.
_STATED_BOUND = re.compile(r"\b(?:over|under|above|below|more than|less than|at least|up to)\s*$", re.I)

# "Is she too old?" asks whether the bound is broken: a yes would say the opposite of the comparison.
_TOO = re.compile(r"\btoo\s+(?:old|young|late|early|much|many|big|small|heavy|long|short|high|low|far)\b", re.I)

_LOWER = r"(?:or (?:older|over|more|above|upwards?|higher)|and (?:up|over|older|above)|\+|plus\b)"
_UPPER = r"(?:or (?:younger|under|less|fewer|below|lower))"
# Comparatives with "than": the first group bounds from below ("further than 75 km"), the second from above.
_MORE_THAN = ("more", "older", "greater", "further", "farther", "longer", "wider", "taller", "higher", "heavier",
              "bigger", "larger")  # fmt: skip
_LESS_THAN = ("less", "fewer", "younger", "shorter", "narrower", "lower", "lighter", "smaller")
_BOUND_BEFORE = re.compile(
    r"(?P<op>at least|minimum(?: of)?|min\.?|from|over|above|exceeding|under|below|up to|at most|maximum(?: of)?|"
    r"max\.?|no more than|not more than|limit(?:ed)? (?:of|to)|between|"
    rf"(?:{'|'.join(_MORE_THAN + _LESS_THAN)}) than)\s*$",
    re.I,
)
_STRICT = {"over", "above", "exceeding", "under", "below"} | {f"{w} than" for w in _MORE_THAN + _LESS_THAN}
_LOWER_OPS = {"at least", "minimum", "minimum of", "min", "min.", "from", "over", "above", "exceeding"} | {
    f"{w} than" for w in _MORE_THAN
}


@dataclass(frozen=True)
class Quantity:
    value: float
    kind: str  # "age", "money", "percent", "measure:<unit>" or "count:<noun>"
    start: int
    end: int


@dataclass(frozen=True)
class Limit:
    kind: str
    at: int  # where the bound's number is in the rule
    low: float | None = None
    high: float | None = None
    low_strict: bool = False
    high_strict: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_strict and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_strict and value == self.high)))


def _number(text: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:[, \u00a0\u202f]\d{3})+(?:\.\d{1,2})?", text):  # 1,300 / 1 300 / 1,300.50
        return float(re.sub(r"[, \u00a0\u202f]", "", text))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}", text):  # 1.299,95: points between thousands, a decimal comma
        return float(text.replace(".", "").replace(",", "."))
    return float(text.replace(",", "."))


def _money_value(match: re.Match) -> float:
    """An amount as Danish, German or Spanish prices are written: 1.299 kr. or 1.299,95 € (no price has three
    decimals, so a point before three digits separates thousands)."""
    text = next(g for g in match.groups() if g and re.match(r"\d", g))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?", text):
        return float(text.replace(".", "").replace(",", "."))
    return _number(text)


def _first_number(match: re.Match) -> float:
    return _number(next(g for g in match.groups() if g and re.match(r"\d", g)))


def quantities(text: str, ages: bool = True) -> list[Quantity]:
    """The numbers in `text` with their kind; a number is read as one kind only (money before a count)."""
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match, kind: str) -> None:
        if any(a < match.end() and match.start() < b for a, b in taken):
            return
        taken.append((match.start(), match.end()))
        found.append(Quantity(_first_number(match), kind, match.start(), match.end()))

    for m in _MONEY.finditer(text):
        add(m, "money")
        if found and found[-1].start == m.start():
            found[-1] = Quantity(_money_value(m), "money", m.start(), m.end())
    for m in _PERCENT.finditer(text):
        add(m, "percent")
    if ages:
        for m in _AGE.finditer(text):
            add(m, "age")
    for m in _MEASURE.finditer(text):
        add(m, "measure:" + _UNITS[m.group(2).lower()])
    for m in _COUNT.finditer(text):
        noun = m.group(2).lower()
        stems = tokens(noun)
        if stems and not _NOT_COUNTED.match(noun) and not states_time(f"1 {noun}") and noun not in _UNITS:
            add(m, "count:" + stems[0])
    if not ages:  # a rule's bare numbers: "must be 16 or older" is an age once its words say so
        for m in re.finditer(rf"(?<![\d:/.,]){_NUM}(?![\d:/])", text):
            add(m, "bare")
    found.sort(key=lambda q: q.start)
    return found


def customer_quantities(question: str) -> list[Quantity]:
    """The customer's own numbers: not the bounds they quote ("over $99"), not times of day."""
    return [
        q
        for q in quantities(question)
        if not _STATED_BOUND.search(question[: q.start]) and not re.match(r"\s*[:h]\d", question[q.end :])
    ]


def limits(statement: str) -> list[Limit]:
    """The bounds `statement` puts on a number: "16 or older", "up to 4 tickets", "from A$50 to A$2,000",
    "ages 4–12", "between 18 and 25"."""
    out: list[Limit] = []
    numbers = quantities(statement, ages=False)
    used: set[int] = set()
    for i, q in enumerate(numbers):
        if i in used:
            continue
        kind = q.kind
        after = statement[q.end : q.end + 40]
        before = statement[max(0, q.start - 40) : q.start]
        if kind == "bare":
            counted = re.match(r"\s*or (?:more|fewer|less)\s+([a-z][a-z-]+)", after, re.I)
            stems = tokens(counted.group(1)) if counted else []
            if stems:  # "20 or more copies"
                kind = "count:" + stems[0]
            else:
                kind = "age" if _AGE_CONTEXT.search(before[-25:] + " " + after[:20]) else "bare"
        # A range: "4–12", "18 to 25", "from 40 zł to 3,000 zł", "between 18 and 25".
        if i + 1 < len(numbers):
            nxt = numbers[i + 1]
            gap = statement[q.end : nxt.start]
            joined = re.fullmatch(r"\s*(?:–|-|—|to|and)\s*", gap) and (nxt.kind == q.kind or _bare(statement, q))
            if joined and (gap.strip() != "and" or re.search(r"between\s*$", before, re.I)):
                used.add(i + 1)
                kind = _range_kind(statement, q, nxt, kind)
                out.append(Limit(kind, q.start, low=min(q.value, nxt.value), high=max(q.value, nxt.value)))
                continue
        op = _BOUND_BEFORE.search(before)
        if op:
            word = re.sub(r"\s+", " ", op.group("op").lower())
            if word == "between":
                continue
            strict = word in _STRICT
            if word in _LOWER_OPS:
                if word == "from" and re.match(r"\s*(?:–|-|to)\b", after):
                    continue
                out.append(Limit(kind, q.start, low=q.value, low_strict=strict))
            else:
                out.append(Limit(kind, q.start, high=q.value, high_strict=strict))
            continue
        if re.match(rf"\s*{_LOWER}", after, re.I) or re.match(r"\s*\w*\s*" + _LOWER, after, re.I):
            out.append(Limit(kind, q.start, low=q.value))
        elif re.match(rf"\s*{_UPPER}", after, re.I) or re.match(r"\s*\w*\s*" + _UPPER, after, re.I):
            out.append(Limit(kind, q.start, high=q.value))
    return out


def _bare(statement: str, q: Quantity) -> bool:
    """ "4–12" in "ages 4–12": the first number carries no unit of its own."""
    return bool(re.fullmatch(r"\d[\d.,]*", statement[q.start : q.end].strip()))


def _range_kind(statement: str, first: Quantity, second: Quantity, kind: str) -> str:
    """ "from 40 zł to 3,000 zł" is money, "4–12 kg" a weight, "ages 4–12" and "(18–25)" near "people" ages."""
    if kind == "age":
        return "age"
    if second.kind == "bare":
        around = statement[max(0, first.start - 40) : second.end + 20]
        return "age" if _AGE_CONTEXT.search(around) else "bare"
    return second.kind if kind == "bare" else kind


def compare(question: str, statement: str) -> tuple[bool, int] | None:
    """Does the customer's number meet the rule's bound, and where in the rule is that bound? None when
    the question gives no number of a kind the rule bounds, or gives several, or the rule's bounds of
    that kind disagree about it."""
    bounds = [b for b in limits(statement) if b.kind != "bare"]
    if not bounds or _TOO.search(question):
        return None
    mine = customer_quantities(question)
    verdicts: dict[bool, int] = {}
    for kind in {b.kind for b in bounds}:
        values = {q.value for q in mine if q.kind == kind}
        if len(values) != 1:
            continue
        value = values.pop()
        for b in bounds:
            if b.kind == kind:
                verdicts.setdefault(b.admits(value), b.at)
    return next(iter(verdicts.items())) if len(verdicts) == 1 else None
