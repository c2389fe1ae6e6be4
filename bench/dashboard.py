"""Dashboard render time with a year of daily roll-ups.

Builds (once) an isolated database with the demo help centre, a month of
conversations made through the real pipeline (`seed_history`), and their
roll-ups; the other 335 days of the year reuse those real roll-ups' contents,
cycled, so the page reads a full year of roll-ups of a realistic shape.
Then times GET /insights/ for a 365-day range and the default 30-day range,
and GET /metrics, in-process through Django's test client (the whole view,
template and queries; no network).

    .venv/bin/python bench/dashboard.py [--requests 30] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-dash-pgdata"))

from bench import _common  # noqa: E402


def build(rebuild: bool) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from demo.loader import DEMO_KB
    from insights import services as insight_services
    from insights.models import DailyRollup
    from knowledge import services
    from knowledge.models import Document
    from knowledge.sources import read_path
    from support.models import Conversation

    if not Document.objects.exists():
        for job in services.jobs_create(files=read_path(DEMO_KB), verify=True):
            services.job_run(job_id=job.pk)
    if not Conversation.objects.exists():
        call_command("seed_history", days=30, per_day=40, seed=11)
    if rebuild:
        DailyRollup.objects.all().delete()
    if DailyRollup.objects.filter(channel="all").count() >= 365:
        return
    today = timezone.localdate()
    real_days = sorted({timezone.localdate(c) for c in Conversation.objects.values_list("created_at", flat=True)})
    for day in real_days:
        if day < today:
            insight_services.rollup_day(day)
    real = list(DailyRollup.objects.filter(channel="all").order_by("date").values_list("data", flat=True))
    have = set(DailyRollup.objects.filter(channel="all").values_list("date", flat=True))
    rows = [
        DailyRollup(date=today - timedelta(days=i), channel="all", data=real[i % len(real)])
        for i in range(1, 366)
        if today - timedelta(days=i) not in have
    ]
    DailyRollup.objects.bulk_create(rows, batch_size=200)


def timed(client, url: str, n: int, **headers) -> list[float]:
    client.get(url, **headers)  # warm: first request compiles templates, fills caches
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    _common.setup_django()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.utils import timezone

    from insights.models import DailyRollup

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.METRICS_TOKEN = "bench"  # noqa: S105 - a throwaway token for this process
    try:
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)  # the page is rendered as in production
        build(args.rebuild)
        user, _ = User.objects.get_or_create(username="bench-curator", defaults={"is_staff": True})
        user.groups.add(Group.objects.get_or_create(name="curators")[0])
        client = Client()
        client.force_login(user)
        today = timezone.localdate()
        year = f"/insights/?start={today - timedelta(days=364)}&end={today}"
        results = {
            "dashboard, 365 days": timed(client, year, args.requests),
            "dashboard, 30 days (default)": timed(client, "/insights/", args.requests),
            "/metrics": timed(client, "/metrics", args.requests, HTTP_AUTHORIZATION="Bearer bench"),
        }
        _common.print_context("dashboard.py", sys.argv[1:])
        print(f"roll-ups (channel all): {DailyRollup.objects.filter(channel='all').count()} days")
        rows = [
            [name, f"{_common.median(t):.0f}", f"{_common.percentile(t, 95):.0f}", len(t)]
            for name, t in results.items()
        ]
        print(_common.table(["request", "p50 ms", "p95 ms", "n"], rows))
    finally:
        _common.stop_server()


if __name__ == "__main__":
    main()
