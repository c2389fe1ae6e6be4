"""Check every support/reader/data/shops/<shop>/questions.jsonl against its kb/.

Run: python support/reader/data/shops/check_questions.py
JSON parses; fields valid; every expected_document exists; every must_contain
string occurs verbatim (whitespace runs collapsed) in that document; counts per kind;
every kb article has 250-700 words. Exit 1 on any error."""

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
errors = []


def text(path):
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


for shop in sorted(p for p in HERE.iterdir() if (p / "questions.jsonl").is_file()):
    kb = shop / "kb"
    docs = sorted(kb.glob("*.md"))
    tables = 0
    for d in docs:
        words = len(d.read_text(encoding="utf-8").split())
        if not 250 <= words <= 700:
            errors.append(f"{shop.name}/kb/{d.name}: {words} words")
        tables += len(re.findall(r"^\|[-| :]+\|$", d.read_text(encoding="utf-8"), re.M))
        for link in re.findall(r"\]\(([^)#]+\.md)\)", d.read_text(encoding="utf-8")):
            if not (kb / link).is_file():
                errors.append(f"{shop.name}/kb/{d.name}: link to missing {link}")
    kinds, yes_no, used = Counter(), Counter(), Counter()
    lines = (shop / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    seen = set()
    for n, line in enumerate(lines, 1):
        where = f"{shop.name}/questions.jsonl:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: bad JSON: {exc}")
            continue
        extra = set(row) - {"question", "expected_kind", "expected_document", "must_contain", "note", "yes_no"}
        if extra:
            errors.append(f"{where}: unknown fields {sorted(extra)}")
        q, kind, doc, mc = (
            row.get("question"),
            row.get("expected_kind"),
            row.get("expected_document"),
            row.get("must_contain"),
        )
        kinds[kind] += 1
        if not q:
            errors.append(f"{where}: empty question")
        if q in seen:
            errors.append(f"{where}: duplicate question")
        seen.add(q)
        if kind not in ("grounded", "escalated", "clarify"):
            errors.append(f"{where}: bad kind {kind!r}")
        if not isinstance(mc, list):
            errors.append(f"{where}: must_contain not a list")
            continue
        if "yes_no" in row:
            if row["yes_no"] not in ("yes", "no") or kind != "grounded":
                errors.append(f"{where}: bad yes_no {row['yes_no']!r}")
            yes_no[row["yes_no"]] += 1
        if kind == "grounded":
            if not doc or not (kb / doc).is_file():
                errors.append(f"{where}: missing document {doc!r}")
                continue
            used[doc] += 1
            if not 1 <= len(mc) <= 2:
                errors.append(f"{where}: grounded row needs 1-2 must_contain")
            body = text(kb / doc)
            for s in mc:
                if s not in body:
                    errors.append(f"{where}: {s!r} not found in {doc}")
        elif doc is not None or mc:
            errors.append(f"{where}: non-grounded row must have null document and empty must_contain")
    print(
        f"{shop.name}: {len(docs)} articles, {tables} tables, {len(lines)} questions, "
        f"kinds {dict(kinds)}, yes_no {dict(yes_no)}, articles used {len(used)}/{len(docs)}"
    )

for e in errors:
    print("ERROR", e)
sys.exit(1 if errors else 0)
