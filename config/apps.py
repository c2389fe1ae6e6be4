from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The top layer: settings, URLs, the Celery app and the process commands (serve, stopdb)."""

    name = "config"
    verbose_name = "Groundwork configuration"
