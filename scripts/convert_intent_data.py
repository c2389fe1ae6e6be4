"""Convert the public intent sets the trigger projection learns from (flows/data/README.md).

    python scripts/convert_intent_data.py CLINC_GIT_DIR HWU_GIT_DIR

Reads the files from the git objects at the commits the README names and writes
flows/data/clinc150.jsonl ({"text", "intent", "split", "domain"}) and flows/data/hwu64.jsonl
({"text", "intent", "split"}).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

CLINC_COMMIT = "828f8093932c8fe6ca7936c3d2e52903b1c523de"
HWU_COMMIT = "f6071b496b17d71e6eb43f543af0707f4ff30557"
HWU_FOLDS = "CrossValidation/autoGeneFromRealAnno/autoGene_2018_03_22-13_01_25_169/CrossValidation"
OUT = Path(__file__).resolve().parent.parent / "flows" / "data"


def _show(git_dir: str, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def _write(name: str, rows: list[dict]) -> None:
    with (OUT / name).open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(name, len(rows), "rows", len({r["intent"] for r in rows}), "intents")


def clinc(git_dir: str) -> None:
    data = json.loads(_show(git_dir, CLINC_COMMIT, "data/data_full.json"))
    domains = json.loads(_show(git_dir, CLINC_COMMIT, "data/domains.json"))
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}
    rows = []
    for split in ("train", "val", "test", "oos_train", "oos_val", "oos_test"):
        for text, intent in data[split]:
            domain = domain_of.get(intent, "oos")
            rows.append({"text": text, "intent": intent, "split": split.removeprefix("oos_"), "domain": domain})
    _write("clinc150.jsonl", rows)


def hwu(git_dir: str) -> None:
    # The ten folds' test sets partition the annotated data: their union is HWU64.
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "--name-only", HWU_COMMIT, HWU_FOLDS],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    seen: dict[str, dict] = {}
    for path in sorted(p for p in listing if "/testset/csv/" in p and p.endswith(".csv")):
        fold = path.split("/")[4]  # KFold_n
        reader = csv.DictReader(io.StringIO(_show(git_dir, HWU_COMMIT, path)), delimiter=";")
        for r in reader:
            text = " ".join((r["answer_from_anno"] or "").split())
            if not text:
                continue
            seen.setdefault(
                r["answerid"], {"text": text, "intent": f"{r['scenario']}_{r['intent']}", "split": fold.lower()}
            )
    _write("hwu64.jsonl", sorted(seen.values(), key=lambda r: (r["intent"], r["split"], r["text"])))


if __name__ == "__main__":
    clinc(sys.argv[1])
    hwu(sys.argv[2])
