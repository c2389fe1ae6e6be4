"""The ASGI application around the WSGI one, without side effects (config/asgi.py builds the served
one; tests build theirs): `/events/` is the live-events stream (core/live.py), on the event loop,
holding no thread; every other path is the WSGI application on a fixed pool of threads (a2wsgi)."""

from a2wsgi import WSGIMiddleware

from core import live


def _input_terminated(wsgi_app):
    """uvicorn de-chunks a chunked body and a2wsgi ends the stream with it, as gunicorn does; say so
    as gunicorn does (RequestSizeLimitMiddleware reads such a body only when the server says so)."""

    def app(environ, start_response):
        environ["wsgi.input_terminated"] = True
        return wsgi_app(environ, start_response)

    return app


def make_application(wsgi_app, *, threads: int):
    """The ASGI app around a WSGI app (the tests pass one that also serves static files)."""
    pages = WSGIMiddleware(_input_terminated(wsgi_app), workers=threads)

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
