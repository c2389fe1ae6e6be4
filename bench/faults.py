"""Load and faults, bounded: N customers chat for T seconds while the LLM misbehaves.

Serves the app as `make run` does (gunicorn, one worker, four threads, production settings)
on its own embedded database holding the demo help centre, on loopback only. Each customer
opens a conversation, sends its five turns (the turn limit) one after another, or until it is
handed to a person, and opens the next, until the time is up. Beside them a prober asks /healthz twice a second. With
`--llm hang` the model is a local server that accepts every call and never answers; with
`--llm error` it answers every call with a 500; with `--llm none` no model is configured (the
extractive composer). Reports requests, 5xx, latency (p50, p95, max) against the turn's
deadline, and whether /healthz answered throughout.

    .venv/bin/python bench/faults.py [--customers 10] [--seconds 30] [--llm hang] [--deadline 8] [--answer-all]

Uses var/bench-faults-pgdata (created and filled on first use).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-faults-pgdata"))

from bench import _common  # noqa: E402
from bench import turn as single  # noqa: E402

TURNS_PER_CONVERSATION = 5
HEADERS = ["requests", "5xx", "no answer", "p50 ms", "p95 ms", "max ms", "max / deadline", "healthz ok", "healthz max"]


class LLMStub:
    """A local OpenAI-compatible endpoint that hangs (accepts, never answers) or fails (500)."""

    def __init__(self, mode: str) -> None:
        self.calls = 0
        self.released = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.calls += 1
                if mode == "hang":
                    stub.released.wait()  # until the benchmark ends: the client's timeout is what counts
                    return
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def call(url: str, body: dict | None = None, token: str | None = None, timeout: float = 60) -> tuple[int, dict, float]:
    """Status (0 when no answer came), JSON body and milliseconds of one request."""
    headers = dict(single.HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET", headers=headers)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError:
        status, raw = 0, b""
    ms = (time.perf_counter() - start) * 1000
    try:
        return status, json.loads(raw or b"{}"), ms
    except ValueError:
        return status, {}, ms


def customers(base: str, questions: list[str], count: int, seconds: float) -> list[tuple[int, str, float]]:
    """(status, reply kind, ms) of every message `count` customers send in `seconds`."""
    numbers = itertools.count()
    done: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def customer() -> None:
        while time.perf_counter() < deadline:
            status, created, ms = call(f"{base}/api/v1/conversations/", {})
            if status != 201:
                with lock:
                    done.append((status, "conversation not created", ms))
                time.sleep(0.5)
                continue
            url = f"{base}/api/v1/conversations/{created['id']}/messages/"
            for _ in range(TURNS_PER_CONVERSATION):
                if time.perf_counter() >= deadline:
                    break
                i = next(numbers)
                text = single.OPENINGS[i % len(single.OPENINGS)] + questions[i % len(questions)]
                status, reply, ms = call(url, {"text": text}, created["token"])
                kind = (reply.get("reply") or {}).get("kind", "none") if status == 200 else ""
                with lock:
                    done.append((status, kind, ms))
                if status != 200 or reply["conversation"]["status"] != "open":
                    break  # handed to a person (or refused): a customer would not keep typing to the bot

    threads = [threading.Thread(target=customer) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done


def prober(base: str, stop: threading.Event, every: float = 0.5) -> list[tuple[float, int, float]]:
    """(when, status, ms) of /healthz asked every `every` seconds until `stop`."""
    seen: list[tuple[float, int, float]] = []

    def run() -> None:
        while not stop.is_set():
            status, _, ms = call(f"{base}/healthz", timeout=30)
            seen.append((time.perf_counter(), status, ms))
            stop.wait(every)

    threading.Thread(target=run, daemon=True).start()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--llm", choices=("none", "hang", "error"), default="hang")
    parser.add_argument("--deadline", type=float, default=8.0, help="CHAT_TURN_DEADLINE_SECONDS of the server")
    parser.add_argument(
        "--answer-all",
        action="store_true",
        help="READER_MIN_ANSWERABLE=0: every turn with candidates reaches the composer (and the model), "
        "where the reader alone answers few demo questions (docs/quality.md)",
    )
    args = parser.parse_args()

    _common.setup_django()
    from django.core.management import call_command
    from django.db import connection

    from demo.loader import demo_kb_load

    demo_kb_load()
    call_command("createcachetable", verbosity=0)
    from django.core.cache import cache

    cache.clear()  # the breaker's state (and counters) of an earlier run would decide this one's first turns
    connection.close()
    from django.conf import settings

    stub = LLMStub(args.llm) if args.llm != "none" else None
    os.environ["CHAT_TURN_DEADLINE_SECONDS"] = str(args.deadline)
    if args.answer_all:
        os.environ["READER_MIN_ANSWERABLE"] = "0"
    for name in ("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "REDIS_URL"):
        os.environ.pop(name, None)
    if stub is not None:
        os.environ.update({"LLM_BASE_URL": stub.url, "LLM_MODEL": "stub", "LLM_API_KEY": "stub"})
    server, base = single.start_server(ROOT, settings.DATABASE_URL)
    try:
        single.wait_until_up(base)
        for question in single.demo_questions()[:5]:
            call(f"{base}/healthz", timeout=30)
            single.turn(base, "Warm up: " + question)
        stop = threading.Event()
        health = prober(base, stop)
        started = time.perf_counter()
        done = customers(base, single.demo_questions(), args.customers, args.seconds)
        elapsed = time.perf_counter() - started
        stop.set()
        time.sleep(0.6)
    finally:
        single.stop(server)
        if stub is not None:
            stub.close()

    _common.print_context("faults.py", sys.argv[1:])
    statuses = Counter(status for status, _, _ in done)
    kinds = Counter(kind for _, kind, _ in done if kind)
    latencies = [ms for _, _, ms in done]
    health_ok = [ms for _, status, ms in health if status == 200]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(health)]
    print(f"customers={args.customers} seconds={elapsed:.1f} llm={args.llm} deadline={args.deadline} s", end="")
    print(" answer-all" if args.answer_all else "")
    if stub is not None:
        print(f"LLM stub calls: {stub.calls}")
    print(f"statuses: {dict(sorted(statuses.items()))}  reply kinds: {dict(kinds.most_common())}")
    print(
        _common.table(
            HEADERS,
            [
                [
                    len(done),
                    sum(n for status, n in statuses.items() if status >= 500),
                    statuses.get(0, 0),
                    f"{_common.percentile(latencies, 50):.0f}",
                    f"{_common.percentile(latencies, 95):.0f}",
                    f"{max(latencies):.0f}",
                    f"{max(latencies) / 1000 / args.deadline:.2f}",
                    f"{len(health_ok)}/{len(health)}",
                    f"{max(ms for _, _, ms in health):.0f} (longest gap between answers {max(gaps, default=0):.1f} s)",
                ]
            ],
        )
    )
    _common.stop_server()


if __name__ == "__main__":
    main()
