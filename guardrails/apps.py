from django.apps import AppConfig

from core.startup import register_warmer


class GuardrailsConfig(AppConfig):
    name = "guardrails"

    def ready(self) -> None:
        from guardrails import decoding, segment_probe  # imported here: they read settings

        # The guard's word tables (0.1-0.4 s) and the segment probe's weights load at process start, not
        # inside the first customer request.
        register_warmer(decoding.warm)
        register_warmer(segment_probe.warm)
