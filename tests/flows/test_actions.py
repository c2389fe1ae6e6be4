"""A flow's call step over real HTTP: at most 3 attempts, 4xx is final, a timeout per attempt,
only allowed hosts, and the circuit breaker shared through the cache."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from flows import actions
from flows.engine import CallFailed

pytestmark = pytest.mark.django_db


class Endpoint:
    def __init__(self):
        self.hits = 0
        self.status = 200
        self.body = {"status": "shipped"}
        self.delay = 0.0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                endpoint.hits += 1
                endpoint.last = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(endpoint.delay)
                payload = json.dumps(endpoint.body).encode()
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint(settings):
    cache.clear()
    e = Endpoint()
    settings.FLOW_CALL_BASE_URL = e.url
    settings.FLOW_CALL_TIMEOUT_SECONDS = 0.5
    settings.FLOW_CALL_BREAKER_FAILURES = 5
    yield e
    e.server.shutdown()
    cache.clear()


def test_posts_the_slots_and_returns_the_fields(endpoint):
    assert actions.post("/orders/", {"slots": {"email": "jo@example.com"}}) == {"status": "shipped"}
    assert endpoint.last == {"slots": {"email": "jo@example.com"}}


def test_a_server_error_is_retried_at_most_three_times(endpoint):
    endpoint.status = 500
    with pytest.raises(CallFailed):
        actions.post("/orders/", {})
    assert endpoint.hits == 3


def test_the_attempts_setting_is_capped_and_obeyed(endpoint, settings):
    endpoint.status = 503
    settings.FLOW_CALL_MAX_ATTEMPTS = 2
    with pytest.raises(CallFailed):
        actions.post("/orders/", {})
    assert endpoint.hits == 2


def test_a_refusal_is_final(endpoint):
    endpoint.status = 404
    with pytest.raises(CallFailed, match="HTTP 404"):
        actions.post("/orders/", {})
    assert endpoint.hits == 1


def test_each_attempt_times_out(endpoint):
    endpoint.delay = 1.0
    started = time.monotonic()
    with pytest.raises(CallFailed):
        actions.post("/orders/", {}, deadline=time.monotonic() + 8)
    assert endpoint.hits == 3 and time.monotonic() - started < 3.0


def test_the_turn_deadline_bounds_all_attempts(endpoint):
    endpoint.delay = 1.0
    started = time.monotonic()
    with pytest.raises(CallFailed):
        actions.post("/orders/", {}, deadline=time.monotonic() + 0.8)
    assert time.monotonic() - started < 1.2


def test_the_breaker_opens_after_repeated_failures_and_then_nothing_is_called(endpoint, settings):
    endpoint.status = 500
    settings.FLOW_CALL_BREAKER_FAILURES = 4
    for _ in range(2):
        with pytest.raises(CallFailed):
            actions.post("/orders/", {})
    assert actions.BREAKER.state() == "open" and endpoint.hits == 4
    with pytest.raises(CallFailed, match="circuit breaker open"):
        actions.post("/orders/", {})
    assert endpoint.hits == 4
    # the state is in the shared cache, where every process reads it
    assert cache.get("flowcall:breaker:open_until") > time.time()


def test_an_address_off_the_allowed_hosts_is_never_called(endpoint, settings):
    with pytest.raises(CallFailed, match="FLOW_CALL_ALLOWED_HOSTS"):
        actions.post(endpoint.url + "/orders/", {})
    settings.FLOW_CALL_ALLOWED_HOSTS = ["127.0.0.1"]
    assert actions.post(endpoint.url + "/orders/", {}) == {"status": "shipped"}
    assert endpoint.hits == 1
