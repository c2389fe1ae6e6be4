"""python manage.py embed_tokens [--all] [--batch N]"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from core import embeddings
from knowledge.models import Chunk


def unreadable(chunk: Chunk) -> bool:
    """Whether the reader cannot read this chunk's stored token vectors: none (ingested before they
    were stored) or stored in another space (another projection, or none)."""
    counts = chunk.sentence_token_counts or []
    blob = bytes(chunk.token_vectors or b"")
    return len(embeddings.unpack_tokens(blob, counts, embeddings.token_dims())) != len(chunk.sentence_spans)


class Command(BaseCommand):
    help = (
        "Store the sentences' token vectors (the reader's token-level match) for chunks that lack readable "
        "ones: those ingested before they were stored, identical content that ingestion skipped, reverted "
        "versions that copied old ones, or all chunks after a new token projection. The chunk's own heading "
        "path, text and sentence spans are embedded again as ingestion embeds them; safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every chunk, readable or not")
        parser.add_argument("--batch", type=int, default=settings.EMBEDDING_BATCH_SIZE)

    def handle(self, *args, all: bool, batch: int, **options) -> None:
        start = time.perf_counter()
        fields = ("id", "heading_path", "text", "sentence_spans", "token_vectors", "sentence_token_counts")
        todo = [c for c in Chunk.objects.only(*fields).order_by("id").iterator(500) if all or unreadable(c)]
        total = Chunk.objects.count()
        self.stdout.write(f"{len(todo)} of {total} chunks need token vectors")
        for begin in range(0, len(todo), max(batch, 1)):
            part = todo[begin : begin + max(batch, 1)]
            texts, spans = [], []
            for chunk in part:
                # the text ingestion embedded (knowledge.chunking.ChunkDraft.embedding_text)
                head = f"{chunk.heading_path}\n" if chunk.heading_path else ""
                texts.append(head + chunk.text)
                spans.append([(len(head) + a, len(head) + b) for a, b in chunk.sentence_spans])
            _, _, tokens = embeddings.embed_with_spans(texts, spans, tokens=True)
            for chunk, per_span in zip(part, tokens, strict=True):
                chunk.token_vectors, chunk.sentence_token_counts = embeddings.pack_tokens(per_span)
            Chunk.objects.bulk_update(part, ["token_vectors", "sentence_token_counts"])
            self.stdout.write(f"  {min(begin + len(part), len(todo))} of {len(todo)}")
        self.stdout.write(f"done in {time.perf_counter() - start:.0f}s")
