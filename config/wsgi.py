"""The WSGI application; the process is warmed (checks, models) before it serves."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

from core.startup import process_start  # noqa: E402  (needs the app registry that get_wsgi_application filled)

process_start()
