"""Search latency (p50/p95 of chunk_search) and HNSW recall@10 at 10k and 100k searchable chunks.

The corpus
  * real chunks: the public support documents (ConditionalQA + doc2dial,
    /work/shared/benchmarks/support_qa) ingested through version_ingest, as
    bench/ingest.py leaves them (ingested here if they are missing);
  * real sentences: distinct sentence-sized pieces of the same documents,
    embedded with the project's model as "{title}\\n{sentence}" (like a chunk's
    heading path + text), up to --real real vectors in all (default 10,000).
    They stay in the benchmark database and are reused by the next run when
    the count matches (--rebuild embeds them again);
  * jittered copies, up to --total chunks (default 100,000), regenerated each
    run from --seed: a real vector plus Gaussian noise scaled so that its
    cosine to the source is about --cosine (0.9), renormalised, carrying its
    source's heading and text (so full-text search sees realistic term
    statistics), round robin over the real vectors.
  Synthetic rows are bulk-inserted (bulk_create) as verified current versions,
  one Document/DocumentVersion per 1,000 chunks, and their search_vector is
  filled with the expression knowledge.services uses.

The phases
  1. --real chunks, all real (the table holds nothing else);
  2. --total chunks: the real ones plus the jittered copies;
  3. with --retired: the jittered documents retired through
     knowledge.services.document_retire, so the table still holds --total rows
     but only the real ones are searchable (what old versions and retired
     documents look like to search).
  Before each phase the partial indexes (HNSW and GIN) are dropped, the table
  is rewritten (VACUUM FULL), the indexes are recreated from the model's
  Meta.indexes (the migration's definition, maintenance_work_mem raised for
  the session) and the table is ANALYZEd. The jittered rows are deleted at the end.

The measurements, per phase, for every real question in
/work/shared/benchmarks/support_qa/*/questions.jsonl (embedded once, with
embed_query, before timing):
  * latency of knowledge.selectors.chunk_search(query, vector, k=5), hybrid,
    vector-only and text-only (BM25) interleaved per query, wall time around the
    call, so it includes the query_terms round trip but not the query embedding;
  * EXPLAIN ANALYZE of chunk_search's SQL: does the vector CTE use
    chunk_embedding_hnsw?
  * recall@10 of the HNSW index (SELECT id ... ORDER BY embedding <=> %s::vector
    LIMIT 10 at hnsw.ef_search 40 and 100) against the exact top-10 (numpy, float64,
    over every searchable vector); a returned id counts as a hit when its exact
    distance is within 1e-6 of the exact 10th distance (identical texts give
    identical vectors, whose order is arbitrary).

Isolation: uses the embedded PostgreSQL in var/bench-pgdata, never the developer's.

Run from the project root:
  .venv/bin/python bench/search.py [--rebuild] [--retired] [--real 10000] [--total 100000] [--queries N]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

SENTENCE_PREFIX = "bench-sentences/"
JITTER_PREFIX = "bench-jitter/"
PER_DOCUMENT = 1000
DIMS = 384


# --- Corpus ------------------------------------------------------------------------------


def synthetic_chunk_count(prefix: str) -> int:
    from knowledge.models import Chunk

    return Chunk.objects.filter(version__document__source_key__startswith=prefix).count()


def delete_synthetic(prefix: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # The postings trigger would delete row by row (~100 index probes per chunk);
        # for tens of thousands of synthetic rows one set-wise delete is much faster.
        cursor.execute("SET session_replication_role = replica")  # triggers off, this session only
        try:
            cursor.execute(
                """
                DELETE FROM knowledge_chunkterm t
                 USING knowledge_chunk c, knowledge_documentversion v, knowledge_document d
                 WHERE t.chunk_id = c.id AND c.version_id = v.id AND v.document_id = d.id AND d.source_key LIKE %s
                """,
                [prefix + "%"],
            )
            cursor.execute(
                """
                DELETE FROM knowledge_chunk c USING knowledge_documentversion v, knowledge_document d
                 WHERE c.version_id = v.id AND v.document_id = d.id AND d.source_key LIKE %s
                """,
                [prefix + "%"],
            )
        finally:
            cursor.execute("RESET session_replication_role")
        cursor.execute(
            "DELETE FROM knowledge_documentversion v USING knowledge_document d "
            "WHERE v.document_id = d.id AND d.source_key LIKE %s",
            [prefix + "%"],
        )
        cursor.execute("DELETE FROM knowledge_document WHERE source_key LIKE %s", [prefix + "%"])


def ensure_ingested(docs: list[dict]) -> int:
    """The real chunks of every document, through version_ingest; returns their count."""
    from knowledge.models import Chunk, Document

    real_docs = Document.objects.exclude(source_key__startswith="bench-")
    if real_docs.count() != len(docs):
        print(f"ingesting {len(docs)} documents (the benchmark database does not hold them all)...", flush=True)
        _common.truncate_knowledge()
        start = time.perf_counter()
        _, failed = _common.ingest_docs(docs)
        print(f"  done in {time.perf_counter() - start:.0f} s, {len(failed)} failed", flush=True)
    return Chunk.objects.exclude(version__document__source_key__startswith="bench-").count()


def sentence_pieces(docs: list[dict], count: int, seed: int) -> list[tuple[str, str]]:
    """(title, sentence) pairs: distinct sentence-sized pieces of the documents' text."""
    from knowledge.parsing import clean
    from knowledge.text import split_sentences

    seen: set[str] = set()
    pieces: list[tuple[str, str]] = []
    for doc in docs:
        title = clean(doc["title"])
        for line in doc["text"].splitlines():
            line = clean(re.sub(r"^(#+|-)\s*", "", line.strip()))
            for sentence in split_sentences(line):
                words = len(sentence.split())
                key = sentence.lower()
                if 6 <= words <= 80 and key not in seen:
                    seen.add(key)
                    pieces.append((title, sentence))
    random.Random(seed).shuffle(pieces)
    if len(pieces) < count:
        raise SystemExit(f"only {len(pieces)} distinct sentences; lower --real")
    return pieces[:count]


def insert_rows(prefix: str, rows: list[dict], title: str) -> None:
    """Bulk-insert chunk rows as verified current versions, PER_DOCUMENT chunks per document."""
    from django.db import connection, transaction
    from django.utils import timezone

    from knowledge.models import Chunk, Document, DocumentVersion

    now = timezone.now()
    for n, start in enumerate(range(0, len(rows), PER_DOCUMENT)):
        key = f"{prefix}{n:04d}.md"
        with transaction.atomic():
            document = Document.objects.create(title=f"{title} {n}", source_key=key, status=Document.Status.VERIFIED)
            version = DocumentVersion.objects.create(
                document=document,
                number=1,
                content_hash=hashlib.sha256(key.encode()).hexdigest(),
                title=document.title,
                source_format="markdown",
                text="",
                is_current=True,
                verified_at=now,
            )
            Chunk.objects.bulk_create(
                [
                    Chunk(version=version, ordinal=i, searchable=True, **row)
                    for i, row in enumerate(rows[start : start + PER_DOCUMENT])
                ],
                batch_size=PER_DOCUMENT,
            )
    with connection.cursor() as cursor:
        # The expression knowledge.services._store uses.
        cursor.execute(
            """
            UPDATE knowledge_chunk
               SET search_vector = setweight(to_tsvector('english', heading_path), 'A')
                                || setweight(to_tsvector('english', text), 'B')
             WHERE search_vector IS NULL
            """
        )


def build_sentences(docs: list[dict], count: int, seed: int) -> None:
    from core import embeddings

    pieces = sentence_pieces(docs, count, seed)
    texts = [f"{title}\n{sentence}" for title, sentence in pieces]
    print(f"embedding {len(texts)} real sentences...", flush=True)
    start = time.perf_counter()
    vectors = embeddings.embed_passages(texts)
    seconds = time.perf_counter() - start
    print(f"  {len(texts) / seconds:.1f} sentences/s ({seconds:.0f} s)", flush=True)
    token_counts = embeddings.count_tokens([sentence for _, sentence in pieces])
    rows = [
        {
            "heading_path": title,
            "text": sentence,
            "token_count": tokens,
            "embedding": vector,
            "sentence_spans": [[0, len(sentence)]],
            "sentence_vectors": vector.astype(np.float16).tobytes(),
        }
        for (title, sentence), tokens, vector in zip(pieces, token_counts, vectors, strict=True)
    ]
    insert_rows(SENTENCE_PREFIX, rows, "Benchmark sentences")


def jitter_sigma(cosine: float) -> float:
    # |v| = 1, noise ~ N(0, s^2 I_d): cos(v, v + noise) ~ 1 / sqrt(1 + d s^2).
    return float(np.sqrt((1 / cosine**2 - 1) / DIMS))


def build_jitter(count: int, cosine: float, seed: int) -> float:
    """Jittered copies of the real vectors, round robin over the sources; returns the median cosine."""
    from knowledge.models import Chunk

    sources = list(
        Chunk.objects.exclude(version__document__source_key__startswith=JITTER_PREFIX)
        .order_by("id")
        .values_list("heading_path", "text", "token_count", "embedding")
    )
    rng = np.random.default_rng(seed)
    sigma = jitter_sigma(cosine)
    matrix = np.array([s[3] for s in sources], dtype=np.float64)
    picks = np.arange(count) % len(sources)
    noisy = matrix[picks] + rng.normal(0.0, sigma, size=(count, DIMS))
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    cosines = np.einsum("ij,ij->i", noisy, matrix[picks])
    print(f"inserting {count} jittered copies (sigma {sigma:.4f})...", flush=True)
    rows = [
        {
            "heading_path": sources[p][0],
            "text": sources[p][1],
            "token_count": sources[p][2],
            "embedding": noisy[i].astype(np.float32),
        }
        for i, p in enumerate(picks)
    ]
    insert_rows(JITTER_PREFIX, rows, "Benchmark jitter")
    return float(np.median(cosines))


# --- Phases ------------------------------------------------------------------------------


def drop_indexes() -> None:
    """Drop the partial HNSW and GIN indexes (bulk loads and flips are much cheaper without them)."""
    from django.db import connection

    from knowledge.models import Chunk

    with connection.cursor() as cursor:
        for index in Chunk._meta.indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{index.name}"')


def create_indexes() -> dict[str, float]:
    """Recreate the partial indexes exactly as the model (and so the migration) defines them; seconds per index."""
    from django.db import connection

    from knowledge.models import Chunk

    with connection.cursor() as cursor:
        # Session-only: lets the HNSW graph be built in memory (the default 64MB
        # is too small for 100k x 384 floats and the build crawls).
        cursor.execute("SET maintenance_work_mem = '1GB'")
    seconds: dict[str, float] = {}
    for index in Chunk._meta.indexes:
        start = time.perf_counter()
        with connection.schema_editor() as editor:
            editor.add_index(Chunk, index)
        seconds[index.name] = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("VACUUM ANALYZE knowledge_chunk")
        # The postings (filled by the trigger) need a current visibility map for index-only scans.
        cursor.execute("VACUUM ANALYZE knowledge_chunkterm")
    return seconds


def rebuild_indexes() -> dict[str, float]:
    """Drop the partial indexes, rewrite the table without dead rows, recreate and ANALYZE."""
    from django.db import connection

    drop_indexes()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM FULL knowledge_chunk")
    return create_indexes()


def retire_jitter() -> None:
    """Take the jitter documents out of search the way curators do (knowledge.services.document_retire)."""
    from knowledge import services
    from knowledge.models import Document

    for document in Document.objects.filter(source_key__startswith=JITTER_PREFIX):
        services.document_retire(document=document)


def searchable_matrix() -> tuple[np.ndarray, np.ndarray]:
    """ids and float64 vectors of every searchable chunk (pgvector's binary form, parsed by numpy)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, vector_send(embedding) FROM knowledge_chunk WHERE searchable ORDER BY id")
        rows = cursor.fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    # vector_send: int16 dims, int16 unused, then big-endian float32s.
    matrix = np.frombuffer(b"".join(bytes(r[1])[4:] for r in rows), dtype=">f4").reshape(len(rows), DIMS)
    return ids, matrix.astype(np.float64)


def vector_literal(vector: np.ndarray) -> str:
    from core.embeddings import vector_literal as literal

    return literal(vector)


_VECTOR_LITERAL = re.compile(r"'\[[-0-9.e+,]+\]'::vector")


def shorten(lines: list[str]) -> list[str]:
    return [_VECTOR_LITERAL.sub("'[...384 floats]'::vector", line) for line in lines]


def explain_search(question: str, vector: np.ndarray) -> tuple[list[str], bool]:
    """EXPLAIN ANALYZE of chunk_search's own SQL with its own parameters."""
    from django.conf import settings
    from django.db import connection

    from knowledge import selectors

    params = selectors.search_params(
        query=question,
        vector=vector,
        mode="hybrid",
        candidates=settings.SEARCH_CANDIDATES,
        generation=None,
        k=5,
        min_cosine=settings.SEARCH_MIN_COSINE,
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) " + selectors._SEARCH_SQL, params)
        lines = shorten([r[0] for r in cursor.fetchall()])
    return lines, any("chunk_embedding_hnsw" in line for line in lines)


def explain_plain(vector: np.ndarray) -> list[str]:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) SELECT id FROM knowledge_chunk WHERE searchable "
            "ORDER BY embedding <=> %s::vector LIMIT %s",
            [vector_literal(vector), settings.SEARCH_CANDIDATES],
        )
        return shorten([r[0] for r in cursor.fetchall()])


def time_search(questions: list[str], vectors: np.ndarray) -> dict[str, list[float]]:
    """Latency (ms) per question of chunk_search: hybrid, vector-only and text-only, interleaved per question."""
    from knowledge.selectors import chunk_search

    modes = ("hybrid", "vector", "text")
    for q, v in zip(questions[:50], vectors[:50], strict=True):  # warm caches (and the BM25 statistics)
        chunk_search(query=q, vector=v, k=5)
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    for q, v in zip(questions, vectors, strict=True):
        for mode in modes:
            start = time.perf_counter()
            chunk_search(query=q, vector=v, k=5, mode=mode)
            times[mode].append(1000 * (time.perf_counter() - start))
    return times


def recall_at_10(vectors: np.ndarray, ids: np.ndarray, matrix: np.ndarray, ef: int) -> tuple[float, list[float]]:
    """Mean recall@10 of the HNSW index at `ef`, and the latency (ms) of each top-10 query."""
    from django.conf import settings
    from django.db import connection

    position = {int(i): n for n, i in enumerate(ids)}
    recalls: list[float] = []
    times: list[float] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", ["hnsw.ef_search", str(ef)])
        try:
            for vector in vectors:
                literal = vector_literal(vector)
                start = time.perf_counter()
                cursor.execute(
                    "SELECT id FROM knowledge_chunk WHERE searchable ORDER BY embedding <=> %s::vector LIMIT 10",
                    [literal],
                )
                found = [r[0] for r in cursor.fetchall()]
                times.append(1000 * (time.perf_counter() - start))
                distances = 1.0 - matrix @ vector.astype(np.float64)
                tenth = np.partition(distances, 9)[9]
                hits = sum(1 for i in found if distances[position[i]] <= tenth + 1e-6)
                recalls.append(hits / 10)
        finally:
            cursor.execute("SELECT set_config(%s, %s, false)", ["hnsw.ef_search", str(settings.SEARCH_HNSW_EF_SEARCH)])
    return float(np.mean(recalls)), times


def plan_excerpt(lines: list[str]) -> list[str]:
    keep = (
        "knowledge_chunk",
        "chunk_embedding_hnsw",
        "chunk_search_gin",
        "Limit",
        "Rows Removed by Filter",
        "Execution Time",
    )
    return [line for line in lines if any(k in line for k in keep)]


def run_phase(label: str, questions: list[str], vectors: np.ndarray, build_seconds: dict[str, float]) -> dict:
    from knowledge.models import Chunk

    searchable = Chunk.objects.filter(searchable=True).count()
    builds = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in build_seconds.items())
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"\n=== {label}: {searchable} searchable chunks (index builds: {builds}; loadavg {load}) ===", flush=True)
    from knowledge import selectors

    selectors._stats = None
    start = time.perf_counter()
    stats = selectors.text_stats()
    stats_s = time.perf_counter() - start
    print(
        f"BM25 statistics (once per knowledge generation and process): {stats_s:.2f} s, "
        f"{len(stats.document_frequency)} lexemes, mean chunk length {stats.avg_length:.0f} lexemes",
        flush=True,
    )
    plan, uses_hnsw = explain_search(questions[0], vectors[0])
    print("EXPLAIN ANALYZE of chunk_search's SQL (hybrid), full plan:")
    print("\n".join("    " + line for line in plan))
    print(f"vector CTE uses chunk_embedding_hnsw: {uses_hnsw}")
    print("EXPLAIN ANALYZE of a plain top-N (vector as a bound parameter):")
    print("\n".join("    " + line for line in explain_plain(vectors[0])))
    times = time_search(questions, vectors)
    ids, matrix = searchable_matrix()
    recall = {ef: recall_at_10(vectors, ids, matrix, ef) for ef in (40, 100)}
    result = {
        "label": label,
        "searchable": searchable,
        "build": build_seconds,
        "uses_hnsw": uses_hnsw,
        "stats_s": stats_s,
        "plan": plan_excerpt(plan),
        "times": times,
        "recall": recall,
    }
    for mode, values in times.items():
        print(f"{mode}: p50 {_common.percentile(values, 50):.1f} ms, p95 {_common.percentile(values, 95):.1f} ms")
    for ef, (r, t) in recall.items():
        print(f"ef_search {ef}: recall@10 {r:.3f}, top-10 query p50 {_common.percentile(t, 50):.2f} ms")
    return result


# --- Main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="embed the real sentences again")
    parser.add_argument(
        "--retired",
        action="store_true",
        help="also measure the real set with the jittered rows retired (kept in the table, not searchable)",
    )
    parser.add_argument("--real", type=int, default=10_000, help="real vectors (ingested chunks + sentences)")
    parser.add_argument("--total", type=int, default=100_000, help="chunks in the large phase (real + jittered)")
    parser.add_argument("--cosine", type=float, default=0.9, help="target cosine of a jittered copy to its source")
    parser.add_argument("--queries", type=int, default=None, help="use only the first N questions")
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()

    _common.setup_django()
    from django.conf import settings

    from core import embeddings

    try:
        _common.print_context("search.py", sys.argv[1:])
        docs = _common.load_docs()
        embeddings.warm()
        real_chunks = ensure_ingested(docs)
        want_sentences = args.real - real_chunks
        want_jitter = args.total - args.real
        if want_sentences < 0 or want_jitter < 0:
            raise SystemExit(f"--real must lie between the {real_chunks} ingested chunks and --total")

        delete_synthetic(JITTER_PREFIX)  # left over by an interrupted run
        if args.rebuild or synthetic_chunk_count(SENTENCE_PREFIX) != want_sentences:
            delete_synthetic(SENTENCE_PREFIX)
            drop_indexes()  # rebuild_indexes recreates them
            build_sentences(docs, want_sentences, args.seed)
        else:
            print(f"reusing the {want_sentences} embedded sentence rows (--rebuild to embed them again)")

        questions = _common.load_questions()[: args.queries]
        start = time.perf_counter()
        vectors = np.array([embeddings.embed_query(q) for q in questions], dtype=np.float32)
        embed_ms = 1000 * (time.perf_counter() - start) / len(questions)
        print(f"{len(questions)} questions embedded, {embed_ms:.1f} ms each (not part of the latencies below)")

        results = [run_phase(f"{args.real:,} real", questions, vectors, rebuild_indexes())]

        drop_indexes()
        start = time.perf_counter()
        jitter_cosine = build_jitter(want_jitter, args.cosine, args.seed)
        print(f"  inserted in {time.perf_counter() - start:.0f} s", flush=True)
        results.append(run_phase(f"{args.total:,} real + jittered", questions, vectors, rebuild_indexes()))

        if args.retired:
            retire_jitter()
            label = f"{args.real:,} real + {want_jitter:,} retired rows"
            results.append(run_phase(label, questions, vectors, rebuild_indexes()))

        drop_indexes()
        delete_synthetic(JITTER_PREFIX)
        rebuild_indexes()  # leave the small, real-only state for the next run

        print()
        print(
            f"questions: {len(questions)}; ingested real chunks: {real_chunks}; real sentences: {want_sentences}; "
            f"jittered copies: {want_jitter}"
            + f" (median cosine to source {jitter_cosine:.3f})"
            + f"; SEARCH_CANDIDATES={settings.SEARCH_CANDIDATES}; default ef_search={settings.SEARCH_HNSW_EF_SEARCH}"
        )
        print()
        rows = []
        for r in results:
            for name, values in r["times"].items():
                rows.append(
                    [
                        r["label"],
                        f"chunk_search {name}",
                        f"{_common.percentile(values, 50):.1f}",
                        f"{_common.percentile(values, 95):.1f}",
                        "—" if name == "text" else ("yes" if r["uses_hnsw"] else "**no**"),
                    ]
                )
            for ef, (_, values) in r["recall"].items():
                rows.append(
                    [
                        r["label"],
                        f"bare HNSW top-10, ef_search={ef}",
                        f"{_common.percentile(values, 50):.2f}",
                        f"{_common.percentile(values, 95):.2f}",
                        "yes",
                    ]
                )
        print(_common.table(["searchable chunks", "query", "p50 ms", "p95 ms", "vector top-N via HNSW"], rows))
        print()
        print(
            _common.table(
                [
                    "searchable chunks",
                    "recall@10 ef_search=40",
                    "recall@10 ef_search=100",
                    "HNSW build s",
                    "GIN build s",
                ],
                [
                    [
                        r["label"],
                        f"{r['recall'][40][0]:.3f}",
                        f"{r['recall'][100][0]:.3f}",
                        f"{r['build']['chunk_embedding_hnsw']:.1f}",
                        f"{r['build']['chunk_search_gin']:.1f}",
                    ]
                    for r in results
                ],
            )
        )
        for r in results:
            print(f"\nplan excerpt, chunk_search SQL, {r['label']}:")
            print("\n".join("    " + line for line in r["plan"]))
    finally:
        _common.stop_server()


if __name__ == "__main__":
    main()
