"""How long an agent's reply takes to appear in the customer's open chat: pushed (Server-Sent Events)
against the polling fallback.

Serves the app as `make run` does (gunicorn with one uvicorn worker, config.asgi, DEBUG on) on its own
embedded database. A customer in headless Chromium opens /chat/ and asks for a person; the agent's
replies are written by `escalation_reply` in this process, 0–3 s (uniform) after the last one showed, and
the time is taken from just before the write until the reply is visible in the customer's page. In
the polling run the page's requests to /events/ are aborted, so it polls every 3 s.

    .venv/bin/python bench/live_latency.py [--messages 20]

Uses var/bench-live-pgdata (created and migrated on first use)."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-live-pgdata"))

from bench import _common  # noqa: E402


def start_server(db_url: str) -> tuple[subprocess.Popen, str]:
    from config.management.commands.serve import web_argv

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DEBUG": "1",
        "SUPPORT_HOURS": "mon-sun 00:00-23:59",
        "EMBEDDING_WARM_AT_START": "0",
        "LOG_LEVEL": "WARNING",
        "CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP": "1000000",
    }
    argv = web_argv(Path(sys.executable).parent, bind=f"127.0.0.1:{port}", workers=1)
    argv[argv.index("--access-logfile") + 1] = "/dev/null"
    server = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            return server, base
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not come up in 2 minutes")


def run(browser, base: str, agent, *, push: bool, messages: int) -> list[float]:
    from escalation import services
    from escalation.models import Escalation

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    if not push:
        page.route("**/events/**", lambda route: route.abort())
    page.goto(f"{base}/chat/")
    page.get_by_role("button", name="Talk to a person").click()
    page.locator(".msg.system").first.wait_for()
    mode = "open" if push else "polling"
    page.locator(f"html[data-live={mode}]").wait_for(state="attached")
    escalation = Escalation.objects.order_by("-pk").first()
    services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    escalation.refresh_from_db()
    rng = random.Random(7)
    times = []
    for i in range(messages):
        time.sleep(rng.uniform(0, 3))  # the poll period: a reply lands anywhere in it
        started = time.perf_counter()
        services.escalation_reply(escalation=escalation, agent=agent, text=f"Reply {i}")
        page.locator(".msg.agent").nth(i).wait_for(state="visible", timeout=15_000)
        times.append(time.perf_counter() - started)
    assert page.locator("html").get_attribute("data-live") == mode, "the page changed mode during the run"
    context.close()
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"min {ordered[0] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    _common.setup_django()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from playwright.sync_api import sync_playwright

    call_command("collectstatic", interactive=False, verbosity=0)
    agent, _ = User.objects.get_or_create(username="bench-agent", defaults={"first_name": "Dana", "is_staff": True})
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between Playwright's sync calls
    server, base = start_server(settings.DATABASE_URL)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            results = {}
            for push in (True, False):
                results["push" if push else "polling"] = run(browser, base, agent, push=push, messages=args.messages)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        connection.close()
    print(f"machine: {_common.machine()}")
    for name, times in results.items():
        print(f"{name:8s} agent reply written -> visible in the customer's chat: {summary(times)}")


if __name__ == "__main__":
    main()
