"""`make run`: migrate, load demo data once, start the web server, a worker
and the scheduler beside it (supervised: a child that dies is restarted),
print where to open the app; Ctrl-C stops all of it, including the embedded
database."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import embedded_db
from config.supervise import Child, Supervisor
from core.startup import verify_services
from demo import loader as demo
from guardrails.services import patterns_ensure_loaded

DATABASE_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def web_argv(bin_dir: Path, *, bind: str, workers: int) -> list[str]:
    """The web server: gunicorn's process handling around uvicorn workers serving config.asgi,
    where pages run on WEB_THREADS threads and live-event streams on the event loop, holding none."""
    return [
        str(bin_dir / "gunicorn"),
        "config.asgi:application",
        "--worker-class",
        "config.asgi_worker.Worker",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--access-logfile",
        "-",
        "--log-level",
        "warning",
    ]


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
            flows = demo.demo_flows_load()
            if flows:
                self.stdout.write(f"Loaded the demo flows ({flows}).")
            accounts = demo.demo_accounts_ensure()

        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1"}
        # A flow's call step with a path goes to this server, on whatever port it was given.
        local = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104 - compared, not bound
        env.setdefault("FLOW_CALL_BASE_URL", f"http://{local}:{port}")
        if settings.USING_EMBEDDED_DB:
            # Children connect to the same embedded server without starting one.
            env["DATABASE_URL"] = settings.DATABASE_URL
            env["GROUNDWORK_EMBEDDED_CHILD"] = "1"  # still the embedded default: the demo is on (settings)
        base = Path(settings.BASE_DIR)
        bin_dir = Path(sys.executable).parent
        celery = [str(bin_dir / "celery"), "-A", "config"]
        children = [
            Child(
                "web",
                web_argv(bin_dir, bind=f"{host}:{port}", workers=web_workers),
                base,
                env,
            )
        ]
        if not no_worker:
            worker = [
                *celery,
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "1",
                "--pool",
                "solo",
                "-Q",
                "celery",
            ]
            # The scheduler (drift checks, roll-ups, the stale-job sweep, each scheduled source's
            # sync) is its own process, so either can die and be restarted without the other. Its
            # schedule lives in the database (django-celery-beat): CELERY_BEAT_SCHEDULE plus one
            # periodic task per scheduled source, visible in the admin.
            scheduler = [*celery, "beat", "--loglevel", "WARNING", "--scheduler", DATABASE_SCHEDULER]
            children += [Child("worker", worker, base, env), Child("scheduler", scheduler, base, env)]
        supervisor = Supervisor(children)

        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        url = f"http://{host}:{port}"
        try:
            supervisor.start()
            self._wait_ready(url, supervisor, lambda: stopping)
            if not stopping:
                self._announce(url, accounts, time.monotonic() - started)
            # A child that dies is restarted with back-off (config/supervise.py); it never takes
            # the web server, the other children or the database down with it.
            while not stopping:
                supervisor.poll()
                time.sleep(0.3)
        finally:
            self.stdout.write("Stopping…")
            supervisor.stop()
            if settings.USING_EMBEDDED_DB:
                from django.db import connections

                connections.close_all()
                embedded_db.stop(settings.EMBEDDED_PGDATA)
            self.stdout.write("Stopped.")

    def _wait_ready(self, url: str, supervisor: Supervisor, stopping) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not stopping():
            supervisor.poll()
            exits = supervisor.children["web"].history
            if len(exits) >= 3:  # it cannot start (the port is taken, a bad setting): say so now
                raise CommandError(f"the web server exited {len(exits)} times while starting (status {exits[-1]})")
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
