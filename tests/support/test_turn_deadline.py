"""A hanging LLM: every outside call ends by the turn's deadline, and after the breaker's cool-down
exactly one turn probes the model while every other turn falls back at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from support.pipeline import llm
from support.pipeline.types import Passage

PASSAGES = [Passage(1, 1, 1, 1, "Returns", 1, "Returns", "Return within 14 days.", 0.9, ["Return within 14 days."])]


class HangingLLM:
    """An OpenAI-compatible endpoint that accepts the request and never answers (until closed)."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                stub.calls += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                stub.release.wait(60)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hanging_llm(settings):
    stub = HangingLLM()
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = stub.url, "stub", "k"
    settings.LLM_TIMEOUT_SECONDS = 20.0  # the old per-call wait: 3 attempts of it took 60.8 s
    settings.LLM_MAX_ATTEMPTS = 3
    settings.LLM_BREAKER_FAILURES = 5
    settings.LLM_BREAKER_COOLDOWN_SECONDS = 30
    settings.CHAT_TURN_DEADLINE_SECONDS = 1.5
    yield stub
    stub.close()


@pytest.fixture
def shared_redis_cache(settings, redis_url):
    """The cache web processes share in production; threads here stand for their request threads."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    cache.clear()
    yield
    cache.clear()


@pytest.mark.redis
def test_a_hanging_model_gets_only_the_time_left_in_the_turn(hanging_llm, shared_redis_cache):
    # when
    started = time.monotonic()
    with pytest.raises(llm.LLMUnavailable) as raised:
        llm.complete("How long do I have to return it?", PASSAGES, deadline=started + 1.5)
    elapsed = time.monotonic() - started
    # then: one attempt, cut off before the deadline, no retry after it
    assert elapsed < 1.5, elapsed
    assert hanging_llm.calls == 1 and raised.value.attempts == 1


@pytest.mark.redis
def test_half_open_lets_exactly_one_probe_through_and_the_rest_fall_back_at_once(hanging_llm, shared_redis_cache):
    # given: the cool-down is over (half-open)
    cache.set("llm:breaker:open_until", time.time() - 1, 3600)

    def one_turn(_: int) -> tuple[str, float]:
        started = time.monotonic()
        try:
            llm.complete("Where is my order?", PASSAGES, deadline=started + 1.5)
            outcome = "answered"
        except llm.LLMUnavailable as exc:
            outcome = str(exc)
        return outcome, time.monotonic() - started

    # when: five turns arrive together
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(one_turn, range(5)))
    # then: one call reached the model; the four others fell back without waiting
    assert hanging_llm.calls == 1
    quick = [elapsed for outcome, elapsed in results if outcome == "circuit breaker open"]
    assert len(quick) == 4 and max(quick) < 0.3, results
    # and the failed probe opened the breaker again for a whole cool-down
    assert llm.breaker_state() == "open"


@pytest.mark.redis
def test_a_successful_probe_closes_the_breaker(settings, shared_redis_cache, monkeypatch):
    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://127.0.0.1:9/v1", "stub"
    cache.set("llm:breaker:open_until", time.time() - 1, 3600)
    monkeypatch.setattr(llm, "_call", lambda body, timeout: {"choices": [{"message": {"content": "Yes. [1]"}}]})
    assert llm.complete("q", PASSAGES).text == "Yes. [1]"
    assert llm.breaker_state() == "closed" and cache.get("llm:breaker:probe") is None


@pytest.mark.django_db
@pytest.mark.usefixtures("answer_freely")
def test_a_turn_with_a_hanging_model_answers_within_the_deadline(hanging_llm, demo_kb):
    # given
    api = APIClient()
    created = api.post("/api/v1/conversations/").json()
    # when
    started = time.monotonic()
    response = api.post(
        f"/api/v1/conversations/{created['id']}/messages/",
        {"text": "How many days do I have to return an e-bike?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {created['token']}",
    )
    elapsed = time.monotonic() - started
    # then: the customer gets the extractive answer, within the deadline plus a second
    assert response.status_code == 200
    assert response.json()["reply"]["kind"] == "grounded" and "14 days" in response.json()["reply"]["text"]
    assert elapsed < 1.5 + 1.0, elapsed
