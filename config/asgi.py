"""The ASGI application `make run` serves (gunicorn with uvicorn workers, config/asgi_worker.py).

`/events/` is the live-events stream (core/live.py), served on the event loop: an open stream holds
no thread. Everything else is the WSGI application, as before, on a fixed pool of WEB_THREADS
threads (a2wsgi), so views, persistent database connections and the start-up warm-up behave as they
did under gunicorn's threads. The WSGI entry point (config/wsgi.py) still works alone; its pages
then find no `/events/` and poll."""

from a2wsgi import WSGIMiddleware
from django.conf import settings

from config.wsgi import application as wsgi_application  # sets Django up and warms the process
from core import live


def make_application(wsgi_app, *, threads: int):
    """The ASGI app around a WSGI app (the tests pass one that also serves static files)."""
    pages = WSGIMiddleware(wsgi_app, workers=threads)

    async def application(scope, receive, send) -> None:
        if scope["type"] == "lifespan":  # nothing to set up; the listener is closed at the end
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await live.hub().stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # no WebSockets: the events go one way
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        if scope["path"] == live.EVENTS_PATH:
            await live.events_app(scope, receive, send)
            return
        await pages(scope, receive, send)

    return application


application = make_application(wsgi_application, threads=settings.WEB_THREADS)
