from django.apps import AppConfig

from core.events import alert_requested


class InsightsConfig(AppConfig):
    name = "insights"

    def ready(self) -> None:
        # Lower layers raise alerts and show per-version results through hooks (core.events,
        # knowledge.selectors); insights owns the tables behind them. Imported here: models load first.
        from insights import handlers

        alert_requested.connect(handlers.on_alert_requested, dispatch_uid="insights.alert")
        handlers.register_providers()
