"""python manage.py sources add|list: the websites and folders the knowledge base syncs from."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from knowledge import selectors, sync
from knowledge.models import Source


def find_source(name_or_id: str) -> Source:
    found = Source.objects.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = Source.objects.filter(pk=int(name_or_id)).first()
    if found is None:
        raise CommandError(f"no source named {name_or_id!r} (see: manage.py sources list)")
    return found


class Command(BaseCommand):
    help = "Add or list knowledge sources (help-centre websites, server folders)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        add = commands.add_parser("add", help="add a website (--url) or a folder (--folder)")
        add.add_argument("--name", required=True)
        where = add.add_mutually_exclusive_group(required=True)
        where.add_argument("--url", help="the help centre's start page or its sitemap.xml")
        where.add_argument("--folder", help="a directory on this server")
        add.add_argument("--include", action="append", default=[], help="path pattern to keep (repeatable)")
        add.add_argument("--exclude", action="append", default=[], help="path pattern to skip (repeatable)")
        add.add_argument("--schedule", choices=Source.Schedule.values, default=Source.Schedule.OFF)
        add.add_argument("--auto-verify", action="store_true", help="changed pages answer without review")
        add.add_argument("--user", help="username recorded as the owner")
        commands.add_parser("list", help="list the sources")
        verify = commands.add_parser("verify", help="verify every new or changed document of a source (after review)")
        verify.add_argument("source", help="the source's name or id")

    def handle(self, *args, action: str, **options) -> None:
        if action == "list":
            self._list()
            return
        if action == "verify":
            found = find_source(options["source"])
            count = sync.source_verify_pending(source=found)
            self.stdout.write(f"{count} document(s) of {found.name} verified: they answer questions now")
            return
        owner = None
        if options.get("user"):
            owner = get_user_model().objects.filter(username=options["user"]).first()
            if owner is None:
                raise CommandError(f"no user named {options['user']!r}")
        try:
            source = sync.source_create(
                name=options["name"],
                kind=Source.Kind.WEBSITE if options.get("url") else Source.Kind.FOLDER,
                url=options.get("url") or "",
                folder=options.get("folder") or "",
                include=options["include"],
                exclude=options["exclude"],
                schedule=options["schedule"],
                auto_verify=options["auto_verify"],
                user=owner,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"added source {source.pk}: {source.name} ({source.kind}, schedule {source.schedule})")
        self.stdout.write(f"sync it now with: python manage.py sync {source.name!r}")

    def _list(self) -> None:
        rows = [("id", "name", "kind", "where", "schedule", "auto-verify", "status", "last run")]
        for s in selectors.source_list():
            last = s.last_run_at.strftime("%Y-%m-%d %H:%M") if s.last_run_at else "never"
            where = s.url or s.folder or "-"
            auto = "yes" if s.auto_verify else "no"
            rows.append((str(s.pk), s.name, s.kind, where, s.schedule, auto, s.status, last))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
