"""`manage.py flows import FILE [--approve]` and `manage.py flows export [--all] [-o FILE]`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from flows import services
from flows.models import FlowVersion


class Command(BaseCommand):
    help = "Import flows from a YAML file (each changed flow becomes a draft version) or export them as YAML."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a YAML file of flows")
        imp.add_argument("file")
        imp.add_argument("--approve", action="store_true", help="approve the imported versions at once")
        exp = sub.add_parser("export", help="print the approved flows as YAML")
        exp.add_argument("--all", action="store_true", help="the latest version of every flow, approved or not")
        exp.add_argument("-o", "--output", help="write to this file instead of standard output")

    def handle(self, *args, action: str, **options) -> None:
        if action == "import":
            path = Path(options["file"])
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise CommandError(f"{path}: not UTF-8 text") from None
            try:
                created = services.flows_import(text=text, approve=options["approve"])
            except (services.FlowFileError, ApplicationError) as exc:
                raise CommandError(f"{path}: {getattr(exc, 'message', None) or exc}") from None
            state = "approved" if options["approve"] else "draft"
            for v in created:
                self.stdout.write(f"{v.flow.name}: v{v.number} ({state})")
            self.stdout.write(f"{len(created)} flow version(s) imported; unchanged flows were left alone.")
            return
        if options["all"]:
            versions = [
                v
                for v in FlowVersion.objects.select_related("flow").order_by("flow__name", "-number")
                if v.number == v.flow.versions.order_by("-number").values_list("number", flat=True).first()
            ]
        else:
            versions = list(
                FlowVersion.objects.filter(status=FlowVersion.Status.APPROVED)
                .select_related("flow")
                .order_by("flow__name")
            )
        text = services.flows_export(versions=versions)
        if options.get("output"):
            Path(options["output"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
