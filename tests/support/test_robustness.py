"""Abuse and bad input: no input gives a 500, the schema fuzzes clean,
oversized bodies are refused, headers are strict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def conversation(demo_kb):
    api = APIClient()
    created = api.post("/api/v1/conversations/").json()
    return api, created["id"], created["token"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=2500),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        st.sampled_from(["", " ", "\x00", "<script>alert(1)</script>", "💥" * 600, "[1] [2]", "?" * 3]),
    )
)
def test_no_message_text_gives_a_server_error(conversation, text):
    from django.core.cache import cache

    cache.clear()  # rate limits are not what this test is about
    api, cid, token = conversation
    response = api.post(
        f"/api/v1/conversations/{cid}/messages/", {"text": text}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code in (200, 400, 413, 429), response.content[:300]
    assert "code" in response.json() or "reply" in response.json()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text(max_size=50)), max_size=4),
        st.lists(st.integers(), max_size=3),
        st.text(max_size=40),
    )
)
def test_no_json_body_gives_a_server_error(conversation, body):
    api, cid, token = conversation
    for path in ("messages", "feedback", "handoff"):
        response = api.post(
            f"/api/v1/conversations/{cid}/{path}/", body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert response.status_code < 500, (path, body, response.content[:300])


def test_openapi_schema_fuzzes_without_server_errors(db, demo_kb):
    """Every operation of /api/schema/, with generated parameters and bodies,
    against the real app in-process: no 5xx. A valid conversation and token are
    put in so the generated bodies reach the pipeline, not just the auth check."""
    from django.core import signals
    from django.core.cache import cache
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    from support import services

    # In-process WSGI calls would close the test's transaction-bound connection
    # at the end of each request, as Django's own test client avoids too.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        _fuzz(get_wsgi_application(), services, cache)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz(app, services, cache) -> None:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    api = schemathesis.openapi.from_wsgi("/api/schema/", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 5
    failures: list[str] = []
    statuses: set[int] = set()
    for operation in operations:

        @hsettings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            cache.clear()
            created = services.conversation_create(channel="api")
            if "conversation_id" in (case.path_parameters or {}):
                case.path_parameters["conversation_id"] = str(created.conversation.pk)
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {created.token}"}
            response = case.call()
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code} {response.text[:200]}")

        run()
    assert failures == []
    # the generated requests got through to real work, and bad ones were refused cleanly
    assert {200, 201} & statuses and {400} & statuses, statuses


def test_oversized_bodies_are_refused_with_413(conversation, settings):
    api, cid, token = conversation
    settings.MAX_REQUEST_BYTES = 10_000
    response = api.post(
        f"/api/v1/conversations/{cid}/messages/",
        {"text": "x" * 20_000},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_pages_send_a_strict_content_security_policy(client, settings):
    settings.WIDGET_ALLOWED_ORIGINS = ["https://www.brightwheel.example"]
    home = client.get("/")
    csp = home["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp and home["X-Frame-Options"] == "DENY"
    chat = client.get("/chat/")
    assert "frame-ancestors 'self' https://www.brightwheel.example" in chat["Content-Security-Policy"]
    assert "X-Frame-Options" not in chat


def test_no_inline_scripts_in_our_pages(client, demo_kb):
    import re

    for url in ("/", "/chat/", "/accounts/login/", "/embed/"):
        html = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (url, tag)
        assert " on" not in "".join(re.findall(r"<[^>]+ on[a-z]+=", html)), url


def test_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 30 + "-production-like-secret-key-0123456789abcdefghij",
            "ALLOWED_HOSTS": "help.example.com",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
