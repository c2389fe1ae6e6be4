import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def _start() -> None:
    from django.conf import settings

    from core import embeddings
    from core.startup import verify_services

    verify_services()
    if settings.EMBEDDING_WARM_AT_START:
        embeddings.warm()


_start()
