"""What escalation does when a lower layer signals (connected in EscalationConfig.ready)."""

from __future__ import annotations

from escalation import services


def on_handover_requested(
    sender: object, *, conversation, message, reason: str, priority: int, detail: str = "", flow=None, **_
):
    services.escalation_open(
        conversation=conversation, message=message, reason=reason, priority=priority, detail=detail, flow=flow
    )
