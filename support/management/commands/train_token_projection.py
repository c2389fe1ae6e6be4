"""python manage.py train_token_projection [--data DIR] [--dims N] [--out PATH]"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import embeddings
from support.reader import training

MAX_ROWS = 200_000  # token vectors the axes are computed from (evenly spaced over the corpus)


def principal_axes(rows: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows' mean and their `dims` principal axes (columns, largest variance first), each axis'
    sign fixed so that its largest component is positive: the same rows give the same file."""
    if dims < 1 or dims > rows.shape[1]:
        raise ValueError(f"dims must be between 1 and {rows.shape[1]}")
    mean = rows.mean(axis=0)
    centred = rows - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(rows) - 1, 1))
    axes = vectors[:, np.argsort(-values)[:dims]]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dims)])
    return mean.astype(np.float32), (axes * signs).astype(np.float32)


class Command(BaseCommand):
    help = (
        "Fit the projection that stored token vectors go through (the reader's token-level match): the "
        "principal axes of the sentence tokens of doc2dial's train documents, embedded as ingestion embeds "
        "them (about 2 minutes), into core/token_projection.npz; after a new one, store the knowledge base's "
        "token vectors again (manage.py embed_tokens --all) and refit the gate (make confidence)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, default=training.DEFAULT_DATA, help="doc2dial's docs.jsonl")
        parser.add_argument("--dims", type=int, default=128)
        parser.add_argument("--out", type=Path, default=embeddings.TOKEN_PROJECTION)

    def handle(self, *args, data: Path, dims: int, out: Path, **options) -> None:
        try:
            docs, _ = training.load_doc2dial(data, later_turns=None)
        except training.DataMissing as exc:
            raise CommandError(str(exc)) from None
        train = set(json.loads(training.SPLIT_PATH.read_text())["train"])
        docs = [d for d in docs if d["doc_id"] in train]  # the reader's train documents only, as its ranker
        start = time.perf_counter()
        texts, spans = [], []
        for d in docs:
            for c in training.chunk_doc(d):
                texts.append(c.embedding_text)
                spans.append([(c.body_offset + a, c.body_offset + b) for a, b in c.sentence_spans])
        self.stdout.write(f"{len(docs)} documents, {len(texts)} chunks; embedding their sentences' tokens")
        rows: list[np.ndarray] = []
        for begin in range(0, len(texts), training.EMBED_BATCH):
            _, _, tokens = embeddings.embed_with_spans(
                texts[begin : begin + training.EMBED_BATCH], spans[begin : begin + training.EMBED_BATCH], tokens=True
            )
            rows.extend(t for chunk in tokens for t in chunk)
        every = np.concatenate(rows)
        step = max(1, int(np.ceil(len(every) / MAX_ROWS)))
        mean, components = principal_axes(every[::step].astype(np.float64), dims)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, mean=mean, components=components)
        self.stdout.write(
            f"{len(every)} token vectors, every {step}: {dims} axes; done in {time.perf_counter() - start:.0f}s: {out}"
        )
