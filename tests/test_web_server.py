"""The web process as `make run` starts it (serve.web_argv: gunicorn, uvicorn workers, config.asgi),
two of them on one database: a message written anywhere reaches a stream on either process, a
client's own X-Forwarded-For does not move it to another address's allowance, and stopping a process
with a stream open takes a second, not gunicorn's graceful timeout."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.management.commands.serve import web_argv
from core import live
from support import services
from support.models import Message
from tests.processes import database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(port: int, logs: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "EMBEDDING_WARM_AT_START": "0",
        "LIVE_MAX_PER_ADDRESS": "1",
        "TRUSTED_PROXIES": "",
    }
    argv = web_argv(Path(sys.executable).parent, bind=f"127.0.0.1:{port}", workers=1)
    log = (logs / f"web-{port}.log").open("w")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _up(port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the web process on {port} did not come up")


class Stream:
    def __init__(self, port: int, path: str, headers: dict | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()

    def until(self, text: str, timeout: float = 5.0) -> str:
        """What the stream said until `text` appeared (or the time ran out)."""
        seen = b""
        deadline = time.monotonic() + timeout
        self.conn.sock.settimeout(0.2)
        while time.monotonic() < deadline and text.encode() not in seen:
            try:
                chunk = self.response.read1(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            seen += chunk
        return seen.decode()

    def close(self) -> None:
        self.conn.close()


def test_two_web_processes_stream_what_is_written_anywhere(transactional_db, tmp_path):
    ports = [_free_port(), _free_port()]
    processes = [_start(port, tmp_path) for port in ports]
    streams: list[Stream] = []
    try:
        for port in ports:
            _up(port)
        chat = services.conversation_create(channel="web").conversation
        topic = live.conversation_topic(chat.pk)
        path = live.events_url(live.Subscription(topic=topic))
        streams = [Stream(ports[0], path), Stream(ports[1], path, {"X-Forwarded-For": "1.2.3.4"})]
        assert [s.response.status for s in streams] == [200, 200]
        for stream in streams:
            stream.until("event: sync")
        message = Message.objects.create(conversation=chat, role=Message.Role.AGENT, text="Hello from nowhere")
        for stream in streams:  # written by this process, heard by both web processes
            assert f"id: {message.pk}" in stream.until(f"id: {message.pk}")

        # LIVE_MAX_PER_ADDRESS=1: a second stream from this address is refused, whatever it claims
        spoofing = Stream(ports[0], path, {"X-Forwarded-For": "203.0.113.9"})
        assert spoofing.response.status == 429
        spoofing.close()

        started = time.monotonic()
        os.killpg(processes[0].pid, signal.SIGTERM)
        processes[0].wait(timeout=15)
        assert time.monotonic() - started < 5  # the open stream was ended, not waited for
    finally:
        for stream in streams:
            stream.close()
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
