"""Live events without HTTP: publishing through PostgreSQL NOTIFY (from triggers and `notify`), the hub
that fans a listener out to streams, tickets, the limits, and the ASGI endpoint called directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

import pytest
from django.contrib.auth.models import Group, User
from django.core import signing
from django.db import connection, transaction

from core import live
from escalation import services as escalation_services
from escalation.models import Escalation
from support import services as support_services
from support.models import Conversation, Message
from tests import aio

# --- A hub listening in a thread of its own, as in a web process ---------------------------------


class HubThread:
    """A running Hub on its own event loop; the test thread writes to the database meanwhile."""

    def __init__(self, hub: live.Hub | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.hub: live.Hub | None = hub
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> HubThread:
        self.thread.start()
        if self.hub is None:
            self.hub = self.call(self._new_hub)
        assert self.call(self.hub.start, 5.0), "the hub did not start listening"
        return self

    @staticmethod
    async def _new_hub() -> live.Hub:
        return live.Hub()

    def call(self, fn, *args, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result(timeout)

    def subscribe(self, subscription: live.Subscription) -> live.Stream:
        async def sub():
            return self.hub.subscribe(subscription)

        return self.call(sub)

    def next_event(self, stream: live.Stream, timeout: float = 2.0):
        async def get():
            return await asyncio.wait_for(stream.queue.get(), timeout)

        try:
            return self.call(get, timeout=timeout + 1)
        except TimeoutError:
            return None

    def __exit__(self, *exc) -> None:
        self.call(self.hub.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def hub_thread(transactional_db):
    with HubThread() as running:
        yield running


def conversation() -> Conversation:
    return support_services.conversation_create(channel="web").conversation


def test_a_new_message_is_published_at_commit_and_not_on_rollback(hub_thread):
    chat = conversation()
    stream = hub_thread.subscribe(live.Subscription(topic=live.conversation_topic(chat.pk)))
    with transaction.atomic():
        message = Message.objects.create(conversation=chat, role=Message.Role.AGENT, text="Hello")
        # inside the transaction nothing has gone out yet
        assert hub_thread.next_event(stream, timeout=0.3) is None
    event = hub_thread.next_event(stream)
    assert event == {"topic": f"conversation:{chat.pk}", "event": "message", "id": message.pk, "role": "agent"}

    with contextlib.suppress(RuntimeError), transaction.atomic():
        Message.objects.create(conversation=chat, role=Message.Role.AGENT, text="never sent")
        raise RuntimeError("roll back")
    assert hub_thread.next_event(stream, timeout=0.5) is None


def an_agent() -> User:
    agent = User.objects.create_user("dana", first_name="Dana", is_staff=True)
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    return agent


def test_every_writer_of_messages_publishes_through_the_trigger(hub_thread):
    """The customer's message recorded while a person owns the chat, the hand-over and the agent's
    reply are written by three different services; each is heard on the conversation's topic."""
    agent = an_agent()
    chat = conversation()
    stream = hub_thread.subscribe(
        live.Subscription(topic=live.conversation_topic(chat.pk), events=frozenset({"message"}))
    )
    handed = support_services.handoff(conversation=chat)
    assert hub_thread.next_event(stream)["id"] == handed.pk
    escalation = Escalation.objects.get(conversation=chat)
    escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    reply = escalation_services.escalation_reply(escalation=escalation, agent=agent, text="Hi")
    assert hub_thread.next_event(stream) == {
        "topic": f"conversation:{chat.pk}",
        "event": "message",
        "id": reply.pk,
        "role": "agent",
    }
    chat.refresh_from_db()
    support_services.message_post(conversation=chat, text="thanks, one more thing")
    event = hub_thread.next_event(stream)
    assert event["role"] == "customer" and Message.objects.get(pk=event["id"]).text == "thanks, one more thing"
    assert hub_thread.hub.latest[f"conversation:{chat.pk}"] == event["id"]


def test_the_queue_hears_escalations_open_and_change(hub_thread):
    agent = an_agent()
    queue = hub_thread.subscribe(live.Subscription(topic=live.QUEUE_TOPIC))
    support_services.handoff(conversation=conversation())
    opened = hub_thread.next_event(queue)
    assert opened["event"] == "queue" and opened["status"] == "open"
    escalation_services.escalation_claim(escalation_id=opened["escalation"], agent=agent)
    assert hub_thread.next_event(queue)["status"] == "claimed"


def test_the_chat_hears_its_conversation_close(hub_thread):
    """Resolving writes no message, but the customer's open chat must learn the conversation ended."""
    agent = an_agent()
    chat = conversation()
    stream = hub_thread.subscribe(
        live.Subscription(topic=live.conversation_topic(chat.pk), events=frozenset({"status"}))
    )
    support_services.handoff(conversation=chat)
    assert hub_thread.next_event(stream)["status"] == "human"
    escalation = Escalation.objects.get(conversation=chat)
    escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    escalation.refresh_from_db()
    escalation_services.escalation_resolve(escalation=escalation, agent=agent, outcome="answered")
    assert hub_thread.next_event(stream) == {"topic": f"conversation:{chat.pk}", "event": "status", "status": "closed"}
    Conversation.objects.filter(pk=chat.pk).update(status=Conversation.Status.CLOSED)  # no change: no event
    assert hub_thread.next_event(stream, timeout=0.3) is None


def test_typing_is_pushed_with_how_long_it_shows(hub_thread):
    chat = conversation()
    stream = hub_thread.subscribe(live.Subscription(topic=live.conversation_topic(chat.pk)))
    support_services.agent_typing_mark(conversation_id=chat.pk, name="Dana")
    event = hub_thread.next_event(stream)
    assert event["event"] == "typing" and event["seconds"] == support_services.TYPING_SECONDS


def test_a_stream_hears_only_its_topic_and_what_its_subscription_wants(hub_thread):
    customer = hub_thread.subscribe(live.Subscription(topic="conversation:a", skip_roles=frozenset({"customer"})))
    console = hub_thread.subscribe(live.Subscription(topic="conversation:a", events=frozenset({"message"})))
    other = hub_thread.subscribe(live.Subscription(topic="conversation:b"))
    live.notify("conversation:a", "message", id=1, role="customer")
    live.notify("conversation:a", "typing", seconds=6)
    live.notify("conversation:a", "message", id=2, role="agent")
    assert [e["event"] for e in (hub_thread.next_event(customer), hub_thread.next_event(customer))] == [
        "typing",
        "message",
    ]
    assert [hub_thread.next_event(console)["id"], hub_thread.next_event(console)["id"]] == [1, 2]
    assert hub_thread.next_event(other, timeout=0.3) is None


def test_notify_refuses_content_it_should_not_carry(db):
    with pytest.raises(ValueError):
        live.notify("conversation:a", "message", text="x" * 8000)


def test_a_foreign_payload_on_the_channel_is_ignored():
    hub = live.Hub()
    stream = hub.subscribe(live.Subscription(topic="t"))
    assert hub.dispatch("not json") == 0
    assert hub.dispatch(json.dumps({"no": "topic"})) == 0
    assert hub.dispatch(json.dumps({"topic": "t", "event": "message", "id": 3})) == 1
    assert stream.queue.qsize() == 1


def test_a_stream_that_falls_behind_is_ended(settings):
    settings.LIVE_QUEUE_SIZE = 3
    hub = live.Hub()
    stream = hub.subscribe(live.Subscription(topic="t"))
    for i in range(5):
        hub.dispatch(json.dumps({"topic": "t", "event": "message", "id": i}))
    items = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    assert items[-1] is live.CLOSED  # the browser reconnects and catches up by id


def test_latest_ids_are_bounded(monkeypatch):
    monkeypatch.setattr(live.Hub, "LATEST_KEPT", 3)
    hub = live.Hub()
    for i in range(10):
        hub.dispatch(json.dumps({"topic": f"c{i}", "event": "message", "id": i}))
    assert list(hub.latest) == ["c7", "c8", "c9"]


# --- Tickets -----------------------------------------------------------------------------------


def test_a_ticket_grants_its_subscription_and_nothing_else():
    subscription = live.Subscription(topic="conversation:7", skip_roles=frozenset({"customer"}))
    value = live.ticket(subscription)
    assert live.read_ticket(value) == subscription
    _payload, rest = value.split(":", 1)
    forged = live.ticket(live.Subscription(topic="conversation:8")).split(":", 1)[0] + ":" + rest
    assert live.read_ticket(forged) is None
    assert live.read_ticket("garbage") is None
    assert live.read_ticket(signing.dumps({"t": "x"}, salt="another.salt")) is None


def test_a_ticket_expires(settings, monkeypatch):
    value = live.ticket(live.Subscription(topic="queue"))
    settings.LIVE_TICKET_MAX_AGE_SECONDS = 60
    later = time.time() + 61
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert live.read_ticket(value) is None


def test_no_stream_url_when_live_events_are_off(settings):
    settings.LIVE_EVENTS_ENABLED = False
    assert live.events_url(live.Subscription(topic="queue")) == ""


# --- Limits ----------------------------------------------------------------------------------------


def test_limits_per_address_per_conversation_and_in_all(settings):
    settings.LIVE_MAX_PER_ADDRESS = 2
    settings.LIVE_MAX_PER_CONVERSATION = 3
    settings.LIVE_MAX_CONNECTIONS = 5
    limits = live.Limits()
    assert limits.acquire("1.1.1.1", "c:1") == ""
    assert limits.acquire("1.1.1.1", "c:2") == ""
    assert limits.acquire("1.1.1.1", "c:3") == "LIVE_MAX_PER_ADDRESS"
    assert limits.acquire("2.2.2.2", "c:1") == ""
    assert limits.acquire("3.3.3.3", "c:1") == ""
    assert limits.acquire("4.4.4.4", "c:1") == "LIVE_MAX_PER_CONVERSATION"
    assert limits.acquire("4.4.4.4", "c:9") == ""
    assert limits.acquire("5.5.5.5", "c:10") == "LIVE_MAX_CONNECTIONS"
    limits.release("1.1.1.1", "c:1")
    assert limits.acquire("1.1.1.1", "c:3") == ""
    for address, topic in [("1.1.1.1", "c:2"), ("1.1.1.1", "c:3"), ("2.2.2.2", "c:1"), ("3.3.3.3", "c:1")]:
        limits.release(address, topic)
    limits.release("4.4.4.4", "c:9")
    assert limits.open == 0 and not limits.by_address and not limits.by_topic


# --- The endpoint, called as an ASGI app -----------------------------------------------------------


class FakeHub(live.Hub):
    """A hub whose listener is up (or never comes up) without a database."""

    def __init__(self, up: bool = True) -> None:
        super().__init__()
        self.up = up

    async def start(self, timeout: float = 3.0) -> bool:
        if self.up:
            self.ready.set()
        return self.up


class Client:
    """Calls live.events_app as a server would; collects what it sends."""

    def __init__(self, hub: live.Hub) -> None:
        self.hub = hub
        self.sent: list[dict] = []
        self.disconnect = asyncio.Event()

    async def receive(self):
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message):
        self.sent.append(message)

    def scope(self, subscription, *, last_event_id=None, last=0, client="198.51.100.7", ticket=None):
        headers = [(b"last-event-id", str(last_event_id).encode())] if last_event_id is not None else []
        value = ticket if ticket is not None else live.ticket(subscription)
        return {
            "type": "http",
            "method": "GET",
            "path": "/events/",
            "query_string": f"ticket={value}&last={last}".encode(),
            "headers": headers,
            "client": (client, 50000),
        }

    async def run(self, scope):
        await live.events_app(scope, self.receive, self.send, the_hub=self.hub)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def body(self) -> str:
        return b"".join(m.get("body", b"") for m in self.sent[1:]).decode()


SUB = live.Subscription(topic="conversation:1", skip_roles=frozenset({"customer"}))


def test_the_stream_sends_events_heartbeats_and_ends_at_its_lifetime(settings):
    settings.LIVE_HEARTBEAT_SECONDS = 1
    settings.LIVE_MAX_LIFETIME_SECONDS = 2.5

    async def scenario():
        hub = FakeHub()
        client = Client(hub)
        task = asyncio.create_task(client.run(client.scope(SUB, last=5)))
        await asyncio.sleep(0.2)
        hub.dispatch(json.dumps({"topic": "conversation:1", "event": "message", "id": 6, "role": "agent"}))
        hub.dispatch(json.dumps({"topic": "conversation:1", "event": "message", "id": 7, "role": "customer"}))
        started = time.monotonic()
        await asyncio.wait_for(task, 5)
        return client, time.monotonic() - started, hub

    client, took, hub = aio.run(scenario())
    assert client.status == 200
    assert dict(client.sent[0]["headers"])[b"content-type"].startswith(b"text/event-stream")
    body = client.body
    assert body.startswith("retry: 2000\n\n")
    assert 'event: message\nid: 6\ndata: {"event":"message","id":6,"role":"agent"}\n\n' in body
    assert "id: 7" not in body  # the customer's own message is not echoed to them
    assert body.count(": ping\n\n") >= 1  # a quiet stream still says something every second
    assert 1.5 < took < 3.5  # ended by the lifetime cap, not by the client
    assert client.sent[-1] == {"type": "http.response.body", "body": b""}
    assert hub.limits.open == 0 and not hub.streams


def test_a_reconnect_resyncs_only_when_it_missed_something(settings):
    settings.LIVE_MAX_LIFETIME_SECONDS = 5

    async def connect(hub, **kwargs):
        client = Client(hub)
        task = asyncio.create_task(client.run(client.scope(SUB, **kwargs)))
        await asyncio.sleep(0.1)
        client.disconnect.set()
        await asyncio.wait_for(task, 5)
        return client.body

    async def scenario():
        hub = FakeHub()
        unknown = await connect(hub, last_event_id=10)  # nothing heard since start: fetch once
        hub.dispatch(json.dumps({"topic": "conversation:1", "event": "message", "id": 12, "role": "agent"}))
        missed = await connect(hub, last_event_id=10)
        current = await connect(hub, last_event_id=12)
        from_page = await connect(hub, last=12)  # first connection: the id the page was drawn with
        return unknown, missed, current, from_page

    unknown, missed, current, from_page = aio.run(scenario())
    assert "event: sync" in unknown
    assert "event: sync\nid: 12" in missed
    assert "event: sync" not in current
    assert "event: sync" not in from_page


def test_refusals_are_final_answers_the_browser_does_not_retry(settings):
    settings.LIVE_MAX_PER_ADDRESS = 1

    async def scenario():
        results = {}
        hub = FakeHub()
        holder = Client(hub)
        held = asyncio.create_task(holder.run(holder.scope(SUB)))
        await asyncio.sleep(0.1)
        second = Client(hub)
        await second.run(second.scope(SUB))
        results["over_limit"] = second.status
        other_address = Client(hub)
        task = asyncio.create_task(other_address.run(other_address.scope(SUB, client="203.0.113.5")))
        await asyncio.sleep(0.1)
        results["other_address"] = other_address.status
        for c in (holder, other_address):
            c.disconnect.set()
        await asyncio.gather(held, task)
        forged = Client(hub)
        await forged.run(forged.scope(SUB, ticket="nope"))
        results["forged"] = forged.status
        down = Client(FakeHub(up=False))
        await down.run(down.scope(SUB))
        results["no_listener"] = down.status
        results["open_after"] = hub.limits.open + down.hub.limits.open
        return results

    results = aio.run(scenario())
    assert results == {"over_limit": 429, "other_address": 200, "forged": 403, "no_listener": 503, "open_after": 0}


def test_the_address_is_the_trusted_one(settings):
    """A client cannot dodge the per-address limit with its own X-Forwarded-For."""
    settings.LIVE_MAX_PER_ADDRESS = 1
    settings.TRUSTED_PROXIES = []

    async def scenario():
        hub = FakeHub()
        first = Client(hub)
        task = asyncio.create_task(first.run(first.scope(SUB)))
        await asyncio.sleep(0.1)
        spoofing = Client(hub)
        scope = spoofing.scope(SUB)
        scope["headers"].append((b"x-forwarded-for", b"192.0.2.99"))
        await spoofing.run(scope)
        first.disconnect.set()
        await task
        return spoofing.status

    assert aio.run(scenario()) == 429


def test_a_lost_listener_ends_every_stream():
    async def scenario():
        hub = FakeHub()
        client = Client(hub)
        task = asyncio.create_task(client.run(client.scope(SUB)))
        await asyncio.sleep(0.1)
        hub._drop_all()
        await asyncio.wait_for(task, 2)
        return client, hub

    client, hub = aio.run(scenario())
    assert client.status == 200 and client.sent[-1]["body"] == b""
    assert not hub.ready.is_set()


def test_the_hub_comes_back_after_the_database_goes(transactional_db):
    """The listening connection is killed; the hub reconnects and hears new events again."""
    with HubThread(live.Hub(reconnect_max=0.5)) as running:
        stream = running.subscribe(live.Subscription(topic="t"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE %s AND pid <> pg_backend_pid()",
                [f"LISTEN {live.CHANNEL}%"],
            )
            assert cursor.fetchone() is not None
        assert running.next_event(stream) is live.CLOSED
        deadline = time.monotonic() + 10
        while not running.hub.ready.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running.hub.ready.is_set()
        again = running.subscribe(live.Subscription(topic="t"))
        live.notify("t", "message", id=1)
        assert running.next_event(again)["id"] == 1
