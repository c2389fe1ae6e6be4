"""Where one chat turn's time goes, in-process: stage times and the SQL it runs.

Runs the demo questions (three openings each, so the question-embedding cache
does not flatter the figures) through POST /api/v1/conversations/{id}/messages/
with Django's test client, in this process, against bench/turn.py's database
(var/bench-turn-pgdata: build it as that script says). Reports the test
client's p50 per reply kind, the median of each pipeline stage
(`Message.stage_ms`), and the SQL per turn grouped by statement. Each turn
comes from its own address, so the rate limits never answer instead.

    .venv/bin/python bench/turn_stages.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-turn-pgdata"))

from bench import _common  # noqa: E402

OPENINGS = ["", "Hello! ", "Quick question: "]


def main() -> None:
    _common.setup_django()
    from django.db import connection
    from django.test import Client, override_settings
    from django.utils import timezone

    from core import embeddings
    from guardrails import decoding
    from support.models import Message

    embeddings.warm()
    decoding.warm()
    questions = [json.loads(line)["question"] for line in (ROOT / "demo" / "questions.jsonl").read_text().splitlines()]
    client = Client()
    addresses = iter(f"10.{a}.{b}.{c}" for a in range(1, 250) for b in range(250) for c in range(1, 250))

    def turn(text: str) -> tuple[str, float]:
        created = client.post("/api/v1/conversations/", REMOTE_ADDR=next(addresses)).json()
        start = time.perf_counter()
        response = client.post(
            f"/api/v1/conversations/{created['id']}/messages/",
            {"text": text},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {created['token']}",
            REMOTE_ADDR=next(addresses),
        )
        ms = (time.perf_counter() - start) * 1000
        reply = response.json().get("reply") or {}
        return reply.get("kind", f"http {response.status_code}"), ms

    sql: dict[str, list[float]] = {}

    def timed(execute, statement, params, many, context):
        start = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql.setdefault(" ".join(statement.split())[:80], []).append((time.perf_counter() - start) * 1000)

    with override_settings(ALLOWED_HOSTS=["*"]):
        for question in questions[:10]:
            turn("Warm-up: " + question)
        began = timezone.now()
        times: dict[str, list[float]] = {}
        with connection.execute_wrapper(timed):
            for opening in OPENINGS:
                for question in questions:
                    kind, ms = turn(opening + question)
                    times.setdefault(kind, []).append(ms)
    turns = sum(len(v) for v in times.values())
    stages: dict[str, list[float]] = {}
    for stage_ms in Message.objects.filter(role="bot", created_at__gte=began).values_list("stage_ms", flat=True):
        for name, value in (stage_ms or {}).items():
            stages.setdefault(name, []).append(value)

    facts = _common.machine()
    print(f"command: .venv/bin/python bench/turn_stages.py {' '.join(sys.argv[1:])}".rstrip())
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    print(f"{turns} turns (one new conversation each; its creation is not timed but its SQL is counted)")
    print(
        _common.table(
            ["reply kind", "n", "test-client p50 ms"],
            [[k, len(v), f"{statistics.median(v):.1f}"] for k, v in times.items()],
        )
    )
    print()
    print(_common.table(["stage", "median ms"], [[k, f"{statistics.median(v):.2f}"] for k, v in stages.items()]))
    print()
    total = sum(sum(v) for v in sql.values())
    rows = [
        [f"{sum(v) / turns:.2f}", len(v), f"{statistics.median(v):.2f}", statement.replace("|", "/")]
        for statement, v in sorted(sql.items(), key=lambda item: -sum(item[1]))[:15]
    ]
    print(f"SQL per turn: {total / turns:.2f} ms in {sum(len(v) for v in sql.values()) / turns:.1f} statements")
    print(_common.table(["ms per turn", "n", "median ms", "statement"], rows))
    _common.stop_server()


if __name__ == "__main__":
    main()
