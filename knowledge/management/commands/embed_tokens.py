"""python manage.py embed_tokens [--all]"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from knowledge import services
from knowledge.models import Chunk


class Command(BaseCommand):
    help = (
        "Store the sentences' token vectors (the reader's token-level match) for chunks that lack readable "
        "ones: those ingested before they were stored, identical content that ingestion skipped, reverted "
        "versions that copied old ones, or all chunks after a new token projection (--all). Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every chunk, readable or not")

    def handle(self, *args, all: bool, **options) -> None:
        start = time.perf_counter()
        total = Chunk.objects.count()
        # ingestion's embedding stage reports 20 to 90 %: shown here as 0 to 100 %
        done = services.chunks_store_tokens(
            everything=all, progress=lambda p: self.stdout.write(f"  {(p - 20) * 10 // 7} %", ending="\r")
        )
        self.stdout.write(f"{done} of {total} chunks needed token vectors; done in {time.perf_counter() - start:.0f}s")
