"""One chat turn through the HTTP API on a warm server, and the web process's memory.

Serves the app with gunicorn as `make run` does (one worker, four threads,
model loaded at start), with production settings (DEBUG off), against an
isolated database holding the demo help centre, the public gov.uk /
US-government pages (real embeddings) and, to reach the
target size, jittered copies of those real chunks (cosine ~0.9 to their source,
same text). Each timed request is POST /api/v1/conversations/{id}/messages/
on a fresh conversation, measured from the client (loopback). Questions are
the demo set with varied openings, so the question-embedding cache does not
flatter the figures; the approved path is timed separately.

    .venv/bin/python bench/turn.py [--chunks 10000] [--rounds 3]

Uses var/bench-turn-pgdata; build it once from the public-QA bench database:
    cp -a var/bench-qa-pgdata var/bench-turn-pgdata   (with no server running on it)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-turn-pgdata"))

from bench import _common  # noqa: E402

OPENINGS = ["", "Hello! ", "Quick question: "]
APPROVED_Q = "Can you fit a child seat on my bike?"
# The TLS proxy in front of a deployment says the request came over HTTPS.
HEADERS = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}


def prepare(target: int) -> None:
    import numpy as np

    from demo.loader import DEMO_KB
    from knowledge import services
    from knowledge.models import Chunk, Document, DocumentVersion, KnowledgeState
    from knowledge.sources import read_path

    for doc in Document.objects.exclude(status="verified"):
        services.document_restore(document=doc)
    if not Document.objects.filter(source_key="returns-and-refunds.md").exists():
        for job in services.jobs_create(files=read_path(DEMO_KB), verify=True):
            services.job_run(job_id=job.pk)
    have = Chunk.objects.filter(searchable=True).count()
    if have < target:
        rng = np.random.default_rng(5)
        real = list(
            Chunk.objects.filter(searchable=True)
            .exclude(version__document__source_key__startswith="filler-")
            .values_list("heading_path", "text", "embedding", "token_count")
        )
        need, batch = target - have, 0
        while need > 0:
            doc = Document.objects.create(title=f"Filler {batch}", source_key=f"filler-{batch}.md", status="verified")
            version = DocumentVersion.objects.create(
                document=doc,
                number=1,
                content_hash=f"filler{batch}",
                title=doc.title,
                source_format="markdown",
                text="filler",
                is_current=True,
                verified_at="2026-01-01T00:00Z",
            )
            rows = []
            for ordinal in range(min(1000, need)):
                heading, text, emb, tokens = real[rng.integers(len(real))]
                v = np.asarray(emb, dtype=np.float32) + rng.normal(0, 0.025, 384).astype(np.float32)
                rows.append(
                    Chunk(
                        version=version,
                        ordinal=ordinal,
                        heading_path=heading,
                        text=text,
                        token_count=tokens,
                        embedding=v / np.linalg.norm(v),
                        searchable=True,
                    )
                )
            Chunk.objects.bulk_create(rows)
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE knowledge_chunk SET search_vector = setweight(to_tsvector('english', heading_path), 'A')"
                    " || setweight(to_tsvector('english', text), 'B') WHERE version_id = %s",
                    [version.pk],
                )
            need -= len(rows)
            batch += 1
        KnowledgeState.bump()
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE knowledge_chunk")
    from django.db import connection

    with connection.cursor() as cursor:
        # The steady state autovacuum brings after an ingestion (thresholds lowered in migration
        # knowledge 0002): the BM25 postings' visibility map set, so ranking is index-only.
        cursor.execute("VACUUM ANALYZE knowledge_chunkterm")
    from knowledge.models import ApprovedAnswerVersion

    if not ApprovedAnswerVersion.objects.filter(status="approved").exists():
        version = services.approved_version_create(
            title="Child seats", text="Our workshops fit child seats for €25.", variants=[APPROVED_Q]
        )
        services.approved_version_approve(version=version)


def post(url: str, body: dict | None, token: str | None = None) -> tuple[dict, float]:
    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers=HEADERS)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    return payload, (time.perf_counter() - start) * 1000


def turn(base: str, text: str) -> tuple[str, float]:
    created, _ = post(f"{base}/api/v1/conversations/", None)
    reply, ms = post(f"{base}/api/v1/conversations/{created['id']}/messages/", {"text": text}, created["token"])
    return reply["reply"]["kind"] if reply["reply"] else "none", ms


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def prepare_database(chunks: int) -> tuple[str, int]:
    """Start and fill the benchmark database; its URL for the servers and its searchable chunk count."""
    _common.setup_django()
    from django.conf import settings
    from django.db import connection

    from knowledge.models import Chunk

    prepare(chunks)
    searchable = Chunk.objects.filter(searchable=True).count()
    connection.close()
    return settings.DATABASE_URL, searchable


def start_server(tree: Path, db_url: str) -> tuple[subprocess.Popen, str]:
    """gunicorn serving `tree`'s code as `make run` does (one worker, four threads), with
    production settings as a deployment runs them behind its TLS proxy: DEBUG on would log
    every query and format its parameters (the 384-float vector among them)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DEBUG": os.environ.get("BENCH_SERVER_DEBUG", "0"),
        "SECRET_KEY": "bench-turn-not-a-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "TRUST_X_FORWARDED_PROTO": "1",
        "EMBEDDING_WARM_AT_START": "1",
        "CHAT_RATE_LIMIT_PER_IP": "1000000",
        "CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP": "1000000",
        # Every run adds its tokens to today's row in this database: a day of benchmarking would
        # spend the default budget and turn every answer into an escalation.
        "CHAT_DAILY_TOKEN_BUDGET": str(10**12),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return server, f"http://127.0.0.1:{port}"


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def wait_until_up(base: str) -> None:
    for _ in range(240):
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/healthz", headers=HEADERS), timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{base} did not come up in 2 minutes")


def demo_questions() -> list[str]:
    lines = (ROOT / "demo" / "questions.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    db_url, searchable = prepare_database(args.chunks)
    server, base = start_server(ROOT, db_url)
    try:
        wait_until_up(base)
        questions = demo_questions()
        for q in questions[:20]:  # warm-up: JIT paths, connections, caches
            turn(base, "Warm up: " + q)
        by_kind: dict[str, list[float]] = {}
        for r in range(args.rounds):
            for q in questions:
                kind, ms = turn(base, OPENINGS[r % len(OPENINGS)] + q)
                by_kind.setdefault(kind, []).append(ms)
        approved = [turn(base, APPROVED_Q)[1] for _ in range(50)]
        worker = int(subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()[0])
        rss = rss_mb(worker)
    finally:
        stop(server)
    _common.print_context("turn.py", sys.argv[1:])
    print(f"searchable chunks: {searchable}")
    all_ms = [ms for values in by_kind.values() for ms in values]
    rows = [
        [
            "all demo questions (mixed kinds)",
            len(all_ms),
            f"{_common.median(all_ms):.1f}",
            f"{_common.percentile(all_ms, 95):.1f}",
        ]
    ]
    for kind, values in sorted(by_kind.items()):
        rows.append(
            [f"  kind {kind}", len(values), f"{_common.median(values):.1f}", f"{_common.percentile(values, 95):.1f}"]
        )
    rows.append(
        [
            "approved-answer path (repeated question)",
            len(approved),
            f"{_common.median(approved):.1f}",
            f"{_common.percentile(approved, 95):.1f}",
        ]
    )
    print(_common.table(["turn (POST message, loopback)", "n", "p50 ms", "p95 ms"], rows))
    print(f"web worker RSS after the run: {rss:.0f} MB")
    _common.stop_server()


if __name__ == "__main__":
    main()
