"""The demo shop's order system: order status needs the order's own e-mail; a return's eligibility
comes from the window the flow sends (its settings), not from code; off the demo there is nothing."""

from __future__ import annotations

import json

import pytest

from demo.models import DemoReturnRequest

pytestmark = pytest.mark.django_db


def post(client, path, slots, flow_settings=None):
    body = json.dumps({"flow": "x", "slots": slots, "settings": flow_settings or {}})
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def demo(settings):
    settings.DEMO_ENABLED = True


def test_order_status_needs_the_matching_email(client, demo):
    ok = post(client, "/demo/api/orders/status/", {"order_number": "bw 10423001", "email": "JO@example.com"}).json()
    assert ok == {"found": True, "status": "shipped", "shipped": True, "carrier": "DHL", "tracking": "JD014600003121"}
    other = post(client, "/demo/api/orders/status/", {"order_number": "BW-10423001", "email": "sam@example.com"})
    assert other.json() == {"found": False}


def test_the_return_window_is_the_flows_setting(client, demo):
    slots = {"order_number": "BW-10423004", "email": "kim@example.com", "item": "accessory", "reason": "r"}
    assert post(client, "/demo/api/returns/", slots, {"return_window_days": 30}).json()["eligible"] is False
    wider = post(client, "/demo/api/returns/", slots, {"return_window_days": 60}).json()
    assert wider["eligible"] is True and wider["reference"].startswith("R-")
    assert DemoReturnRequest.objects.get().order_number == "BW-10423004"


def test_nothing_off_the_demo(client, settings):
    settings.DEMO_ENABLED = False
    assert post(client, "/demo/api/orders/status/", {}).status_code == 404
