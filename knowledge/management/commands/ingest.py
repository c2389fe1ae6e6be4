"""python manage.py ingest PATH... [--verify]: files, folders or zips, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from knowledge import services
from knowledge.models import IngestionJob
from knowledge.sources import read_path

ALWAYS = ("added", "updated", "unchanged", "failed")


class Command(BaseCommand):
    help = "Ingest documents (Markdown, HTML, text, PDF, folders and zips of them) into the knowledge base."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--verify", action="store_true", help="make new versions current at once (trusted import)")
        parser.add_argument("--user", help="username recorded as the ingester")

    def handle(self, *args, paths: list[Path], verify: bool, user: str | None, **options) -> None:
        actor = None
        if user:
            try:
                actor = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user named {user!r}") from None
        jobs: list[IngestionJob] = []
        for path in paths:
            jobs += services.jobs_create(files=read_path(path), verify=verify, user=actor)
        if not jobs:
            raise CommandError("nothing to ingest: the paths hold no files")
        counts: dict[str, int] = {}
        lines: list[str] = []
        show_bar = sys.stderr.isatty() or options.get("verbosity", 1) > 1
        with tqdm(
            total=len(jobs) * 100,
            unit="%",
            disable=not show_bar,
            file=sys.stderr,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}]",
        ) as bar:
            for job in jobs:
                done = 0

                def advance(percent: int) -> None:
                    nonlocal done
                    bar.update(max(0, percent - done))
                    done = max(done, percent)

                bar.set_description(job.source_key[-40:])
                if job.state == IngestionJob.State.QUEUED:
                    result = services.job_run(job_id=job.pk, on_progress=advance)
                    outcome, error = result.outcome, result.error
                else:
                    outcome, error = job.outcome, job.error
                bar.update(100 - done)
                counts[outcome] = counts.get(outcome, 0) + 1
                lines.append(f"{outcome:<9} {job.source_key}" + (f"  — {error}" if error else ""))
        for line in lines:
            self.stdout.write(line)
        outcomes = ("added", "updated", "reverted", "unchanged", "retired", "failed")
        shown = [k for k in outcomes if k in counts or k in ALWAYS]
        summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in shown)
        self.stdout.write(summary)
        if counts.get("failed"):
            raise CommandError(f"{counts['failed']} file(s) failed; the others were ingested")
