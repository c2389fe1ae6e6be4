"""python manage.py export_onnx [--path FILE]: build the ONNX graph ahead of time.

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
        parser.add_argument("--path", type=Path, help="write here instead of EMBEDDING_ONNX_PATH / VAR_DIR/models")

    def handle(self, *args, path: Path | None, **options) -> None:
        target = path or embeddings.onnx_path()
        try:
            written = onnx_model.ensure_exported(Path(embeddings.model_path()), target)
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"could not export the model to {target}: {exc}") from None
        self.stdout.write(str(written))
