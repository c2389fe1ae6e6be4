"""What insights does when a lower layer signals (connected in InsightsConfig.ready)."""

from __future__ import annotations

from insights import selectors, services
from knowledge import selectors as knowledge_selectors


def on_alert_requested(sender: object, *, kind: str, message: str, **detail: object) -> None:
    detail.pop("signal", None)
    services.alert_raise(kind=kind, message=message, **detail)


def register_providers() -> None:
    knowledge_selectors.register_version_stats(selectors.approved_version_stats)
