from django.apps import AppConfig

from core.startup import register_warmer


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        from support.pipeline import triggers

        triggers.connect_signals()
        register_warmer(_warm_cross_encoder)


def _warm_cross_encoder() -> None:
    """Export (first start on a machine) and load the reader's cross-encoder before the first turn;
    switched on without updates to read, or unable to build it, the process does not start."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from support.reader import cross_encoder

    if settings.READER_CROSS_ENCODER_CANDIDATES <= 0:
        return
    try:
        loaded = cross_encoder.load()
    except RuntimeError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    if loaded is None:
        raise ImproperlyConfigured(
            f"READER_CROSS_ENCODER_CANDIDATES={settings.READER_CROSS_ENCODER_CANDIDATES} but there are no trained "
            f"updates at {cross_encoder.delta_path()}: train them (bench/cross_encoder.py) or set it to 0"
        )
