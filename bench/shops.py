"""Answer quality on help centres of shops: each knowledge base on its own, as a new customer would load it.

For every shop (a folder with kb/ and questions.jsonl; the demo shop is demo/kb + demo/questions.jsonl)
the knowledge tables are emptied, the shop's articles ingested and verified through the normal ingestion
jobs, and every question goes through the real pipeline (support.evaluation.evaluate_row, the code
`manage.py evaluate` uses, judged by support.judge). The reader's threshold is lowered to 0 for the run
and applied afterwards, so one run gives the replies at the configured threshold and the
correct / wrong / escalated curve over other thresholds (the threshold only decides whether a turn
with a quote escalates, so the replies are the same either way).

The shops under bench/shops/ were written by the team as a development set (bench/shops/README.md);
the issue's own unseen shop is not among them.

Isolation: its own embedded PostgreSQL in var/bench-shops-pgdata. Per-row results go to
var/bench-shops/<shop>.json.

Run from the project root:
  .venv/bin/python bench/shops.py [--shop demo|NAME ...] [--thresholds 0,0.2,...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

PGDATA = _common.ROOT / "var" / "bench-shops-pgdata"
OUT = _common.ROOT / "var" / "bench-shops"
SHOPS = _common.ROOT / "bench" / "shops"


def shops_available(where: Path = SHOPS) -> dict[str, tuple[Path, Path]]:
    found = (
        {"demo": (_common.ROOT / "demo" / "kb", _common.ROOT / "demo" / "questions.jsonl")} if where == SHOPS else {}
    )
    if where.is_dir():
        for folder in sorted(p for p in where.iterdir() if (p / "kb").is_dir() and (p / "questions.jsonl").is_file()):
            found[folder.name] = (folder / "kb", folder / "questions.jsonl")
    return found


def load_kb(kb: Path) -> int:
    """Empty the knowledge tables and ingest one shop's articles, verified."""
    from django.db import connection

    from knowledge import services
    from knowledge.sources import read_path
    from support.pipeline import read

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(_common.KNOWLEDGE_TABLES) + " RESTART IDENTITY CASCADE")
    read._stats = None  # the term statistics are per knowledge generation; start from nothing
    jobs = services.jobs_create(files=read_path(kb), verify=True)
    for job in jobs:
        services.job_run(job_id=job.pk)
    return len(jobs)


def at(result: dict, threshold: float) -> str:
    """The verdict of a row (run at threshold 0) had the threshold been `threshold`."""
    p = result["p"]
    if result["answered"] and p is not None and p < threshold:
        return "escalated"
    return result["outcome"]


def curve(results: list[dict], thresholds: list[float]) -> str:
    rows = []
    for t in thresholds:
        answerable = [r for r in results if r["answerable"]]
        other = [r for r in results if not r["answerable"]]
        correct = sum(at(r, t) == "correct" for r in answerable)
        wrong_a = sum(at(r, t) == "wrong" for r in answerable)
        wrong_u = sum(at(r, t) == "wrong" for r in other)
        rows.append([f"{t:.3f}", f"{correct} of {len(answerable)}", wrong_a, f"{len(other) - wrong_u} of {len(other)}"])
    headers = ["threshold", "correct", "wrong (answerable)", "not answerable: escalated"]
    return _common.table(headers, rows)


def run_shop(name: str, kb: Path, questions: Path) -> list[dict]:
    from django.conf import settings

    from support import evaluation

    start = time.perf_counter()
    documents = load_kb(kb)
    print(f"{name}: {documents} documents ingested in {time.perf_counter() - start:.1f} s", flush=True)
    rows = evaluation.load_rows(questions)
    configured = settings.READER_MIN_ANSWERABLE
    settings.READER_MIN_ANSWERABLE = 0.0
    try:
        results = [evaluation.evaluate_row(row) for row in rows]
    finally:
        settings.READER_MIN_ANSWERABLE = configured
    return [
        {
            "question": r.row.question,
            "expected_kind": r.row.expected_kind,
            "expected_document": r.row.expected_document,
            "answerable": r.verdict.answerable,
            "answered": r.verdict.answered,
            "outcome": r.verdict.outcome,
            "why": r.verdict.why or r.reason,
            "kind": r.kind,
            "p": r.p_answerable,
            "text": r.text,
            "cited": r.cited_documents,
            "retrieved": r.retrieved_documents[:5],
            "ms": round(r.ms, 1),
        }
        for r in results
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop", action="append", help="a shop's name (default: every shop)")
    parser.add_argument("--thresholds", default="0,0.2,0.3,0.4,0.5")
    parser.add_argument(
        "--dir", type=Path, default=SHOPS, help="a folder of shops (default bench/shops/, plus the demo shop)"
    )
    parser.add_argument(
        "--pgdata", type=Path, default=PGDATA, help="the embedded database's folder (runs side by side)"
    )
    args = parser.parse_args()
    os.environ["EMBEDDED_PGDATA"] = str(args.pgdata)
    _common.setup_django()
    from support.pipeline import read

    available = shops_available(args.dir.resolve())
    names = args.shop or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        sys.exit(f"unknown shop(s) {', '.join(unknown)}; known: {', '.join(available)}")
    _common.print_context("shops.py", sys.argv[1:])
    configured = read.decisive_threshold()
    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | {round(configured, 3)})
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            results = run_shop(name, *available[name])
            (OUT / f"{name}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
            print(f"\n### {name} (configured threshold {configured:.3f})\n")
            print(curve(results, thresholds))
            print()
    finally:
        _common.stop_server()


if __name__ == "__main__":
    main()
