"""A small process supervisor for `manage.py serve` (`make run`).

Each child (web server, worker, scheduler) runs in its own process group. A child that exits is
logged and started again after a back-off (1, 2, 4 … 30 s; back to 1 s once it has stayed up a
minute), and whatever it left behind in its group (pool processes, an embedded beat) is killed
first, so nothing is orphaned. One child dying never stops the others or the database. `stop()`
ends every group: SIGTERM to each leader, SIGKILL to whatever is left after the grace period."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("groundwork.serve")


@dataclass
class Child:
    name: str
    argv: list[str]
    cwd: Path | None = None
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    quick_deaths: int = 0
    restarts: int = 0
    history: list[int] = field(default_factory=list)  # exit statuses, newest last


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        healthy_after: float = 60.0,
    ) -> None:
        self.children = {child.name: child for child in children}
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after

    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def pid(self, name: str) -> int | None:
        process = self.children[name].process
        return process.pid if process is not None and process.poll() is None else None

    def poll(self) -> None:
        """Notice children that exited and restart the ones whose back-off is over. Call often."""
        now = time.monotonic()
        for child in self.children.values():
            process = child.process
            if process is not None and process.poll() is not None:
                self._reap(child, process.returncode, now)
            if child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)

    def stop(self, grace: float = 15.0) -> None:
        for child in self.children.values():
            child.restart_at = None
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children.values():
            if child.process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _kill_group(child.process.pid)  # the leader if it hung, and anything it left
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
            child.process = None

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, cwd=child.cwd, env=child.env, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None

    def _reap(self, child: Child, status: int, now: float) -> None:
        _kill_group(child.process.pid)  # a pool or embedded scheduler outliving its parent
        child.process = None
        child.history.append(status)
        child.quick_deaths = 0 if now - child.started_at >= self.healthy_after else child.quick_deaths + 1
        delay = min(self.backoff_max, self.backoff_initial * 2 ** max(0, child.quick_deaths - 1))
        child.restart_at = now + delay
        logger.warning(
            f"{child.name} exited with status {status}; restarting it in {delay:g} s",
            extra={"child": child.name, "status": status, "delay_s": delay},
        )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
