"""The client address: X-Forwarded-For believed only from TRUSTED_PROXIES, read from the right."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from core.net import client_ip


def ip(remote: str, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert ip("10.0.0.5", "203.0.113.9") == "10.0.0.5"


def test_a_trusted_proxy_forwards_the_client(proxies):
    assert ip("10.0.0.5", "203.0.113.9") == "203.0.113.9"


def test_an_untrusted_peer_cannot_choose_its_address(proxies):
    # given: a client that talks to us directly and writes the header itself
    assert ip("198.51.100.4", "203.0.113.9") == "198.51.100.4"


def test_a_spoofed_left_part_of_the_chain_is_skipped(proxies):
    # the client wrote "1.2.3.4" itself; our proxy appended the address it saw
    assert ip("10.0.0.5", "1.2.3.4, 203.0.113.9") == "203.0.113.9"


def test_two_trusted_proxies_in_a_row(proxies):
    assert ip("10.0.0.5", "1.2.3.4, 203.0.113.9, 192.0.2.1") == "203.0.113.9"


def test_only_trusted_hops_gives_the_leftmost(proxies):
    assert ip("10.0.0.5", "10.1.1.1, 192.0.2.1") == "10.1.1.1"


def test_garbage_in_the_chain_stops_the_walk(proxies):
    assert ip("10.0.0.5", "203.0.113.9, not-an-ip") == "10.0.0.5"
    assert ip("10.0.0.5", "") == "10.0.0.5"


def test_ports_and_ipv6(proxies):
    assert ip("2001:db8::1", "[2001:db8:ffff::1]:443, 203.0.113.9:5123") == "203.0.113.9"
    assert ip("::ffff:10.0.0.5", "203.0.113.7") == "203.0.113.7"


def test_a_bad_trusted_proxies_setting_fails_at_start(monkeypatch):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "TRUSTED_PROXIES": "10.0.0.0/8,proxy.example",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "TRUSTED_PROXIES must be addresses or CIDRs" in result.stderr


@pytest.mark.django_db
def test_customers_behind_one_proxy_get_their_own_allowance(proxies, settings):
    # given: the new-conversation limit is 2 per client, and every request comes through 10.0.0.5
    from django.core.cache import cache

    cache.clear()
    settings.CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP = 2
    api = APIClient()

    def start(client_address: str) -> int:
        return api.post(
            "/api/v1/conversations/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=client_address
        ).status_code

    # when / then: one customer runs out, the next one behind the same proxy does not
    assert [start("203.0.113.9") for _ in range(3)] == [201, 201, 429]
    assert start("203.0.113.10") == 201
    # and a client cannot dodge its limit by writing the header itself
    assert [start("9.9.9.9, 203.0.113.9") for _ in range(1)] == [429]
