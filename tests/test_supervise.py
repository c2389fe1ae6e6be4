"""`make run` supervises its children: a killed child is restarted with back-off and logged, the
others keep running, and nothing is left after stop. Real processes, killed with SIGKILL."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import pytest

from config.supervise import Child, Supervisor

# A child that starts a grandchild of its own (as a worker starts its pool or embedded scheduler).
PARENT_WITH_GRANDCHILD = (
    "import subprocess, sys, time; "
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
    "print(g.pid, flush=True); time.sleep(600)"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited; it only waits for its parent to read its status
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("condition not met in time")


@pytest.fixture
def supervisor():
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    sup = Supervisor(
        [Child("web", sleeper), Child("worker", sleeper), Child("scheduler", sleeper)],
        backoff_initial=0.2,
        backoff_max=0.8,
    )
    sup.start()
    yield sup
    sup.stop(grace=2)


@pytest.mark.parametrize("victim", ["worker", "scheduler", "web"])
def test_a_killed_child_is_restarted_and_logged_and_the_others_keep_running(supervisor, victim, caplog):
    # given
    before = {name: supervisor.pid(name) for name in supervisor.children}
    # when
    os.kill(before[victim], signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="groundwork.serve"):
        wait_until(lambda: (supervisor.poll(), supervisor.pid(victim) not in (None, before[victim]))[1])
    # then
    assert f"{victim} exited with status -9; restarting it in 0.2 s" in caplog.text
    for name, pid in before.items():
        if name != victim:
            assert supervisor.pid(name) == pid and alive(pid)


def test_a_child_that_keeps_dying_backs_off_up_to_the_cap(caplog):
    sup = Supervisor(
        [Child("worker", [sys.executable, "-c", "raise SystemExit(3)"])], backoff_initial=0.1, backoff_max=0.4
    )
    sup.start()
    try:
        with caplog.at_level(logging.WARNING, logger="groundwork.serve"):
            wait_until(lambda: (sup.poll(), len(sup.children["worker"].history) >= 4)[1])
    finally:
        sup.stop(grace=1)
    delays = [r.delay_s for r in caplog.records if getattr(r, "child", "") == "worker"]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.4]


def test_a_dead_child_leaves_no_orphans_and_stop_leaves_nothing_running(tmp_path):
    # given: a child with a grandchild, as `celery worker --beat` has
    out = tmp_path / "grandchild.pid"
    child = Child("worker", [sys.executable, "-c", PARENT_WITH_GRANDCHILD])
    sup = Supervisor([child], backoff_initial=0.2)
    sup._spawn = _spawn_with_stdout(sup, out)  # type: ignore[method-assign]
    sup.start()
    try:
        wait_until(lambda: out.exists() and out.read_text().strip())
        first_grandchild = int(out.read_text().split()[0])
        # when: the child is killed
        os.kill(sup.pid("worker"), signal.SIGKILL)
        wait_until(lambda: (sup.poll(), not alive(first_grandchild))[1])
        # then its grandchild went with it, and a new child started
        wait_until(lambda: (sup.poll(), len(out.read_text().split()) == 2)[1])
        leader, second_grandchild = sup.pid("worker"), int(out.read_text().split()[1])
    finally:
        sup.stop(grace=2)
    # and after stop nothing of it is left
    wait_until(lambda: not alive(second_grandchild) and not alive(leader), timeout=5)  # SIGKILL lands asynchronously


def _spawn_with_stdout(sup: Supervisor, out):
    import subprocess

    def spawn(child: Child) -> None:
        with out.open("a") as sink:
            child.process = subprocess.Popen(child.argv, stdout=sink, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None

    return spawn
