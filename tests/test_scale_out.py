"""Scale-out, proved with real processes: two gunicorn web processes on different ports, two
Celery workers and celery beat, on one PostgreSQL server (this test's database) and one Redis
(a dedicated database number, flushed before and after). Traffic alternates between the two
web processes. What must hold across processes, not just across threads of one:

(a) the per-address rate limit is one allowance, whichever process a message reaches;
(b) the LLM circuit breaker tripped through one process keeps the other off the model at once;
(c) a folder ingested through both workers, twice, with every task delivered twice, makes
    every document exactly once;
(d) killing one web process mid-traffic loses no acknowledged message.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings

from demo.loader import DEMO_KB
from knowledge import services
from knowledge.models import Document, IngestionJob
from knowledge.sources import read_path
from support.models import Message
from tests.processes import database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.redis, pytest.mark.slow]

# Its own Redis database: the other Redis tests use 15, and this one flushes what it uses.
REDIS_DB = 12
RATE_LIMIT_PER_IP = 6
QUESTION = "how much do you charge to pick up a normal (non electric) bike i want to return"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FailingLLM:
    """An OpenAI-compatible endpoint that answers every call with a 500 and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.calls += 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Cluster:
    """The processes of a scaled-out deployment, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], **env: str) -> None:
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=(self.logs / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def web(self, name: str, port: int, **env: str) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        argv = [gunicorn, "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        self.start(name, [*argv, "--threads", "4", "--timeout", "60", "--log-level", "warning"], **env)

    def celery(self, name: str, *args: str) -> None:
        self.start(name, [str(Path(sys.executable).parent / "celery"), "-A", "config", *args])

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def wait_for(self, what: str, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            for name, process in self.processes.items():
                if process.poll() is not None and not name.endswith("-killed"):
                    tail = self.log(name)[-3000:]
                    pytest.fail(f"{name} exited with {process.returncode} waiting for {what}:\n{tail}")
            time.sleep(0.3)
        tails = "\n".join(f"--- {name}\n{self.log(name)[-1500:]}" for name in self.processes)
        pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tails}")


def request(port: int, method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int, dict]:
    """One HTTP request; a connection error is status 0."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"{}")
        except ValueError:
            return response.status, {}
    except OSError:
        return 0, {}
    finally:
        conn.close()


class Customer:
    """A customer behind the proxy (127.0.0.1, trusted) at its own address, with one conversation."""

    def __init__(self, ip: str, port: int) -> None:
        self.ip = ip
        status, body = request(port, "POST", "/api/v1/conversations/", **{"X-Forwarded-For": ip})
        assert status == 201, (status, body)
        self.id, self.token = body["id"], body["token"]

    def say(self, port: int, text: str) -> tuple[int, dict]:
        headers = {"X-Forwarded-For": self.ip, "Authorization": f"Bearer {self.token}"}
        return request(port, "POST", f"/api/v1/conversations/{self.id}/messages/", {"text": text}, **headers)


@pytest.fixture
def redis_db(redis_url):
    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_two_web_processes_two_workers_and_beat_share_limits_breaker_jobs_and_lose_nothing(
    redis_db, transactional_db, django_db_serialized_rollback, tmp_path
):
    llm = FailingLLM()
    # Jobs' files are read by the workers: the upload folder is theirs too (GROUNDWORK_VAR_DIR).
    settings.UPLOAD_DIR = tmp_path / "var" / "uploads"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "0",
        "SECRET_KEY": "scale-out-test-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_db,
        "GROUNDWORK_VAR_DIR": str(tmp_path / "var"),
        # One export of the embedding model for every run (the test session's folder).
        "EMBEDDING_ONNX_DIR": str(settings.EMBEDDING_ONNX_DIR or settings.VAR_DIR / "models"),
        "EMBEDDING_WARM_AT_START": "1",
        "TRUSTED_PROXIES": "127.0.0.1",
        # Every candidate is answered (as the answer_freely fixture does): the turns of (b) must reach the model.
        "READER_MIN_ANSWERABLE": "0",
        "CHAT_RATE_LIMIT_PER_IP": str(RATE_LIMIT_PER_IP),
        "CHAT_RATE_WINDOW_SECONDS": "3600",
        "LLM_BASE_URL": llm.url,
        "LLM_MODEL": "stub",
        "LLM_API_KEY": "stub",
        "LLM_MAX_ATTEMPTS": "1",
        "LLM_BREAKER_FAILURES": "2",
        "LLM_BREAKER_COOLDOWN_SECONDS": "600",
        "JOBS_SWEEP_SECONDS": "5",
    }
    for name in ("CELERY_BROKER_URL", "EMBEDDED_PGDATA"):
        env.pop(name, None)
    cluster = Cluster(env, tmp_path)
    ports = {"web-a": _free_port(), "web-b": _free_port()}
    try:
        for name in ("worker-1", "worker-2"):
            cluster.celery(name, "worker", "-n", f"{name}@%h", "--pool", "solo", "--loglevel", "INFO", "-Q", "celery")
        cluster.celery("beat", "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "celerybeat-schedule"))
        for name, port in ports.items():
            cluster.web(name, port)
        cluster.wait_for(
            "both workers", lambda: all(" ready." in cluster.log(w) for w in ("worker-1", "worker-2")), timeout=120
        )

        # (c) the demo folder, ingested twice at once, every task delivered twice, through both workers
        broker = Celery(broker=redis_db)
        jobs = [job for _ in range(2) for job in services.jobs_create(files=read_path(DEMO_KB), verify=True)]
        for job in jobs * 2:
            broker.send_task("knowledge.ingest_job", kwargs={"job_id": job.pk}, queue="celery")
        active = IngestionJob.objects.filter(state__in=[IngestionJob.State.QUEUED, IngestionJob.State.RUNNING])
        cluster.wait_for("the ingestion jobs", lambda: not active.exists(), timeout=180)
        files = len({job.source_key for job in jobs})
        assert files == 15
        assert not IngestionJob.objects.exclude(state=IngestionJob.State.DONE).exists(), list(
            IngestionJob.objects.exclude(state=IngestionJob.State.DONE).values("source_key", "error")
        )
        assert Document.objects.count() == files
        assert sorted(Document.objects.values_list("versions__number", flat=True)) == [1] * files
        outcomes = sorted(IngestionJob.objects.values_list("outcome", flat=True))
        assert outcomes == sorted([IngestionJob.Outcome.ADDED] * files + [IngestionJob.Outcome.UNCHANGED] * files)
        assert set(IngestionJob.objects.values_list("attempts", flat=True)) == {1}
        for worker in ("worker-1", "worker-2"):
            assert "knowledge.ingest_job" in cluster.log(worker), f"{worker} ran no ingestion task"

        def web_ready() -> bool:
            return all(request(port, "GET", "/healthz")[0] == 200 for port in ports.values())

        cluster.wait_for("both web processes", web_ready, timeout=120)
        a, b = ports["web-a"], ports["web-b"]

        # (a) one allowance per address, whichever process counts it
        while time.time() % 3600 > 3600 - 60:  # never straddle the fixed window's edge
            time.sleep(1)
        customer = Customer("203.0.113.1", a)
        statuses = [customer.say((a, b)[i % 2], f"hello number {i}")[0] for i in range(RATE_LIMIT_PER_IP + 2)]
        assert statuses == [200] * RATE_LIMIT_PER_IP + [429, 429], statuses

        # (b) the breaker, tripped through web-a, keeps web-b off the model at once
        for n in range(2):
            status, body = Customer(f"203.0.113.{10 + n}", a).say(a, QUESTION)
            assert status == 200 and body["reply"]["kind"] == "grounded", body
        assert llm.calls == 2, "each turn through web-a should have called the model once"
        status, body = Customer("203.0.113.20", b).say(b, QUESTION)
        assert status == 200 and body["reply"]["kind"] == "grounded" and body["reply"]["citations"], body
        assert llm.calls == 2, f"web-b called the model ({llm.calls - 2} calls) with the breaker open in web-a"
        reply = Message.objects.get(pk=body["reply"]["id"])
        assert reply.composer == "extractive"
        assert reply.signals["llm_fallback"] == {"error": "circuit breaker open", "attempts": 0}

        # (d) web-b is killed mid-traffic; the customers move to web-a and nothing acknowledged is lost
        acknowledged: list[str] = []
        failures: list[tuple[str, int]] = []
        lock = threading.Lock()

        def customer_walk(number: int) -> None:
            customer = Customer(f"198.51.100.{number}", (a, b)[number % 2])
            alive = [a, b]
            for turn in range(5):
                text = f"customer {number} turn {turn}: can I return my bike?"
                status = 0
                for port in [alive[turn % len(alive)], *alive]:
                    status = customer.say(port, text)[0]
                    if status != 0:
                        break
                    if port in alive and len(alive) > 1:
                        alive.remove(port)  # refused or reset: that process is gone; use the other
                with lock:
                    (acknowledged.append(text) if 200 <= status < 300 else failures.append((text, status)))

        walkers = [threading.Thread(target=customer_walk, args=(n,)) for n in range(1, 5)]
        for walker in walkers:
            walker.start()
        cluster.wait_for("traffic before the kill", lambda: len(acknowledged) >= 4, timeout=60)
        cluster.processes["web-b-killed"] = cluster.processes.pop("web-b")
        cluster.kill("web-b-killed")
        acknowledged_before_kill = len(acknowledged)
        for walker in walkers:
            walker.join(timeout=120)
        assert failures == [], failures
        assert len(acknowledged) == 20 and acknowledged_before_kill < 20
        stored = set(Message.objects.filter(role=Message.Role.CUSTOMER).values_list("text", flat=True))
        assert [text for text in acknowledged if text not in stored] == []

        # the scheduler published its sweep through the shared broker, and a worker ran it
        assert cluster.processes["beat"].poll() is None
        assert any("knowledge.jobs_sweep" in cluster.log(w) for w in ("worker-1", "worker-2"))
    finally:
        cluster.stop_all()
        llm.close()
