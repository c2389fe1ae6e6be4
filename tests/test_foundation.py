"""The ground floor: PostgreSQL + pgvector, health endpoints, configuration errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from core import embeddings

ROOT = Path(__file__).resolve().parent.parent


def test_database_is_postgresql_with_vector_extension(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (version,) = cursor.fetchone()
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        cursor.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector")
        (distance,) = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert int(version) >= 150000
    assert row is not None, "the vector extension is not installed"
    assert distance == pytest.approx(1.0)


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response["X-Request-ID"]) == 32


def test_request_id_is_taken_from_the_proxy(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_readyz_reports_each_dependency(db, client, monkeypatch):
    # given a process whose model is not loaded yet (either backend)
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setattr(embeddings, "_encoder", None)
    # when / then: not ready, and it says why
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["model"].startswith("error")
    assert checks["database"] == "ok" and checks["pgvector"].startswith("ok") and checks["cache"] == "ok"
    # once the model is loaded, ready
    monkeypatch.undo()
    embeddings.warm()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready"


def test_logs_are_json_with_request_id(capsys):
    import json
    import logging

    from core.logging import JsonFormatter, RequestIdFilter, request_id_var

    record = logging.LogRecord("groundwork", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    token = request_id_var.set("req-1")
    try:
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    payload = json.loads(line)
    assert payload["msg"] == "hello world" and payload["request_id"] == "req-1" and payload["level"] == "INFO"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://nope"}, "DATABASE_URL must be a PostgreSQL URL"),
        ({"DEBUG": "1", "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, "cannot connect to the database"),
        ({"DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:1/0"}, "cannot reach Redis at REDIS_URL"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "1", "EMBEDDING_BACKEND": "tf"}, "EMBEDDING_BACKEND='tf' must be one of: onnx, torch"),
    ],
)
def test_bad_configuration_fails_at_start_with_one_line(env, expected):
    result = _manage("preflight", **env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_preflight_passes_with_good_configuration():
    result = _manage("preflight", DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
