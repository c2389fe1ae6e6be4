"""The public injection benchmark and the one rule that splits it.

File: /work/shared/benchmarks/injection/injection_eval.jsonl (rows with
"text", "label" = injection|benign, "source" = "<dataset>:<split>:<row>").
Anything the guard learns (calibration weights, thresholds, public-train
patterns) comes from the *train* part only; the *test* part is read only by
`evaluate_guard --split test`.

Split rule (deterministic, by the "source" field):
- deepset/prompt-injections: its own "train" split → train, "test" → test;
- self-reminder: "apo_train" (the prompts the authors tuned on) → train,
  "test" and "itw" (in-the-wild) → test;
- banking77: sha256 of "banking77:test:<row>" — even first byte → train,
  odd → test (about half each, independent of the intent).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _shared_dir() -> Path:
    """The shared/ folder beside the checkout (as CI lays it out), else the workplace's copy."""
    candidates = [Path(os.environ["GROUNDWORK_SHARED_DIR"])] if os.environ.get("GROUNDWORK_SHARED_DIR") else []
    candidates += [Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")]
    return next((c for c in candidates if (c / "benchmarks").is_dir()), candidates[-1])


PUBLIC_FILE = _shared_dir() / "benchmarks" / "injection" / "injection_eval.jsonl"
TRAIN = "train"
TEST = "test"


@dataclass(frozen=True)
class Row:
    text: str
    label: str  # "injection" | "benign"
    source: str  # "" for files that are not the public benchmark
    family: str = ""  # attack family (or benign kind) when the file names one

    @property
    def is_injection(self) -> bool:
        return self.label == "injection"

    @property
    def dataset(self) -> str:
        return dataset_of(self.source)

    @property
    def split(self) -> str | None:
        return split_of(self.source)


def dataset_of(source: str) -> str:
    """Short dataset name: deepset, self-reminder, banking77 (or the prefix as given)."""
    prefix = source.split(":", 1)[0]
    if prefix.startswith("deepset"):
        return "deepset"
    if prefix.startswith("self-reminder"):
        return "self-reminder"
    if prefix.startswith("banking77"):
        return "banking77"
    return prefix or "file"


def split_of(source: str) -> str | None:
    """train / test for a public-benchmark row, None for a row from any other file."""
    parts = source.split(":")
    if len(parts) < 2:
        return None
    prefix, part = parts[0], parts[1]
    if prefix == "deepset/prompt-injections":
        return TRAIN if part == "train" else TEST if part == "test" else None
    if prefix == "self-reminder/apo_train":
        return TRAIN
    if prefix in ("self-reminder/test", "self-reminder/itw"):
        return TEST
    if prefix == "banking77" and len(parts) >= 3:
        key = ":".join(parts[:3]).encode()
        return TRAIN if hashlib.sha256(key).digest()[0] % 2 == 0 else TEST
    return None


def read_rows(path: Path | str, *, default_label: str | None = None) -> Iterator[Row]:
    """Rows of a JSONL file. The text is "text" or "question"; the label is "label",
    else `default_label` (the demo question set has none: it is all benign); "family", when present,
    names the attack family (or benign kind) the report groups by."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            data = json.loads(line)
            text = data.get("text", data.get("question"))
            label = data.get("label", default_label)
            if not isinstance(text, str) or label not in ("injection", "benign"):
                raise ValueError(f"{path}:{number}: needs a text (or question) and a label injection|benign")
            yield Row(text=text, label=label, source=str(data.get("source", "")), family=str(data.get("family", "")))


def public_rows(split: str = "all", path: Path | str = PUBLIC_FILE) -> list[Row]:
    """The public benchmark, optionally only its train or test part."""
    rows = list(read_rows(path))
    if split == "all":
        return rows
    return [r for r in rows if r.split == split]
