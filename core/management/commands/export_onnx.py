"""python manage.py export_onnx [--dir DIR]: build the ONNX graph ahead of time.

Processes export it on first use anyway; this is for images and read-only
deployments, where the file should exist before the first process starts.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import embeddings, onnx_model


class Command(BaseCommand):
    help = "Export the embedding model to ONNX (checked against the torch model) and print where it is."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, help="export into this directory instead of EMBEDDING_ONNX_DIR")

    def handle(self, *args, dir: Path | None, **options) -> None:
        model_dir = Path(embeddings.model_path())
        try:
            target = onnx_model.default_path(model_dir, dir) if dir else embeddings.onnx_path()
            written = onnx_model.ensure_exported(model_dir, target)
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"could not export the model: {exc}") from None
        self.stdout.write(str(written))
