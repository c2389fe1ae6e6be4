"""The demo shop's order system, as far as its flows need one: order status and return requests.

JSON in (a flow's call: {"flow", "slots", "settings"}), JSON out (fields the flow's next steps use).
Only on the demo (DEMO_ENABLED); a real shop points its flows' call steps at its own system.
"""

from __future__ import annotations

import json
import re
import secrets
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from demo.models import DemoReturnRequest

ORDERS = Path(__file__).resolve().parent / "orders.json"


@cache
def _orders() -> dict[str, dict[str, Any]]:
    return {_key(o["number"]): o for o in json.loads(ORDERS.read_text())["orders"]}


def _key(number: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", str(number).upper())


def _read(request: HttpRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    if not settings.DEMO_ENABLED:
        raise Http404("demo only")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    slots = body.get("slots") if isinstance(body, dict) else None
    flow_settings = body.get("settings") if isinstance(body, dict) else None
    return (slots if isinstance(slots, dict) else {}), (flow_settings if isinstance(flow_settings, dict) else {})


def _find(slots: dict[str, Any]) -> dict[str, Any] | None:
    """The order, if the e-mail is the one it was placed with (no looking up other people's orders)."""
    order = _orders().get(_key(slots.get("order_number", "")))
    if order is None or str(slots.get("email", "")).strip().lower() != order["email"]:
        return None
    return order


@csrf_exempt  # called server to server by a flow, never by a browser form
@require_POST
def order_status(request: HttpRequest) -> JsonResponse:
    slots, _ = _read(request)
    order = _find(slots)
    if order is None:
        return JsonResponse({"found": False})
    fields = ("status", "shipped", "carrier", "tracking")
    return JsonResponse({"found": True, **{k: order[k] for k in fields}})


@csrf_exempt
@require_POST
def returns(request: HttpRequest) -> JsonResponse:
    """Eligible when the item was delivered within the flow's window for its kind (the flow's
    settings carry the windows of the returns article); an eligible request is recorded."""
    slots, flow_settings = _read(request)
    order = _find(slots)
    if order is None:
        return JsonResponse({"found": False, "eligible": False, "message": "I couldn't find that order."})
    item = str(slots.get("item", "")).lower()
    key = "ebike_return_window_days" if item == "e-bike" else "return_window_days"
    window = int(flow_settings.get(key, 0) or 0)
    days = order["delivered_days_ago"]
    if days is None:
        return JsonResponse({"found": True, "eligible": False, "message": "That order hasn't been delivered yet."})
    if days > window:
        return JsonResponse(
            {
                "found": True,
                "eligible": False,
                "days": days,
                "window": window,
                "message": f"That order was delivered {days} days ago, past the {window}-day return window.",
            }
        )
    reference = "R-" + secrets.token_hex(3).upper()
    DemoReturnRequest.objects.create(
        reference=reference,
        order_number=order["number"],
        email=order["email"],
        item=item,
        reason=str(slots.get("reason", ""))[:2000],
    )
    return JsonResponse({"found": True, "eligible": True, "reference": reference, "days": days, "window": window})
