"""Live events: what a page must fetch again, pushed as Server-Sent Events.

Publishing is PostgreSQL's NOTIFY on one channel, from inside the writer's transaction: an event
goes out when the write commits and never when it rolls back, and every web process hears it, with
no Redis needed (`make run` has none). New messages, a conversation's status changing and escalation
changes are published by database triggers (migrations support 0008 and escalation 0005), so there is
one place that publishes whatever code writes the row; ephemeral events (an agent typing) go through
`notify`.

An event says *that* something changed (a topic, a kind, an id), never the content: the page
fetches what changed through its ordinary, authorised view. So a stream's ticket only names the
topic it may hear, and a stale ticket leaks nothing but the fact that a conversation moved.

Each web process runs one `Hub` on its event loop: one listening database connection, fanned out
to the open streams in memory. `events_app` is the ASGI endpoint (`config/asgi.py` routes
`/events/` to it); it holds no thread, and every stream is bounded (settings LIVE_*)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import psycopg
from django.conf import settings
from django.core import signing
from django.db import connection

from core.net import address_of

logger = logging.getLogger("groundwork.live")

CHANNEL = "groundwork_live"
EVENTS_PATH = "/events/"  # config/asgi.py routes it here
TICKET_SALT = "groundwork.live.ticket"
# NOTIFY payloads are limited to 8,000 bytes; events are a few dozen.
MAX_PAYLOAD = 7900


# --- Publishing (any process, inside a transaction or not) -------------------------------------


def notify(topic: str, event: str, **data: Any) -> None:
    """Tell the streams on `topic` that `event` happened. In a transaction it is sent at commit."""
    payload = json.dumps({"topic": topic, "event": event, **data}, separators=(",", ":"))
    if len(payload.encode()) > MAX_PAYLOAD:
        raise ValueError("a live event names what changed; its content is fetched, not sent")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])


def conversation_topic(conversation_id: Any) -> str:
    return f"conversation:{conversation_id}"


QUEUE_TOPIC = "queue"


# --- Tickets: which topic a stream may hear --------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """A stream's topic and the events it passes on (a customer does not need their own messages
    echoed; an agent's console does not need the agent's own typing)."""

    topic: str
    events: frozenset[str] = frozenset()  # empty: every event
    skip_roles: frozenset[str] = frozenset()

    def wants(self, event: dict) -> bool:
        if self.events and event.get("event") not in self.events:
            return False
        return event.get("role") not in self.skip_roles


def ticket(subscription: Subscription) -> str:
    """A signed, timestamped ticket a page passes to /events/ (checked there without the database)."""
    value = {"t": subscription.topic, "e": sorted(subscription.events), "s": sorted(subscription.skip_roles)}
    return signing.dumps(value, salt=TICKET_SALT, compress=False)


def read_ticket(value: str, *, max_age: float | None = None) -> Subscription | None:
    """The subscription a ticket grants, or None when it is forged, malformed or too old."""
    max_age = settings.LIVE_TICKET_MAX_AGE_SECONDS if max_age is None else max_age
    try:
        data = signing.loads(value, salt=TICKET_SALT, max_age=max_age)
        return Subscription(
            topic=str(data["t"]), events=frozenset(map(str, data["e"])), skip_roles=frozenset(map(str, data["s"]))
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def events_url(subscription: Subscription, *, last_id: int = 0) -> str:
    """Where a page opens its stream ("" when live events are off: the page polls)."""
    if not settings.LIVE_EVENTS_ENABLED:
        return ""
    return f"{EVENTS_PATH}?ticket={ticket(subscription)}&last={int(last_id)}"


# --- Limits ------------------------------------------------------------------------------------


class Limits:
    """Open streams, counted per web process: in all, per client address, per topic (a topic is
    one conversation, or the queue). The maxima are the LIVE_MAX_* settings as they are now."""

    def __init__(self) -> None:
        self.open = 0
        self.by_address: dict[str, int] = defaultdict(int)
        self.by_topic: dict[str, int] = defaultdict(int)

    def acquire(self, address: str, topic: str) -> str:
        """ "" when a stream may open (and it is counted), else the setting that refuses it."""
        if self.open >= settings.LIVE_MAX_CONNECTIONS:
            return "LIVE_MAX_CONNECTIONS"
        if self.by_address.get(address, 0) >= settings.LIVE_MAX_PER_ADDRESS:
            return "LIVE_MAX_PER_ADDRESS"
        if self.by_topic.get(topic, 0) >= settings.LIVE_MAX_PER_CONVERSATION:
            return "LIVE_MAX_PER_CONVERSATION"
        self.open += 1
        self.by_address[address] += 1
        self.by_topic[topic] += 1
        return ""

    def release(self, address: str, topic: str) -> None:
        self.open -= 1
        for counts, key in ((self.by_address, address), (self.by_topic, topic)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]


# --- The hub: one listening connection per process, fanned out in memory ------------------------

CLOSED = object()  # put on a stream's queue when it must end (listener lost, queue overflowed)


@dataclass(eq=False)
class Stream:
    subscription: Subscription
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=settings.LIVE_QUEUE_SIZE))

    def offer(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A stream that does not keep up ends; the browser reconnects and catches up by id.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(CLOSED)


def _listen_params() -> dict[str, Any]:
    """The default database's connection parameters, less Django's own (sync cursor classes)."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return params


class Hub:
    """Routes NOTIFY payloads to the streams of their topic; remembers each topic's newest id, so a
    reconnecting stream learns whether it missed something (only while the listener is unbroken)."""

    LATEST_KEPT = 10_000

    def __init__(self, connect=None, *, reconnect_max: float = 10.0) -> None:
        self._connect = connect or self._connect_default
        self.reconnect_max = reconnect_max
        self.streams: dict[str, set[Stream]] = defaultdict(set)
        self.latest: OrderedDict[str, int] = OrderedDict()
        self.ready = asyncio.Event()
        self.limits = Limits()
        self._task: asyncio.Task | None = None

    @staticmethod
    async def _connect_default():
        params = _listen_params()
        return await psycopg.AsyncConnection.connect(**params, autocommit=True)

    async def start(self, timeout: float = 3.0) -> bool:
        """Start listening (once); True when the listener is up within `timeout`."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="live-hub")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self.ready.is_set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drop_all()

    def subscribe(self, subscription: Subscription) -> Stream:
        stream = Stream(subscription)
        self.streams[subscription.topic].add(stream)
        return stream

    def unsubscribe(self, stream: Stream) -> None:
        streams = self.streams.get(stream.subscription.topic)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self.streams[stream.subscription.topic]

    def dispatch(self, payload: str) -> int:
        """Hand one NOTIFY payload to the streams that want it; how many got it."""
        try:
            event = json.loads(payload)
            topic = event["topic"]
        except (ValueError, KeyError, TypeError):
            logger.warning("live: an event that is not ours on the channel", extra={"payload": payload[:200]})
            return 0
        if isinstance(event.get("id"), int) and event.get("event") == "message":
            self.latest[topic] = max(event["id"], self.latest.get(topic, 0))
            self.latest.move_to_end(topic)
            while len(self.latest) > self.LATEST_KEPT:
                self.latest.popitem(last=False)
        delivered = 0
        for stream in list(self.streams.get(topic, ())):
            if stream.subscription.wants(event):
                stream.offer(event)
                delivered += 1
        return delivered

    def _drop_all(self) -> None:
        """The listener is gone: end every stream (the browsers poll, then reconnect)."""
        self.ready.clear()
        self.latest.clear()  # what was missed while deaf is unknown: reconnecting streams resync
        self.close_streams()

    def close_streams(self) -> None:
        for streams in self.streams.values():
            for stream in streams:
                stream.offer(CLOSED)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await self._connect()
                try:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    delay = 0.5
                    async for note in conn.notifies():
                        self.dispatch(note.payload)
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: streams end, pages poll meanwhile
                logger.warning("live: listener lost (%s); retrying in %.1f s", exc.__class__.__name__, delay)
            self._drop_all()
            await asyncio.sleep(delay)
            delay = min(self.reconnect_max, delay * 2)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub (one per web process; tests run their own loops)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None:
        current = _hubs[loop] = Hub()
    return current


# --- The endpoint --------------------------------------------------------------------------------


def _frame(event: dict) -> bytes:
    lines = [f"event: {event.get('event', 'message')}"]
    if isinstance(event.get("id"), int):
        lines.append(f"id: {event['id']}")
    body = {k: v for k, v in event.items() if k != "topic"}
    lines.append(f"data: {json.dumps(body, separators=(',', ':'))}")
    return ("\n".join(lines) + "\n\n").encode()


async def _respond(send, status: int, text: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _int(text: str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


async def events_app(scope, receive, send, *, the_hub: Hub | None = None) -> None:
    """GET /events/?ticket=…&last=N: a text/event-stream of the ticket's topic.

    Refusals are plain responses the browser's EventSource does not retry (403 bad ticket, 429 over
    a limit, 503 no listener), so the page falls back to polling at once."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        await _respond(send, 405, "GET only.", [(b"allow", b"GET")])
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    subscription = read_ticket((query.get("ticket") or [""])[0])
    if subscription is None:
        await _respond(send, 403, "No valid ticket.")
        return
    the_hub = the_hub or hub()
    client = scope.get("client") or ("", 0)
    address = address_of(client[0], _header(scope, b"x-forwarded-for"))
    refused = the_hub.limits.acquire(address, subscription.topic)
    if refused:
        await _respond(send, 429, f"Too many open streams ({refused}).", [(b"retry-after", b"30")])
        return
    try:
        if not await the_hub.start():
            await _respond(send, 503, "Live events are unavailable; poll.", [(b"retry-after", b"30")])
            return
        # Last-Event-ID on a reconnect, else what the page was rendered with.
        seen = _int(_header(scope, b"last-event-id")) or _int((query.get("last") or [""])[0])
        stream = the_hub.subscribe(subscription)
        try:
            await _serve(scope, receive, send, the_hub, stream, seen)
        finally:
            the_hub.unsubscribe(stream)
    finally:
        the_hub.limits.release(address, subscription.topic)


async def _serve(scope, receive, send, the_hub: Hub, stream: Stream, seen: int | None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),  # a buffering proxy would hold events back
            ],
        }
    )
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    opening = f"retry: {settings.LIVE_RETRY_MILLISECONDS}\n\n".encode()
    latest = the_hub.latest.get(stream.subscription.topic)
    if seen is None or latest is None or latest > seen:
        # Something may have come since the page was drawn (or while reconnecting): fetch once.
        opening += _frame({"event": "sync", **({"id": latest} if latest else {})})
    await send({"type": "http.response.body", "body": opening, "more_body": True})
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + settings.LIVE_MAX_LIFETIME_SECONDS
    disconnected = loop.create_task(_wait_disconnect(receive))
    try:
        while True:
            left = ends_at - loop.time()
            if left <= 0:
                break
            getter = loop.create_task(stream.queue.get())
            done, _ = await asyncio.wait(
                {getter, disconnected},
                timeout=min(settings.LIVE_HEARTBEAT_SECONDS, left),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if disconnected in done:
                getter.cancel()
                return
            if getter in done:
                item = getter.result()
                if item is CLOSED:
                    break
                await send({"type": "http.response.body", "body": _frame(item), "more_body": True})
            else:
                getter.cancel()
                await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        disconnected.cancel()


async def _wait_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def close_all() -> None:
    """End every open stream of this process (the server is shutting down)."""
    for each in list(_hubs.values()):
        each.close_streams()
