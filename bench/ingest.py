"""Ingestion throughput: end-to-end chunks/s against the embedding model's raw chunks/s.

What it measures
  1. End to end: each public support document (ConditionalQA + doc2dial,
     /work/shared/benchmarks/support_qa) goes through the real ingestion path,
     `knowledge.services.version_ingest(source_key=..., data=..., verify=True)`,
     written as markdown "# {title}\\n\\n{text}". Throughput = chunks stored /
     wall time. The stages are timed by thin wrappers (parse, chunk, embed,
     store, verify) monkeypatched around the functions version_ingest calls.
  2. Raw model: the same chunk texts, read back from the Chunk rows
     (heading_path + "\\n" + text, exactly what was embedded), encoded with
     `core.embeddings.embed_passages` in batches of EMBEDDING_BATCH_SIZE.

  The documents are processed in --groups consecutive groups; each group is
  ingested and then its chunks are re-embedded raw at once, so a burst of load
  from another process hits both sides of a pair. The report gives the totals
  and the median of the per-group ratios.

Isolation: uses the embedded PostgreSQL in var/bench-pgdata (never the
developer's database), migrates it, and TRUNCATEs the knowledge tables first.

Run from the project root:
  .venv/bin/python bench/ingest.py [--limit N] [--groups G]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common


class StageTimer:
    """Accumulates wall time per stage of version_ingest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, func: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        return timed


def install_timers(timer: StageTimer) -> None:
    from knowledge import chunking, services

    services.parse_document = timer.wrap("parse", services.parse_document)
    chunking.chunk_document = timer.wrap("chunk", chunking.chunk_document)
    services._embed = timer.wrap("embed", services._embed)
    services._store = timer.wrap("store", services._store)
    services.version_verify = timer.wrap("verify", services.version_verify)


def embedded_texts(version_ids: list[int]) -> list[str]:
    from knowledge.models import Chunk

    rows = Chunk.objects.filter(version_id__in=version_ids).order_by("version_id", "ordinal")
    return [f"{c.heading_path}\n{c.text}" if c.heading_path else c.text for c in rows.only("heading_path", "text")]


def raw_embed_seconds(texts: list[str]) -> float:
    from django.conf import settings

    from core import embeddings

    batch = settings.EMBEDDING_BATCH_SIZE
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        embeddings.embed_passages(texts[i : i + batch])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="ingest only the first N documents (default: all)")
    parser.add_argument("--groups", type=int, default=5, help="ingest/raw pairs to split the documents into")
    args = parser.parse_args()

    _common.setup_django()
    import torch
    from django.conf import settings
    from django.db.models import Count

    from core import embeddings
    from knowledge.models import Chunk

    try:
        _common.print_context("ingest.py", sys.argv[1:])
        docs = _common.load_docs(args.limit)
        _common.truncate_knowledge()
        embeddings.warm()
        print(f"torch threads={torch.get_num_threads()}, batch size={settings.EMBEDDING_BATCH_SIZE}")

        timer = StageTimer()
        install_timers(timer)
        groups = max(1, min(args.groups, len(docs)))
        bounds = [round(i * len(docs) / groups) for i in range(groups + 1)]
        pairs: list[tuple[int, float, float]] = []  # (chunks, ingest seconds, raw seconds)
        failed: list[str] = []
        for g in range(groups):
            start = time.perf_counter()
            version_ids, group_failed = _common.ingest_docs(docs[bounds[g] : bounds[g + 1]])
            failed.extend(group_failed)
            ingest_seconds = time.perf_counter() - start
            texts = embedded_texts(version_ids)
            raw_seconds = raw_embed_seconds(texts)
            pairs.append((len(texts), ingest_seconds, raw_seconds))
            print(
                f"group {g + 1}/{groups}: {len(texts)} chunks, end-to-end {len(texts) / ingest_seconds:.1f}/s, "
                f"raw {len(texts) / raw_seconds:.1f}/s",
                flush=True,
            )

        chunks = sum(p[0] for p in pairs)
        ingest_total = sum(p[1] for p in pairs)
        raw_total = sum(p[2] for p in pairs)
        stored = Chunk.objects.count()
        searchable = Chunk.objects.filter(searchable=True).count()
        assert stored == chunks == searchable, (stored, chunks, searchable)
        token_counts = list(Chunk.objects.values_list("token_count", flat=True))
        all_texts = embedded_texts(list(Chunk.objects.values_list("version_id", flat=True).distinct()))
        embedded_tokens = embeddings.count_tokens(all_texts)
        per_doc = Chunk.objects.values("version_id").annotate(n=Count("id")).values_list("n", flat=True)

        e2e_rate = chunks / ingest_total
        raw_rate = chunks / raw_total
        group_ratios = [(raw / ingest) for _, ingest, raw in pairs]
        stage = timer.seconds
        other = ingest_total - sum(stage.values())

        print()
        print(
            _common.table(
                ["metric", "value"],
                [
                    ["documents ingested", f"{len(docs) - len(failed)} (failed: {len(failed)})"],
                    ["chunks stored (all searchable)", chunks],
                    ["chunks per document, median", f"{_common.median(list(per_doc)):.0f}"],
                    ["tokens per chunk body (Chunk.token_count), median", f"{_common.median(token_counts):.0f}"],
                    ["tokens per embedded text (heading + body), median", f"{_common.median(embedded_tokens):.0f}"],
                    ["end-to-end wall time", f"{ingest_total:.1f} s"],
                    ["**end-to-end chunks/s**", f"**{e2e_rate:.1f}**"],
                    ["raw embed_passages chunks/s (same texts)", f"{raw_rate:.1f}"],
                    ["**ratio end-to-end / raw** (total)", f"**{e2e_rate / raw_rate:.2f}**"],
                    [
                        f"ratio end-to-end / raw, median of {groups} paired groups",
                        f"{_common.median(group_ratios):.2f} "
                        f"(min {min(group_ratios):.2f}, max {max(group_ratios):.2f})",
                    ],
                ],
            )
        )
        print()
        rows = [
            [name, f"{stage[name]:.1f}", f"{100 * stage[name] / ingest_total:.1f} %"]
            for name in ("parse", "chunk", "embed", "store", "verify")
        ]
        rows.append(["other (hash check, loop)", f"{other:.1f}", f"{100 * other / ingest_total:.1f} %"])
        rows.append(["total", f"{ingest_total:.1f}", "100 %"])
        print(_common.table(["stage of version_ingest", "seconds", "share"], rows))
        print()
        print(
            f"embed stage alone: {chunks / stage['embed']:.1f} chunks/s "
            f"(= {chunks / stage['embed'] / raw_rate:.2f} x raw embed_passages)"
        )
        for line in failed:
            print("failed:", line)
    finally:
        _common.stop_server()


if __name__ == "__main__":
    main()
