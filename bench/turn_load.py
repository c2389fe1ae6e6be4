"""Chat turns under concurrent load: throughput and latency of one web process.

Serves the app as bench/turn.py does (one gunicorn worker, four threads,
production settings) on the same database, and keeps N client threads
sending POST /api/v1/conversations/{id}/messages/ (each on a fresh
conversation) for a fixed time. The question-embedding cache is switched off
(EMBEDDING_QUERY_CACHE_SIZE=0), so every turn embeds its question, as a
stream of new questions would. Each setting of EMBEDDING_THREADS given gets
its own server start; the clients run on the same two cores as the server.

    .venv/bin/python bench/turn_load.py [--clients 1,4] [--embedding-threads 1,2] [--seconds 25]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-turn-pgdata"))

from bench import _common  # noqa: E402
from bench import turn as single  # noqa: E402


def load(base: str, questions: list[str], clients: int, seconds: float) -> tuple[float, list[tuple[str, float]]]:
    """Turns per second and (kind, ms) of every turn, with `clients` threads for `seconds`."""
    numbers = itertools.count()
    done: list[tuple[str, float]] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            i = next(numbers)
            result = single.turn(base, single.OPENINGS[i % len(single.OPENINGS)] + questions[i % len(questions)])
            with lock:
                done.append(result)

    start = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(done) / (time.perf_counter() - start), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--embedding-threads", default="1,2", help="comma-separated EMBEDDING_THREADS values")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--chunks", type=int, default=10_000)
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    db_url, _ = single.prepare_database(args.chunks)
    questions = single.demo_questions()
    rows = []
    for threads in args.embedding_threads.split(","):
        os.environ["EMBEDDING_THREADS"] = threads
        os.environ["EMBEDDING_QUERY_CACHE_SIZE"] = "0"
        server, base = single.start_server(ROOT, db_url)
        try:
            single.wait_until_up(base)
            for question in questions[:20]:
                single.turn(base, "Warm up: " + question)
            for n in clients:
                rate, done = load(base, questions, n, args.seconds)
                grounded = sorted(ms for kind, ms in done if kind == "grounded")
                every = sorted(ms for _, ms in done)
                kinds = Counter(kind for kind, _ in done)
                rows.append(
                    [
                        threads,
                        n,
                        f"{rate:.1f}",
                        f"{statistics.median(grounded):.1f} / {_common.percentile(grounded, 95):.1f}"
                        if grounded
                        else "none",
                        f"{statistics.median(every):.1f} / {_common.percentile(every, 95):.1f}",
                        ", ".join(f"{k} {v}" for k, v in kinds.most_common()),
                    ]
                )
        finally:
            single.stop(server)
    _common.print_context("turn_load.py", sys.argv[1:])
    print(
        _common.table(
            ["EMBEDDING_THREADS", "clients", "turns/s", "grounded p50 / p95 ms", "all p50 / p95 ms", "kinds"], rows
        )
    )
    _common.stop_server()


if __name__ == "__main__":
    main()
