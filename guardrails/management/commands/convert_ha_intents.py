"""Convert the test sentences of Home Assistant's `intents` repository into benign guard training rows."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from guardrails.extra_data import HA_INTENTS_FILE, hash_of

# Template expansion makes many near-copies of one command: a few per test file and language are enough.
PER_FILE = 3
PER_LANGUAGE = 60
MAX_CHARS = 200


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


class Command(BaseCommand):
    help = (
        "Read tests/<language>/*.yaml of a git checkout of home-assistant/intents (CC BY 4.0) at HEAD and write "
        f"{HA_INTENTS_FILE.name}: per language at most {PER_LANGUAGE} distinct sentences, {PER_FILE} per file, "
        "drawn by hash (deterministic)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("repo", type=Path, help="a git directory of home-assistant/intents")

    def handle(self, *args, repo: Path, **options) -> None:
        try:
            commit = _git(repo, "rev-parse", "HEAD").strip()
            paths = _git(repo, "ls-tree", "-r", "--name-only", "HEAD", "tests/").split("\n")
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            raise CommandError(f"{repo} is not a git checkout of home-assistant/intents: {exc}") from None
        by_language: dict[str, list[dict]] = {}
        for path in sorted(p for p in paths if p.endswith(".yaml") and p.count("/") == 2):
            _, language, name = path.split("/")
            if name.startswith("_"):  # fixtures and known failures
                continue
            data = yaml.safe_load(_git(repo, "show", f"HEAD:{path}")) or {}
            sentences: list[str] = []
            for test in data.get("tests") or []:
                for sentence in test.get("sentences") or []:
                    if isinstance(sentence, str) and 3 <= len(sentence.strip()) <= MAX_CHARS:
                        sentences.append(sentence.strip())
            unique = sorted(dict.fromkeys(sentences), key=lambda s: hash_of(f"{path}:{s}"))
            for sentence in unique[:PER_FILE]:
                source = f"ha-intents:{language}:{name.removesuffix('.yaml')}:{hash_of(sentence):08x}"
                by_language.setdefault(language, []).append({"text": sentence, "label": "benign", "source": source})
        rows = []
        for _language, items in sorted(by_language.items()):
            rows += sorted(items, key=lambda r: hash_of(r["source"]))[:PER_LANGUAGE]
        with HA_INTENTS_FILE.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.stdout.write(f"{len(rows)} sentences in {len(by_language)} languages from commit {commit}")
