from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        from support.pipeline import triggers

        triggers.connect_signals()
