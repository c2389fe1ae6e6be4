"""The public and team data the guard's learned scorers use beyond the benchmark's train part (issue #21),
and the one rule that splits it: a fifth of the rows, by a hash of each row's id, is the validation split.

Kept apart from `training` and `segment_training` so that both can read it without importing each other.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from guardrails import segments
from guardrails.dataset import Row, _shared_dir, read_rows

DATA_DIR = Path(__file__).with_name("data")
TENSOR_TRUST_FILE = DATA_DIR / "tensor_trust_attacks.jsonl"
# Commands to a voice assistant in 60+ languages (Home Assistant's intent tests, CC BY 4.0; see data/README.md).
HA_INTENTS_FILE = DATA_DIR / "ha_intents_sentences.jsonl"
SEEDS_DIR = Path(__file__).with_name("seeds")
PASTED_BENIGN_FILE = SEEDS_DIR / "team_pasted_benign.jsonl"
COMMANDS_BENIGN_FILE = SEEDS_DIR / "team_benign_commands.jsonl"
DEMO_KB = Path(__file__).resolve().parents[1] / "demo" / "kb"
READING_DIR = _shared_dir() / "benchmarks" / "reading"

# Rows longer than this are cut (a segment is at most segments.MAX_SEGMENT_CHARS; an attack's opening
# carries its intent).
ROW_CHARS = 600
VALIDATION_FOLD = 0
FOLDS = 5
# How many Wikipedia sentences and questions to draw (by hash, deterministic).
READING_SENTENCES = 4000
READING_QUESTIONS = 2000


def hash_of(key: str) -> int:
    """A stable 32-bit hash (not `hash()`, which changes between processes)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def is_validation(row: Row) -> bool:
    """Whether the row is in the validation split (fold 0 of 5 by its id): never fitted on."""
    return hash_of(row.source) % FOLDS == VALIDATION_FOLD


def reading_rows() -> Iterator[Row]:
    """Wikipedia sentences (document text, like pasted material) and questions (like requests put to an
    assistant) from SQuAD 2.0 dev and SelQA, a fixed draw of each by hash."""
    sentences: list[Row] = []
    questions: list[Row] = []
    squad = READING_DIR / "squad2_dev.jsonl.gz"
    selqa = READING_DIR / "selqa_ass.jsonl.gz"
    seen_contexts: set[str] = set()
    if squad.exists():
        with gzip.open(squad, "rt", encoding="utf-8") as handle:
            for line in handle:
                data = json.loads(line)
                questions.append(Row(data["question"], "benign", f"squad2:q:{data['id']}"))
                if data["context"] not in seen_contexts:
                    seen_contexts.add(data["context"])
                    for k, part in enumerate(segments.split_sentences(data["context"])):
                        sentences.append(Row(part, "benign", f"squad2:s:{data['id']}:{k}"))
    if selqa.exists():
        with gzip.open(selqa, "rt", encoding="utf-8") as handle:
            for line in handle:
                data = json.loads(line)
                questions.append(Row(data["question"], "benign", f"selqa:q:{data['id']}"))
                for k, part in enumerate(data["sentences"]):
                    sentences.append(Row(part, "benign", f"selqa:s:{data['id']}:{k}"))
    sentences.sort(key=lambda r: hash_of(r.source))
    questions.sort(key=lambda r: hash_of(r.source))
    yield from sentences[:READING_SENTENCES]
    yield from questions[:READING_QUESTIONS]


def demo_kb_rows() -> Iterator[Row]:
    """The demo help centre's sentences: the shop's own wording, which customers paste back."""
    for path in sorted(DEMO_KB.glob("*")):
        text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
        for number, line in enumerate(text.split("\n")):
            for k, part in enumerate(segments.split_sentences(line.strip(" #*-"))):
                if len(part) >= segments.MIN_SEGMENT_CHARS:
                    yield Row(part, "benign", f"demo-kb:{path.name}:{number}:{k}")


def ha_intents_rows() -> list[Row]:
    """Home Assistant's intent test sentences: short commands and questions to an assistant in 58 languages."""
    return list(read_rows(HA_INTENTS_FILE)) if HA_INTENTS_FILE.exists() else []


def message_training_rows() -> list[Row]:
    """What the message probe and the calibration (`manage.py train_guard`) learn from beyond the public
    benchmark's train part, each the fit split (never the validation split): the team's customer requests
    that use attack words, Wikipedia questions of SQuAD 2.0 dev / SelQA
    (ordinary questions put to an assistant, which the vector probe found "unusual" on its own) and commands
    to a voice assistant in 58 languages (the English-only embedding finds any other language "unusual")."""
    rows = list(read_rows(COMMANDS_BENIGN_FILE)) + [r for r in reading_rows() if ":q:" in r.source]
    rows += ha_intents_rows()
    return [Row(r.text[:ROW_CHARS], r.label, r.source) for r in rows if not is_validation(r)]
