from django.apps import AppConfig

from core.startup import register_warmer


class GuardrailsConfig(AppConfig):
    name = "guardrails"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from guardrails import decoding, segment_probe  # imported here: they read settings
        from guardrails.models import InjectionPattern

        # The guard's word tables (0.1-0.4 s) and the segment probe's weights load at process start, not
        # inside the first customer request.
        register_warmer(decoding.warm)
        register_warmer(segment_probe.warm)
        register_warmer(_warm_patterns)
        # The guard searches its patterns in memory: a pattern saved or deleted in this process is read again
        # at once (other processes within GUARD_PATTERNS_REFRESH_SECONDS).
        post_save.connect(_patterns_changed, sender=InjectionPattern, dispatch_uid="guard-patterns-saved")
        post_delete.connect(_patterns_changed, sender=InjectionPattern, dispatch_uid="guard-patterns-deleted")


def _warm_patterns() -> None:
    from guardrails import scoring

    scoring.warm_patterns()


def _patterns_changed(**kwargs) -> None:
    from guardrails import scoring

    scoring.patterns_changed()
