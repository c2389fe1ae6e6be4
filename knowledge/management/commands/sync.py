"""python manage.py sync NAME: sync one source now, in this process, and print its report.

Exit status 0 when the run completed, even if some pages failed (they are listed); non-zero when
it could not run (no such source, the site or folder unreachable, another worker running it)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.errors import ApplicationError
from knowledge import sync
from knowledge.management.commands.sources import find_source
from knowledge.models import SyncRun


class Command(BaseCommand):
    help = "Sync one source (website or folder) now and print what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="the source's name or id")

    def handle(self, *args, source: str, **options) -> None:
        found = find_source(source)
        try:
            run = sync.sync_start(source=found, trigger="command", enqueue=False)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        show_bar = sys.stderr.isatty() or options.get("verbosity", 1) > 1
        with tqdm(total=1, unit="page", disable=not show_bar, file=sys.stderr, desc=found.name[:30]) as bar:

            def progress(state: SyncRun) -> None:
                bar.total = state.pages_seen + state.pages_left
                bar.n = state.pages_seen
                bar.set_postfix(changed=state.pages_changed + state.pages_new, failed=state.pages_failed)
                bar.refresh()

            while True:
                run = sync.sync_run(run_id=run.pk, on_progress=progress)
                if run.state != SyncRun.State.QUEUED:
                    break
        if run.state == SyncRun.State.RUNNING:
            raise CommandError(f"run {run.pk} of {found.name!r} is running in another worker ({run.pages_seen} seen)")
        for entry in run.report:
            key = entry.get("key") or "-"
            reason = f"  — {entry['reason']}" if entry.get("reason") else ""
            self.stdout.write(f"{entry['outcome']:<9} {key}{reason}")
        self.stdout.write(
            f"{run.pages_new} new, {run.pages_changed} changed, {run.pages_unchanged} unchanged, "
            f"{run.pages_gone} gone, {run.pages_retired} retired, {run.pages_failed} failed"
        )
        if run.state == SyncRun.State.FAILED:
            raise CommandError(f"could not sync {found.name!r}: {run.error}")
        if not found.auto_verify and (run.pages_new or run.pages_changed):
            self.stdout.write(
                f"new and changed pages wait for review at /kb/sources/{found.pk}/ "
                f"(or: manage.py sources verify {found.name!r})"
            )
