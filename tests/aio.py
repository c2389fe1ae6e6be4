"""Run a coroutine to the end from a synchronous test, on a fresh event loop in a thread of its own:
the browser tests' Playwright keeps an event loop running in the main thread for the whole session,
and asyncio.run refuses to start inside it."""

from __future__ import annotations

import asyncio
import threading


def run(coroutine):
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
