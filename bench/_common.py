"""Shared plumbing for the benchmark scripts: an isolated database, machine facts, data loading.

Every benchmark runs against its own embedded PostgreSQL data directory
(var/bench-pgdata by default), never the developer's var/pgdata nor a
DATABASE_URL: `setup_django` refuses to start otherwise.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SHARED = next(
    (p for p in (ROOT.parent / "shared", Path("/work/shared")) if (p / "benchmarks").is_dir()), Path("/work/shared")
)
DATA_DIR = _SHARED / "benchmarks" / "support_qa"
DATASETS = ("conditionalqa", "doc2dial")
# FINDINGS.md's table: (set, chunk text) -> mode -> (hit@1, hit@5) in %.
FINDINGS_BASELINES = {
    ("conditionalqa", "body only"): {"vector": (93, 100), "text": (87, 99), "hybrid": (96, 100)},
    ("conditionalqa", "heading path + body"): {"vector": (95, 100), "text": (90, 99), "hybrid": (98, 100)},
    ("conditionalqa-question-only", "body only"): {"vector": (71, 89), "text": (75, 88), "hybrid": (76, 91)},
    ("doc2dial", "body only"): {"vector": (50, 78), "text": (44, 70), "hybrid": (52, 80)},
    ("doc2dial", "heading path + body"): {"vector": (63, 84), "text": (62, 83), "hybrid": (68, 87)},
}
KNOWLEDGE_TABLES = (
    "knowledge_chunkterm",
    "knowledge_chunk",
    "knowledge_documentversion",
    "knowledge_document",
    "knowledge_ingestionjob",
)


def setup_django() -> None:
    """Point Django at the benchmark database, start it, migrate it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-pgdata"))
    if os.environ.get("DATABASE_URL", "").strip():
        sys.exit("refusing to run: DATABASE_URL is set; benchmarks only use their own embedded database")
    dev_pgdata = (Path(os.environ.get("GROUNDWORK_VAR_DIR", "").strip() or ROOT / "var") / "pgdata").resolve()
    if Path(os.environ["EMBEDDED_PGDATA"]).expanduser().resolve() == dev_pgdata:
        sys.exit(f"refusing to run: EMBEDDED_PGDATA points at the developer's database {dev_pgdata}")

    import django
    from django.conf import settings

    django.setup()
    # DEBUG=1 only spares us a SECRET_KEY; keep Django from logging every
    # query (and formatting every 384-float parameter) as production would.
    settings.DEBUG = False

    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def stop_server() -> None:
    from django.conf import settings
    from django.db import connections

    from config import embedded_db

    connections.close_all()
    embedded_db.stop(Path(settings.EMBEDDED_PGDATA))


def machine() -> dict[str, str]:
    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    model = next((line.split(":", 1)[1].strip() for line in run(["lscpu"]).splitlines() if "Model name" in line), "?")
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": run(["nproc"]),
        "cpu": model,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def postgres_facts() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
        cursor.execute("SHOW hnsw.ef_search")
        ef = cursor.fetchone()[0]
    return {"postgres": version, "pgvector": row[0] if row else "?", "shared_buffers": buffers, "ef_search": ef}


def load_docs(limit: int | None = None) -> list[dict]:
    docs: list[dict] = []
    for name in DATASETS:
        with (DATA_DIR / name / "docs.jsonl").open(encoding="utf-8") as fh:
            docs.extend(json.loads(line) for line in fh if line.strip())
    return docs[:limit] if limit else docs


def load_questions() -> list[str]:
    questions: list[str] = []
    for name in DATASETS:
        with (DATA_DIR / name / "questions.jsonl").open(encoding="utf-8") as fh:
            questions.extend(json.loads(line)["question"] for line in fh if line.strip())
    return questions


def source_key(doc: dict) -> str:
    """A set's document as the file a customer would upload: Markdown when its text
    has Markdown headings (ConditionalQA), plain text otherwise (doc2dial's own
    extraction, where a section heading is a short line above its paragraph)."""
    return f"{doc['doc_id']}.md" if doc["text"].lstrip().startswith("#") else f"{doc['doc_id']}.txt"


def as_file(doc: dict) -> bytes:
    """The file's bytes, with the title first so that parsing picks it up."""
    if source_key(doc).endswith(".md"):
        return f"# {doc['title']}\n\n{doc['text']}".encode()
    return f"{doc['title']}\n\n{doc['text'].strip()}".encode()


def ingest_docs(docs: list[dict]) -> tuple[list[int], list[str]]:
    """Ingest documents through the real path, verified; returns version ids and failures."""
    from knowledge import services

    version_ids: list[int] = []
    failed: list[str] = []
    for doc in docs:
        try:
            version, _ = services.version_ingest(source_key=source_key(doc), data=as_file(doc), verify=True)
        except services.ParseError as exc:
            failed.append(f"{doc['doc_id']}: {exc}")
            continue
        version_ids.append(version.pk)
    return version_ids, failed


def truncate_knowledge() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(KNOWLEDGE_TABLES)} RESTART IDENTITY CASCADE")


HIT_K = 5
# Document hit@5 reads the first HIT_K distinct documents of the top DOC_DEPTH chunks (SEARCH_MAX_K).
DOC_DEPTH = 20


def document_hits(ranked: list[str], gold: set[str]) -> dict[str, bool]:
    """One query's hits, given the document of each ranked chunk, best first: "@1" the top chunk's
    document is gold, "@5" a gold document is among the top-5 chunks', "@5d" among the first five
    distinct documents of the top DOC_DEPTH chunks."""
    documents = list(dict.fromkeys(ranked[:DOC_DEPTH]))
    return {
        "@1": bool(ranked) and ranked[0] in gold,
        "@5": any(d in gold for d in ranked[:HIT_K]),
        "@5d": any(d in gold for d in documents[:HIT_K]),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def print_context(script: str, argv: list[str]) -> None:
    facts = machine() | postgres_facts()
    print(f"command: .venv/bin/python bench/{script} {' '.join(argv)}".rstrip())
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
