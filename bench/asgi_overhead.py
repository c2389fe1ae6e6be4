"""What serving pages through the ASGI app costs: the same requests against gunicorn's threads on
config.wsgi (as `make run` served until live events) and against gunicorn with uvicorn workers on
config.asgi (pages through a2wsgi's thread pool, as `make run` serves now), both running at once on one
database, requests alternating between them so load on the machine hits both alike.

Timed from the client (loopback), one at a time: GET /healthz, GET /chat/ (a session, a template),
and a chat turn through the API (POST a conversation, then a message, timing the message; the bench
database holds no knowledge base, so the turn runs the guard and escalates).

    .venv/bin/python bench/asgi_overhead.py [--rounds 200]

Uses var/bench-live-pgdata, as bench/live_latency.py does."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-live-pgdata"))

from bench import _common  # noqa: E402


def start(argv: list[str], db_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-asgi-not-a-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "TRUST_X_FORWARDED_PROTO": "1",
        "EMBEDDING_WARM_AT_START": "1",
        "CHAT_RATE_LIMIT_PER_IP": "1000000",
        "CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP": "1000000",
        "CHAT_DAILY_TOKEN_BUDGET": str(10**12),
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


HEADERS = {"X-Forwarded-Proto": "https"}


def timed(request: urllib.request.Request) -> tuple[bytes, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return body, (time.perf_counter() - started) * 1000


def get(base: str, path: str) -> float:
    return timed(urllib.request.Request(f"{base}{path}", headers=HEADERS))[1]


def api_turn(base: str, i: int) -> float:
    headers = {**HEADERS, "Content-Type": "application/json"}
    body, _ = timed(urllib.request.Request(f"{base}/api/v1/conversations/", b"{}", headers, method="POST"))
    created = json.loads(body)
    headers["Authorization"] = f"Bearer {created['token']}"
    text = json.dumps({"text": f"Question number {i} about my bike?"}).encode()
    url = f"{base}/api/v1/conversations/{created['id']}/messages/"
    return timed(urllib.request.Request(url, text, headers, method="POST"))[1]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(values):6.1f} ms  p95 {p95:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    _common.setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from config.management.commands.serve import web_argv

    call_command("collectstatic", interactive=False, verbosity=0)
    bin_dir = Path(sys.executable).parent
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    wsgi = [str(bin_dir / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{ports[0]}"]
    wsgi += ["--workers", "1", "--threads", "4", "--log-level", "warning"]
    asgi = web_argv(bin_dir, bind=f"127.0.0.1:{ports[1]}", workers=1)
    asgi[asgi.index("--access-logfile") + 1] = "/dev/null"
    url = settings.DATABASE_URL
    servers = {"wsgi (gthread)": start(wsgi, url), "asgi (uvicorn)": start(asgi, url)}
    bases = {name: f"http://127.0.0.1:{port}" for name, port in zip(servers, ports, strict=True)}
    try:
        for base in bases.values():
            for _ in range(240):
                try:
                    get(base, "/healthz")
                    break
                except OSError:
                    time.sleep(0.5)
            for i in range(5):  # warm both: the model, the templates, the connections
                api_turn(base, i)
                get(base, "/chat/")
        results: dict[tuple[str, str], list[float]] = {}
        for i in range(args.rounds):
            for name, base in bases.items():
                results.setdefault((name, "GET /healthz"), []).append(get(base, "/healthz"))
                results.setdefault((name, "GET /chat/"), []).append(get(base, "/chat/"))
                if i % 4 == 0:
                    results.setdefault((name, "API turn (message)"), []).append(api_turn(base, i))
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"machine: {_common.machine()}")
    for (name, what), values in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{what:20s} {name:15s} {summary(values)}  (n={len(values)})")


if __name__ == "__main__":
    main()
