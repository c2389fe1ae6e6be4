"""A flow's `call` step: an HTTP POST of the collected slots to the shop's endpoint.

At most FLOW_CALL_MAX_ATTEMPTS (≤ 3) attempts, each within FLOW_CALL_TIMEOUT_SECONDS and the
turn's deadline, all through one circuit breaker kept in the shared cache (core.breaker), so a
dead endpoint costs one customer a few seconds and the others none. A 4xx answer is final (the
request itself is wrong); timeouts, connection errors and 5xx are retried. Any failure raises
engine.CallFailed, and the engine hands the conversation over with what was collected.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from core import events
from core.breaker import CircuitBreaker
from flows.engine import CallFailed
from flows.slots import mask_slots

logger = logging.getLogger(__name__)

MIN_ATTEMPT_SECONDS = 0.2
MAX_RESPONSE_BYTES = 64 * 1024


def _on_trip(failures: int) -> None:
    logger.warning("flow call circuit breaker opened", extra={"failures": failures})
    events.alert("breaker_open", f"The flow-call circuit breaker opened after {failures} failures in a row")


BREAKER = CircuitBreaker(
    "flowcall",
    failures=lambda: settings.FLOW_CALL_BREAKER_FAILURES,
    cooldown=lambda: settings.FLOW_CALL_BREAKER_COOLDOWN_SECONDS,
    probe_seconds=lambda: settings.CHAT_TURN_DEADLINE_SECONDS,
    on_trip=_on_trip,
)


class _Permanent(Exception):
    pass


def resolve_url(url: str) -> str:
    """A path goes to FLOW_CALL_BASE_URL; an address must be on FLOW_CALL_ALLOWED_HOSTS."""
    if url.startswith("/"):
        return urljoin(settings.FLOW_CALL_BASE_URL.rstrip("/") + "/", url.lstrip("/"))
    host = (urlsplit(url).hostname or "").lower()
    if host not in {h.lower() for h in settings.FLOW_CALL_ALLOWED_HOSTS}:
        raise CallFailed(f"{host or url!r} is not in FLOW_CALL_ALLOWED_HOSTS")
    return url


def _post(url: str, body: bytes, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - a path on our base URL or an allowed host (resolve_url)
        url, data=body, headers={"Content-Type": "application/json", "Accept": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            raise _Permanent(f"HTTP {exc.code}") from None
        raise
    if len(raw) > MAX_RESPONSE_BYTES:
        raise _Permanent("response too large")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise _Permanent("the response is not a JSON object")
    return data


def post(url: str, payload: dict[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
    """The endpoint's JSON object, or CallFailed."""
    if deadline is None:
        deadline = time.monotonic() + settings.CHAT_TURN_DEADLINE_SECONDS
    target = resolve_url(url)
    admitted = BREAKER.admit()
    if admitted is None:
        raise CallFailed("circuit breaker open")
    probe = admitted == "probe"
    body = json.dumps(payload).encode()
    attempts, error = 0, ""
    max_attempts = 1 if probe else settings.FLOW_CALL_MAX_ATTEMPTS
    while attempts < max_attempts:
        if attempts:
            pause = min(1.0, 0.1 * 2 ** (attempts - 1)) + secrets.randbelow(50) / 1000
            if deadline - time.monotonic() - pause < MIN_ATTEMPT_SECONDS:
                break
            time.sleep(pause)
        timeout = min(settings.FLOW_CALL_TIMEOUT_SECONDS, deadline - time.monotonic())
        if timeout < MIN_ATTEMPT_SECONDS:
            error = error or "no time left before the turn's deadline"
            break
        attempts += 1
        try:
            data = _post(target, body, timeout)
        except _Permanent as exc:
            BREAKER.success()  # the endpoint answered: it is up, the request was refused
            error = str(exc)
            break
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            BREAKER.failure(probe=probe)
            if BREAKER.is_open():
                break
            continue
        BREAKER.success()
        return data
    if probe and attempts == 0:
        BREAKER.release_probe()
    logger.warning(
        "flow call failed",
        extra={"url": url, "attempts": attempts, "error": error[:200], "slots": mask_slots(payload.get("slots", {}))},
    )
    raise CallFailed(error or "no attempt made")
