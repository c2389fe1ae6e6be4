"""A circuit breaker whose state lives in the shared cache, so every web process and worker sees it.

Used for every outside service a turn calls (the LLM composer, a flow's actions). After
`failures` failures in a row it opens for `cooldown` seconds; then it is half-open: one caller,
across all processes, gets to probe (a cache `add`, atomic on Redis and the database cache) while
every other caller is refused at once, so a hanging service never holds more than one request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.cache import cache


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failures: Callable[[], int],
        cooldown: Callable[[], float],
        probe_seconds: Callable[[], float],
        on_trip: Callable[[int], None] | None = None,
    ):
        # Settings are read at call time (callables), so a changed setting applies without a restart.
        self.name = name
        self._failures, self._cooldown, self._probe_seconds = failures, cooldown, probe_seconds
        self._on_trip = on_trip
        self.key_failures = f"{name}:breaker:failures"
        self.key_open_until = f"{name}:breaker:open_until"
        self.key_trips = f"{name}:breaker:trips"
        self.key_probe = f"{name}:breaker:probe"

    def is_open(self) -> bool:
        until = cache.get(self.key_open_until)
        return bool(until and until > time.time())

    def state(self) -> str:
        until = cache.get(self.key_open_until)
        if until and until > time.time():
            return "open"
        return "half_open" if until else "closed"

    def admit(self) -> str | None:
        """ "closed" (call freely), "probe" (half-open, and this caller won the one trial call) or None."""
        until = cache.get(self.key_open_until)
        if not until:
            return "closed"
        if until > time.time():
            return None
        return "probe" if cache.add(self.key_probe, 1, int(self._probe_seconds()) + 5) else None

    def release_probe(self) -> None:
        """The probe was never used: let another caller probe."""
        cache.delete(self.key_probe)

    def success(self) -> None:
        cache.delete_many([self.key_failures, self.key_open_until, self.key_probe])

    def _trip(self) -> None:
        cache.set(self.key_open_until, time.time() + self._cooldown(), 3600)
        cache.set(self.key_failures, 0, 3600)
        cache.delete(self.key_probe)

    def failure(self, *, probe: bool = False) -> bool:
        """Count a failure; True when this one opened the breaker (a failed probe re-opens it quietly)."""
        if probe:
            self._trip()
            return False
        try:
            failures = cache.incr(self.key_failures)
        except ValueError:
            cache.set(self.key_failures, 1, 3600)
            failures = 1
        if failures < self._failures():
            return False
        self._trip()
        try:
            cache.incr(self.key_trips)
        except ValueError:
            cache.set(self.key_trips, 1, None)
        if self._on_trip is not None:
            self._on_trip(failures)
        return True

    def trips(self) -> int:
        return int(cache.get(self.key_trips) or 0)
