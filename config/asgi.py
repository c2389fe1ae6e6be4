"""The ASGI application `make run` serves (gunicorn with uvicorn workers, config/asgi_worker.py).

`/events/` is the live-events stream (core/live.py), served on the event loop: an open stream holds
no thread. Everything else is the WSGI application, as before, on a fixed pool of WEB_THREADS
threads (a2wsgi), so views, persistent database connections and the start-up warm-up behave as they
did under gunicorn's threads. The WSGI entry point (config/wsgi.py) still works alone; its pages
then find no `/events/` and poll."""

from django.conf import settings

from config.asgi_app import make_application
from config.wsgi import application as wsgi_application  # sets Django up and warms the process

application = make_application(wsgi_application, threads=settings.WEB_THREADS)
