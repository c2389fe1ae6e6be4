"""`make run` end to end: start the app on a fresh embedded database, fetch
/ and /readyz, stop it with Ctrl-C; a second start reuses everything."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(var_dir: Path, port: int, log: Path) -> subprocess.Popen:
    # EMBEDDED_PGDATA too: a developer's own database would already hold the demo, and the test is of a fresh start.
    drop = {
        "DJANGO_SETTINGS_MODULE",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "EMBEDDING_WARM_AT_START",
        "EMBEDDED_PGDATA",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"DEBUG": "1", "GROUNDWORK_VAR_DIR": str(var_dir), "PORT": str(port), "DEMO_PASSWORD": "demo-pass-123"})
    return subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_for(log: Path, pattern: str, process: subprocess.Popen, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text()
        if re.search(pattern, text):
            return text
        if process.poll() is not None:
            pytest.fail(f"serve exited early with {process.returncode}:\n{text[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"no {pattern!r} within {timeout}s:\n{log.read_text()[-3000:]}")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _post(url: str, body: dict, token: str = "") -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def _stop(process: subprocess.Popen, log: Path) -> str:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("serve did not stop within 60 s of Ctrl-C")
    return log.read_text()


def test_run_starts_serves_and_stops_cleanly(tmp_path):
    var_dir = tmp_path / "var"
    port = _free_port()
    log = tmp_path / "serve.log"
    started = time.monotonic()
    process = _start(var_dir, port, log)
    text = _wait_for(log, r"Press Ctrl-C", process)
    first_start = time.monotonic() - started
    assert f"http://127.0.0.1:{port}/chat/" in text
    assert "Demo logins: admin, curator, agent — password: demo-pass-123" in text
    assert "Loaded the demo knowledge base" in text

    status, body = _get(f"http://127.0.0.1:{port}/")
    assert status == 200 and "Groundwork" in body
    status, body = _get(f"http://127.0.0.1:{port}/readyz")
    assert status == 200, body
    assert '"model": "ok"' in body
    # The demo's flows work out of the box: the order-status flow calls the demo's own endpoint.
    assert "Loaded the demo flows (3)" in text
    created = _post(f"http://127.0.0.1:{port}/api/v1/conversations/", {})
    turn = _post(
        f"http://127.0.0.1:{port}/api/v1/conversations/{created['id']}/messages/",
        {"text": "Where is my order? BW-10423001, jo@example.com"},
        token=created["token"],
    )
    assert turn["reply"]["kind"] == "flow" and "JD014600003121" in turn["reply"]["text"], turn

    text = _stop(process, log)
    assert process.returncode == 0, text[-2000:]
    assert "Stopped." in text
    assert not (var_dir / "pgdata" / "postmaster.pid").exists(), "database still running:\n" + text[-3000:]

    # A second run reuses the venv, the database and the demo data.
    log2 = tmp_path / "serve2.log"
    started = time.monotonic()
    process = _start(var_dir, port, log2)
    text = _wait_for(log2, r"Press Ctrl-C", process)
    second_start = time.monotonic() - started
    assert "Loaded the demo knowledge base" not in text

    # A killed worker or scheduler is restarted and logged; the web server keeps answering.
    for name, pattern in (("worker", "celery.* worker"), ("scheduler", "celery.* beat")):
        (victim,) = _children(process.pid, pattern)
        os.kill(victim, signal.SIGKILL)
        _wait_for(log2, rf"{name} exited with status -9; restarting it in 1 s", process, timeout=30)
        deadline = time.monotonic() + 30
        while _children(process.pid, pattern) in ([], [victim]) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _children(process.pid, pattern) not in ([], [victim]), f"{name} was not restarted"
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    everything = _children(process.pid, ".")
    _stop(process, log2)
    assert process.returncode == 0
    assert second_start < first_start
    # Ctrl-C leaves nothing running: every child and its children are gone.
    time.sleep(0.5)
    assert [pid for pid in everything if _running(pid)] == []


def _children(parent: int, pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(parent), "-f", pattern], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
