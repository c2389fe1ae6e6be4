from django.apps import AppConfig

from core.startup import register_warmer


class GuardrailsConfig(AppConfig):
    name = "guardrails"

    def ready(self) -> None:
        from guardrails import decoding  # imported here: it reads settings

        # The guard's word tables (0.1-0.4 s) load at process start, not inside the first customer request.
        register_warmer(decoding.warm)
