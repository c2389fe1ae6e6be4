from django.apps import AppConfig

from core.startup import register_warmer


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        from support.pipeline import triggers

        triggers.connect_signals()
        register_warmer(_warm_cross_encoder)


def _warm_cross_encoder() -> None:
    """Export (first start on a machine) and load the reader's cross-encoder before the first turn."""
    from django.conf import settings

    from support.reader import cross_encoder

    if settings.READER_CROSS_ENCODER_CANDIDATES > 0:
        cross_encoder.load()
