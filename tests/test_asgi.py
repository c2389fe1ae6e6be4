"""The ASGI application `make run` serves (config/asgi.py), called directly: pages go to the WSGI app on
its thread pool with what gunicorn used to tell it, /events/ to the live stream, WebSockets are shut."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core.wsgi import get_wsgi_application

from config.asgi_app import make_application
from support import services
from tests import aio


def call(app, scope: dict, chunks: list[bytes]) -> tuple[int, dict, bytes]:
    """One request: the body as a client sent it in pieces (uvicorn de-chunks a chunked body)."""
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def run():
        await asyncio.wait_for(app({"type": "http", "asgi": {"version": "3.0"}, **scope}, receive, send), 30)

    aio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def request(method: str, path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    return {
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("198.51.100.7", 50000),
        "headers": [(b"host", b"127.0.0.1"), *headers],
    }


@pytest.fixture
def app():
    return make_application(get_wsgi_application(), threads=2)


def test_a_chunked_body_reaches_the_view_and_is_held_to_the_limit(app, transactional_db, settings):
    created = services.conversation_create(channel="api")
    chunked = [
        (b"content-type", b"application/json"),
        (b"transfer-encoding", b"chunked"),
        (b"authorization", f"Bearer {created.token}".encode()),
    ]
    path = f"/api/v1/conversations/{created.conversation.pk}/feedback/"
    status, _, body = call(app, request("POST", path, chunked), [b'{"rat', b'ing": 5}'])
    assert status == 200, body
    created.conversation.refresh_from_db()
    assert created.conversation.rating == 5

    settings.MAX_REQUEST_BYTES = 2000
    status, _, body = call(app, request("POST", path, chunked), [b'{"rating": 5, "comment": "', b"x" * 5000, b'"}'])
    assert status == 413 and json.loads(body)["code"] == "too_large"


def test_events_go_to_the_stream_and_pages_to_django(app, db):
    status, headers, body = call(app, request("GET", "/events/"), [b""])
    assert status == 403 and b"ticket" in body  # the live endpoint, not a Django page
    status, headers, _ = call(app, request("GET", "/healthz"), [b""])
    assert status == 200 and "content-security-policy" in headers


def test_websockets_are_refused(app):
    sent = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    aio.run(app({"type": "websocket", "path": "/events/", "headers": []}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1003}]
