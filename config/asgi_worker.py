"""gunicorn's worker for `make run` and the image: uvicorn on asyncio with httptools' HTTP parser
(h11, pure Python, cost about 3 ms more per request: bench/asgi_overhead.py), with gunicorn's process
handling (workers, timeouts, graceful restarts) kept.

Proxy headers are off: uvicorn would otherwise rewrite the client's address from X-Forwarded-For
for any peer in FORWARDED_ALLOW_IPS (127.0.0.1 by default), around TRUSTED_PROXIES, which is the
one place that decides whom to believe (core/net.py).

On shutdown the open event streams end first: uvicorn waits for every response to finish, and a
stream would otherwise hold the worker until gunicorn's graceful timeout killed it."""

from __future__ import annotations

import sys

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from core import live


class LiveServer(Server):
    """uvicorn's server, ending the event streams before it waits for open responses."""

    async def shutdown(self, sockets=None) -> None:
        live.close_all()
        await super().shutdown(sockets)


class Worker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "httptools", "proxy_headers": False, "lifespan": "on"}

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = LiveServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
