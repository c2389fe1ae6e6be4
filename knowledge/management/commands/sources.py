"""python manage.py sources add|list|edit|delete|verify: the websites and folders the knowledge base
syncs from."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from knowledge import selectors, sync
from knowledge.models import Source


def find_source(name_or_id: str) -> Source:
    live = Source.objects.filter(deleted_at__isnull=True)
    found = live.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = live.filter(pk=int(name_or_id)).first()
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
        edit = commands.add_parser(
            "edit",
            help="rename a source, change its address or patterns; pages left out are retired by the next sync",
        )
        edit.add_argument("source", help="the source's name or id")
        edit.add_argument("--name", help="a new name")
        moved = edit.add_mutually_exclusive_group()
        moved.add_argument("--url", help="a new start page or sitemap.xml (websites)")
        moved.add_argument("--folder", help="a new directory (folders)")
        edit.add_argument("--include", action="append", help="path pattern to keep (repeatable; replaces the list)")
        edit.add_argument("--exclude", action="append", help="path pattern to skip (repeatable; replaces the list)")
        edit.add_argument("--no-include", action="store_true", help="keep the whole site")
        edit.add_argument("--no-exclude", action="store_true", help="skip nothing")
        delete = commands.add_parser(
            "delete", help="delete a source: its documents are retired (kept for the audit), its schedule stops"
        )
        delete.add_argument("source", help="the source's name or id")
        delete.add_argument("--yes", action="store_true", help="do it (without it, say what would happen)")
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
        if action == "edit":
            self._edit(find_source(options["source"]), options)
            return
        if action == "delete":
            self._delete(find_source(options["source"]), confirmed=options["yes"])
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

    def _edit(self, found: Source, options: dict) -> None:
        include = [] if options["no_include"] else options["include"]
        exclude = [] if options["no_exclude"] else options["exclude"]
        try:
            source = sync.source_update(
                source=found,
                name=options.get("name"),
                url=options.get("url"),
                folder=options.get("folder"),
                include=include,
                exclude=exclude,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        only = ", ".join(source.include_patterns) or "the whole site"
        never = ", ".join(source.exclude_patterns) or "nothing"
        where = source.url or source.folder
        self.stdout.write(f"source {source.pk}: {source.name} — {where}; only {only}; never {never}")
        if (source.url, source.folder, source.include_patterns, source.exclude_patterns) != (
            found.url,
            found.folder,
            found.include_patterns,
            found.exclude_patterns,
        ):
            self.stdout.write("pages now left out are retired by the next sync; pages let in again come back")

    def _delete(self, found: Source, *, confirmed: bool) -> None:
        live = selectors.source_live_documents(found)
        if not confirmed:
            raise CommandError(
                f"deleting {found.name!r} retires its {live} live document(s) and stops its schedule; "
                "run again with --yes to do it"
            )
        try:
            retired = sync.source_delete(source=found)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"deleted {found.name}: {retired} document(s) retired (their versions and the replies citing them are kept)"
        )

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
