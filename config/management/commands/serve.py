"""`make run`: migrate, load demo data once, start the web server and a
worker beside it, print where to open the app; Ctrl-C stops all of it,
including the embedded database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import embedded_db
from core.startup import verify_services
from demo import loader as demo
from guardrails.services import patterns_ensure_loaded


class Command(BaseCommand):
    help = "Run Groundwork locally: web server + worker (+ embedded PostgreSQL), with demo data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
        parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker")

    def handle(self, *args, port: int, host: str, web_workers: int, no_worker: bool, **options) -> None:
        started = time.monotonic()
        verify_services()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        loaded_patterns = patterns_ensure_loaded()
        if loaded_patterns:
            self.stdout.write(f"Loaded {loaded_patterns} prompt-injection patterns.")
        accounts = None
        if settings.DEMO_ENABLED:
            loaded = demo.demo_kb_load()
            if loaded:
                self.stdout.write(f"Loaded the demo knowledge base ({loaded} documents).")
            accounts = demo.demo_accounts_ensure()

        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1"}
        if settings.USING_EMBEDDED_DB:
            # Children connect to the same embedded server without starting one.
            env["DATABASE_URL"] = settings.DATABASE_URL
        base = Path(settings.BASE_DIR)
        bin_dir = Path(sys.executable).parent
        children: list[subprocess.Popen] = []
        web = subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                "4",
                "--timeout",
                "60",
                "--graceful-timeout",
                "10",
                "--access-logfile",
                "-",
                "--log-level",
                "warning",
            ],
            cwd=base,
            env=env,
        )
        children.append(web)
        if not no_worker:
            children.append(
                subprocess.Popen(
                    [
                        str(bin_dir / "celery"),
                        "-A",
                        "config",
                        "worker",
                        "--loglevel",
                        "WARNING",
                        "--concurrency",
                        "1",
                        "--pool",
                        "solo",
                        "-Q",
                        "celery",
                        # the scheduler (drift checks, daily roll-ups) runs inside this one worker
                        "--beat",
                        "--schedule",
                        str(settings.VAR_DIR / "celerybeat-schedule"),
                    ],
                    cwd=base,
                    env=env,
                )
            )

        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        url = f"http://{host}:{port}"
        try:
            self._wait_ready(url, web, lambda: stopping)
            if not stopping:
                self._announce(url, accounts, time.monotonic() - started)
            while not stopping:
                for child in children:
                    if child.poll() is not None:
                        raise CommandError(f"{Path(child.args[0]).name} exited with status {child.returncode}")
                time.sleep(0.3)
        finally:
            self.stdout.write("Stopping…")
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            if settings.USING_EMBEDDED_DB:
                from django.db import connections

                connections.close_all()
                embedded_db.stop(settings.EMBEDDED_PGDATA)
            self.stdout.write("Stopped.")

    def _wait_ready(self, url: str, web: subprocess.Popen, stopping) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not stopping():
            if web.poll() is not None:
                raise CommandError(f"the web server exited with status {web.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        if not stopping():
            raise CommandError("the web server did not answer /healthz within 120 s")

    def _announce(self, url: str, accounts, seconds: float) -> None:
        lines = [
            "",
            f"Groundwork is running (ready in {seconds:.1f} s). Open:",
            f"  Customer chat   {url}/chat/",
            f"  Agent console   {url}/console/",
            f"  Knowledge base  {url}/kb/",
            f"  Admin           {url}/admin/",
            f"  Health          {url}/readyz",
        ]
        if accounts:
            lines.append(f"Demo logins: {', '.join(accounts.usernames)} — password: {accounts.password}")
        lines.append("Press Ctrl-C to stop the web server, the worker and the database.")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
