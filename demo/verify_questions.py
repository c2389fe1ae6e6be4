"""Check demo/questions.jsonl against demo/kb: JSON parses, fields valid,
every must_contain string occurs verbatim in the expected document's text."""

import html
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
KB = HERE / "kb"


def doc_text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        raw = re.sub(r"(?is)<(script|style)\b[^>]*>.*?</\1>", " ", raw)
        raw = re.sub(r"(?is)<nav\b[^>]*>.*?</nav>", " ", raw)
        raw = re.sub(r"(?s)<[^>]+>", " ", raw)
        raw = html.unescape(raw)
    return re.sub(r"\s+", " ", raw)


errors = []
kinds = Counter()
lines = (HERE / "questions.jsonl").read_text(encoding="utf-8").splitlines()
for n, line in enumerate(lines, 1):
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        errors.append(f"line {n}: bad JSON: {exc}")
        continue
    kind, doc, mc = row.get("expected_kind"), row.get("expected_document"), row.get("must_contain")
    kinds[kind] += 1
    if not row.get("question"):
        errors.append(f"line {n}: empty question")
    if kind not in ("grounded", "escalated", "clarify"):
        errors.append(f"line {n}: bad kind {kind!r}")
    if not isinstance(mc, list):
        errors.append(f"line {n}: must_contain not a list")
        continue
    if kind == "grounded":
        if not doc or not (KB / doc).is_file():
            errors.append(f"line {n}: missing document {doc!r}")
            continue
        if not mc:
            errors.append(f"line {n}: grounded row without must_contain")
        text = doc_text(KB / doc)
        for s in mc:
            if s not in text:
                errors.append(f"line {n}: {s!r} not found in {doc}")
    elif doc is not None or mc:
        errors.append(f"line {n}: non-grounded row must have null document and empty must_contain")

print(f"{len(lines)} rows, kinds: {dict(kinds)}")
for e in errors:
    print("ERROR", e)
sys.exit(1 if errors else 0)
