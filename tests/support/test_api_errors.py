"""API errors are JSON with the right status, whatever goes wrong: hostile bodies,
unknown ids, a database or cache that does not answer."""

from __future__ import annotations

import io

import pytest
from rest_framework.test import APIClient

from support import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    created = services.conversation_create(channel="api")
    return APIClient(), str(created.conversation.pk), created.token


@pytest.mark.parametrize("path", ["messages", "feedback"])
@pytest.mark.parametrize("body", ["[" * 30_000, '{"a":' * 10_000, '{"text": ' + "[" * 40 + "]" * 40 + "}"])
def test_deeply_nested_json_is_a_400_not_a_500(conversation, path, body):
    # given
    api, cid, token = conversation
    # when
    response = api.post(
        f"/api/v1/conversations/{cid}/{path}/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "parse_error" and "nested deeper than 32" in response.json()["message"]


@pytest.mark.parametrize("charset", ["bz2", "zlib", "rot13", "base64"])
def test_a_charset_that_is_not_a_text_encoding_is_a_400(conversation, charset):
    # A transform codec would decompress (bz2: 113 bytes became 50 MB) or fail with a 500.
    import bz2

    api, cid, token = conversation
    body = bz2.compress(b'{"text": "' + b"a" * 1_000_000 + b'"}') if charset == "bz2" else b'{"text": "hi"}'
    response = api.post(
        f"/api/v1/conversations/{cid}/messages/",
        body,
        content_type=f"application/json; charset={charset}",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("charset", ["utf-8", "utf-16", "latin-1"])
def test_a_text_charset_is_read(conversation, charset):
    api, cid, token = conversation
    response = api.post(
        f"/api/v1/conversations/{cid}/feedback/",
        '{"rating": 4, "comment": "très bien"}'.encode(charset),
        content_type=f"application/json; charset={charset}",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content[:200]


def test_json_nested_within_the_cap_is_parsed(conversation):
    api, cid, token = conversation
    body = '{"rating": 4, "comment": "ok", "extra": ' + "[" * 20 + "]" * 20 + ', "s": "[[[[{{{{"}'
    response = api.post(
        f"/api/v1/conversations/{cid}/feedback/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.json()


@pytest.fixture
def quiet_api():
    """A client that gets the 500/503 response instead of the test seeing the exception."""
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations/not-a-uuid/messages/",
        "/api/v1/conversations/123/",
        "/api/v1/nothing-here/",
    ],
)
def test_an_unknown_api_url_is_a_json_404(quiet_api, path):
    response = quiet_api.post(path, {"text": "hi"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    # rewritten as JSON, it keeps the headers every other response carries
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert header in response, header


def test_an_unknown_conversation_is_a_json_404(conversation):
    api, _, token = conversation
    response = api.get(
        "/api/v1/conversations/00000000-0000-0000-0000-000000000000/", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(conversation):
    api, cid, token = conversation
    response = api.delete(f"/api/v1/conversations/{cid}/messages/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_an_oversized_body_is_a_json_413(conversation, settings):
    api, cid, token = conversation
    settings.MAX_REQUEST_BYTES = 2000
    response = api.post(
        f"/api/v1/conversations/{cid}/messages/",
        {"text": "x" * 5000},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def _down(exc: Exception):
    def fail(**kwargs):
        raise exc

    return fail


def _unavailable_errors() -> list[Exception]:
    from django.db import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    return [
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    ]


@pytest.mark.parametrize("error", _unavailable_errors(), ids=lambda e: type(e).__name__)
def test_a_database_or_cache_outage_is_a_json_503_with_retry_after(quiet_api, conversation, monkeypatch, error):
    # given: the turn's first write meets a database or cache that does not answer
    _, cid, token = conversation
    monkeypatch.setattr(services, "message_post", _down(error))
    # when
    response = quiet_api.post(
        f"/api/v1/conversations/{cid}/messages/", {"text": "hi"}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "unavailable"


def test_an_outage_outside_a_drf_view_is_a_503_with_retry_after(client, monkeypatch):
    # given: the chat page's form post, a plain Django view
    from django.db import OperationalError

    client.raise_request_exception = False
    monkeypatch.setattr(services, "conversation_create", _down(OperationalError("the database system is starting up")))
    # when
    response = client.post("/chat/send/", {"text": "hi"})
    # then
    assert response.status_code == 503 and response["Retry-After"] == "5"


def test_an_unexpected_api_error_is_a_json_500(quiet_api, conversation, monkeypatch):
    _, cid, token = conversation
    monkeypatch.setattr(services, "message_post", _down(RuntimeError("bug")))
    response = quiet_api.post(
        f"/api/v1/conversations/{cid}/messages/", {"text": "hi"}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 500 and response.json()["code"] == "server_error"


def _chunked(api, path, body: bytes, token: str):
    """What gunicorn hands Django for `Transfer-Encoding: chunked`: the de-chunked body and no Content-Length."""
    return api.post(
        path,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
        # reads to the end like gunicorn's, which says so with wsgi.input_terminated
        **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )


def test_a_chunked_body_is_read(conversation):
    api, cid, token = conversation
    response = _chunked(api, f"/api/v1/conversations/{cid}/feedback/", b'{"rating": 5}', token)
    assert response.status_code == 200, response.json()


def test_a_chunked_body_is_held_to_the_size_limit(conversation, settings):
    api, cid, token = conversation
    settings.MAX_REQUEST_BYTES = 2000
    body = b'{"rating": 5, "comment": "' + b"x" * 5000 + b'"}'
    response = _chunked(api, f"/api/v1/conversations/{cid}/feedback/", body, token)
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_a_chunked_upload_gets_the_small_limit_not_the_upload_one(client, settings):
    # Read into memory before the curator check: an anonymous client could make every thread hold
    # UPLOAD_MAX_REQUEST_BYTES.
    settings.MAX_REQUEST_BYTES = 2000
    body = b"x" * 5000
    response = client.post(
        "/kb/upload/",
        body,
        content_type="application/octet-stream",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
        **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_a_nul_character_is_refused_by_the_api_and_the_chat_page_alike(conversation, client):
    # given
    from support.models import Message

    api, cid, token = conversation
    text = "How do I return\x00 my bike?"
    # when
    response = api.post(
        f"/api/v1/conversations/{cid}/messages/", {"text": text}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    page = client.post("/chat/send/", {"text": text})
    # then: both refuse it, and neither records a message
    assert response.status_code == 400
    assert page.status_code == 200 and b"NUL character" in page.content
    assert not Message.objects.exists()
