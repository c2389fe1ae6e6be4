import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def _start() -> None:
    from django.conf import settings

    from core import embeddings
    from core.startup import verify_services
    from guardrails import decoding

    verify_services()
    if settings.EMBEDDING_WARM_AT_START:
        embeddings.warm()
        decoding.warm()  # the guard's word tables (0.1-0.4 s), not inside the first customer request


_start()
