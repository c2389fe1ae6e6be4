"""Convert doc2dial's later user turns into the reader's extra training questions.

The shared benchmark folder keeps only each dialogue's first user turn. The same source file
(doc2dial "rc" view of the validation split, CSV despite its .zip name) holds every later user turn
too, each with its grounding span in the same documents. Later turns are the specific questions a
customer asks once the conversation is going ("Do I need to bring my birth certificate?"), the
kind a help centre gets, where first turns are often openers answered by a page's lead sentence.

Run from the project root (the CSV comes from the repository snapshot named in
support/reader/data/README.md):
  .venv/bin/python scripts/doc2dial_later_turns.py doc2dial_rc_val.csv.zip \
      > support/reader/data/doc2dial_later_turns.jsonl

Kept: the current user utterance (the text before the first tab; the rest is the history, newest
first) when it holds a question mark and at least 4 words, its first answer span whitespace-trimmed
with its offset moved to match, mapped to the shared docs.jsonl doc_id by doc2dial's own doc id.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "support_qa" / "doc2dial"
MIN_WORDS = 4
ALSO_IN_MIN_CHARS = 30  # as the shared questions.jsonl: only long spans are looked up in other documents


def convert(csv_path: Path, docs_path: Path) -> list[dict]:
    docs = [json.loads(line) for line in docs_path.read_text().splitlines() if line.strip()]
    by_orig = {d["orig_doc_id"]: d for d in docs}
    csv.field_size_limit(10**9)
    out = []
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            dial, _, turn = row["id"].rpartition("_")
            if turn == "1":
                continue  # first turns are in the shared questions.jsonl already
            doc = by_orig.get(row["title"])
            if doc is None or row["context"] != doc["text"]:
                continue
            current = row["question"].split("\t")[0]
            current = re.sub(r"^user:", "", current).strip()
            if "?" not in current or len(current.split()) < MIN_WORDS:
                continue
            answers = ast.literal_eval(row["answers"])
            raw, start = answers["text"][0], answers["answer_start"][0]
            span = raw.strip()
            start += len(raw) - len(raw.lstrip())
            if not span or doc["text"][start : start + len(span)] != span:
                continue
            also = []
            if len(span) >= ALSO_IN_MIN_CHARS:
                also = [d["doc_id"] for d in docs if d["doc_id"] != doc["doc_id"] and span in d["text"]]
            out.append(
                {
                    "qid": f"d2d-{dial}_{turn}",
                    "question": current,
                    "doc_ids": [doc["doc_id"]],
                    "answerable": True,
                    "answer_span": span,
                    "answer_start": start,
                    "domain": doc["domain"],
                    "answer_span_also_in_doc_ids": also,
                }
            )
    return out


def main() -> None:
    csv_path = Path(sys.argv[1])
    rows = convert(csv_path, SHARED / "docs.jsonl")
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    print(f"{len(rows)} later turns kept; source sha256 {digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
