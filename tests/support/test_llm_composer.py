"""The optional LLM composer against a fake OpenAI-compatible server on loopback:
slow, failing, malformed, uncited and inventing answers. Attempts are capped,
the breaker opens and closes, budgets hold, and the customer always gets a
safe reply."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from support.pipeline import llm, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("answer_freely")]

QUESTION = "How many days do I have to return an e-bike?"


class FakeLLM:
    def __init__(self):
        self.mode = "good"
        self.calls = 0
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                fake.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if fake.mode == "slow":
                    time.sleep(1.5)
                if fake.mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"upstream exploded")
                    return
                if fake.mode == "malformed":
                    payload = b"{not json"
                else:
                    content = {
                        "good": "E-bikes can be returned within 14 days of delivery. [1]",
                        "slow": "E-bikes can be returned within 14 days of delivery. [1]",
                        "uncited": "You can return it within 14 days.",
                        "invented": "E-bikes can be returned within 60 days and we add a 20% discount voucher. [1]",
                        "leak": f"My instructions say GW-CANARY. Reference code: {llm.canary()} [1]",
                    }[fake.mode]
                    payload = json.dumps(
                        {
                            "choices": [{"message": {"content": content}}],
                            "usage": {"prompt_tokens": 120, "completion_tokens": 30},
                        }
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm(settings, demo_kb):
    fake = FakeLLM()
    settings.LLM_BASE_URL = fake.url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_API_KEY = "k"
    settings.LLM_TIMEOUT_SECONDS = 0.5
    settings.LLM_MAX_ATTEMPTS = 3
    settings.LLM_BREAKER_FAILURES = 5
    settings.LLM_BREAKER_COOLDOWN_SECONDS = 1
    cache.clear()
    yield fake
    fake.close()
    cache.clear()


def test_good_answer_is_used_with_its_usage_counted(fake_llm):
    _, reply = run.answer(text=QUESTION)
    assert reply.kind == "grounded" and reply.composer == "llm:fake-model@" + llm.settings.LLM_PROMPT_VERSION
    assert reply.text == "E-bikes can be returned within 14 days of delivery. [1]"
    assert (reply.tokens_in, reply.tokens_out, reply.attempts) == (120, 30, 1)
    request = fake_llm.requests[0]
    assert request["temperature"] == 0 and request["model"] == "fake-model"
    assert "[1]" in request["messages"][1]["content"] and llm.canary() in request["messages"][0]["content"]


def test_the_same_question_is_answered_from_cache(fake_llm):
    first = run.answer(text=QUESTION)[1].text
    second = run.answer(text="how many days do i have to return an e-bike")[1].text
    assert first == second and fake_llm.calls == 1


@pytest.mark.parametrize("mode", ["500", "malformed", "slow"])
def test_failures_are_retried_at_most_three_times_then_fall_back(fake_llm, mode):
    fake_llm.mode = mode
    turn, reply = run.answer(text=QUESTION)
    assert fake_llm.calls == 3
    assert reply.kind == "grounded" and reply.composer == "extractive" and "14 days" in reply.text
    assert turn.signals["llm_fallback"]["attempts"] == 3


def test_uncited_or_inventing_answers_fall_back_to_extractive(fake_llm):
    fake_llm.mode = "uncited"
    _, reply = run.answer(text=QUESTION)
    assert reply.composer == "extractive" and "[1]" in reply.text
    cache.clear()
    fake_llm.mode = "invented"
    turn, reply = run.answer(text=QUESTION)
    assert reply.composer == "extractive"
    assert "60 days" not in reply.text and "discount" not in reply.text
    assert turn.signals["llm_fallback"]["error"] == "answer failed verification"


def test_a_leaking_answer_never_reaches_the_customer(fake_llm):
    fake_llm.mode = "leak"
    _, reply = run.answer(text=QUESTION)
    assert llm.canary() not in reply.text and "instructions" not in reply.text


def test_breaker_opens_after_repeated_failures_and_closes_after_cooldown(fake_llm, settings):
    fake_llm.mode = "500"
    run.answer(text=QUESTION)  # 3 failures
    run.answer(text="what does delivery to germany cost")  # 2 more: the breaker opens at 5
    assert fake_llm.calls == 5 and llm.breaker_state() == "open"
    # while open, no calls at all, and the customer still gets an answer
    _, reply = run.answer(text="how long is the warranty on the frame")
    assert fake_llm.calls == 5 and reply.composer == "extractive"
    # after the cooldown one trial call goes through; success closes it
    time.sleep(1.1)
    fake_llm.mode = "good"
    run.answer(text=QUESTION)
    assert fake_llm.calls == 6 and llm.breaker_state() == "closed"


def test_breaker_state_is_shared_through_the_cache(fake_llm):
    cache.set("llm:breaker:open_until", time.time() + 60)
    _, reply = run.answer(text=QUESTION)
    assert fake_llm.calls == 0 and reply.composer == "extractive"


def test_the_conversation_budget_holds(fake_llm, settings):
    from support.models import Conversation

    settings.CHAT_CONVERSATION_TOKEN_BUDGET = 600
    conversation = Conversation.objects.create(token_hash="x", tokens_used=500)
    turn, reply = run.answer(text=QUESTION, conversation=conversation)
    assert fake_llm.calls == 0 and reply.composer == "extractive"
    assert turn.signals["llm_skipped"] == "conversation token budget"
