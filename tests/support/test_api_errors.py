"""API errors are JSON with the right status, whatever goes wrong: hostile bodies,
unknown ids, a database or cache that does not answer."""

from __future__ import annotations

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
