"""Reads from the knowledge base, above all the hybrid search the chat uses.

Search = pgvector cosine top-N (HNSW) + BM25 full-text top-N (over the
`ChunkTerm` postings of PostgreSQL's English tsvector lexemes), fused by
reciprocal rank, over `searchable` chunks only (current versions of verified,
unretired documents). One SQL statement returns the top k above the
similarity floor with what the reader needs (sentence spans and vectors), so
a chat turn reads its passages once; the query vector is computed by the
caller (once per chat turn) and passed in.
"""

from __future__ import annotations

import difflib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from core.embeddings import vector_literal
from knowledge.models import Chunk, Document, DocumentVersion, IngestionJob, Source, SourceItem, SyncRun

RRF_K = 60


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    document_id: int
    document_title: str
    source_key: str
    version_id: int
    version_number: int
    ordinal: int
    heading_path: str
    text: str
    cosine: float
    text_score: float
    vector_rank: int | None
    text_rank: int | None
    score: float
    version_title: str = ""  # the title at this version, as citations show it (the document's may differ)
    # The chunk's sentences (character spans) and their ingestion-time vectors (float16), for the reader.
    sentence_spans: list = field(default_factory=list)
    sentence_vectors: bytes = b""
    # False when the chunk before it in its document sits under the same heading: the chunk
    # continues a section instead of opening it (the reader weighs a section's first sentence).
    opens_section: bool = True


_SEARCH_SQL = """
WITH vec AS (
    -- ORDER BY the bound parameter itself: ordering by a column of a CTE
    -- would hide the constant from the planner and rule out the HNSW index.
    SELECT id, row_number() OVER (ORDER BY dist) AS rank
      FROM (SELECT id, embedding <=> %(vec)s::vector AS dist FROM knowledge_chunk
             WHERE searchable ORDER BY embedding <=> %(vec)s::vector LIMIT %(vn)s) c
),
fts AS (
    -- BM25 over the postings of the question's terms (an index-only scan of
    -- knowledge_chunkterm, which holds searchable chunks only).
    SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM (
        -- idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doclen / avgdl)), with the constant
        -- parts folded in Python and passed as float8 (numeric arithmetic costs milliseconds here).
        SELECT t.chunk_id AS id,
               sum(q.idf * t.tf / (t.tf + %(len_base)s::float8 + %(len_slope)s::float8 * t.doclen)) AS score
          FROM unnest(%(lexemes)s::text[], %(idfs)s::float8[]) AS q(lexeme, idf)
          JOIN knowledge_chunkterm t ON t.lexeme = q.lexeme
         GROUP BY t.chunk_id
         ORDER BY score DESC, t.chunk_id
         LIMIT %(tn)s
    ) bm
),
fused AS (
    SELECT COALESCE(vec.id, fts.id) AS id, vec.rank AS vrank, fts.rank AS trank, COALESCE(fts.score, 0) AS tscore,
           COALESCE(1.0 / (%(rrf)s + vec.rank), 0) + COALESCE(1.0 / (%(rrf)s + fts.rank), 0) AS rrf
      FROM vec FULL OUTER JOIN fts ON vec.id = fts.id
)
SELECT c.id, d.id, d.title, d.source_key, v.id, v.number, c.ordinal, c.heading_path, c.text,
       s.cosine, f.tscore, f.vrank, f.trank, f.rrf, v.title, c.sentence_spans, c.sentence_vectors,
       NOT EXISTS (SELECT 1 FROM knowledge_chunk p
                    WHERE p.version_id = c.version_id AND p.ordinal = c.ordinal - 1
                      AND p.heading_path = c.heading_path) AS opens_section
  FROM fused f
  JOIN knowledge_chunk c ON c.id = f.id
  CROSS JOIN LATERAL (SELECT 1 - (c.embedding <=> %(vec)s::vector) AS cosine) s
  JOIN knowledge_documentversion v ON v.id = c.version_id
  JOIN knowledge_document d ON d.id = v.document_id
 WHERE c.searchable AND s.cosine >= %(min_cosine)s
 ORDER BY f.rrf DESC, s.cosine DESC, c.id
 LIMIT %(k)s
"""

_LEXEMES_SQL = "SELECT tsvector_to_array(to_tsvector('english', %s))"

# BM25's usual constants (Robertson & Zaragoza): term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75
COMMON_TERM_SHARE = 0.2  # a lexeme in more than this share of chunks carries little rank information


@dataclass(frozen=True)
class TextStats:
    """Corpus statistics BM25 needs, for one knowledge generation."""

    generation: int
    chunks: int
    avg_length: float
    document_frequency: dict[str, int]

    def idf(self, lexeme: str) -> float:
        df = self.document_frequency.get(lexeme, 0)
        return math.log(1 + (self.chunks - df + 0.5) / (df + 0.5))


_stats_lock = threading.Lock()
_stats: TextStats | None = None


def text_stats(generation: int | None = None) -> TextStats:
    """Chunk count, mean length and per-lexeme document frequency of the searchable chunks,
    recomputed when the knowledge base changes (its generation goes up)."""
    global _stats
    from knowledge.models import KnowledgeState

    if generation is None:
        generation = KnowledgeState.current()
    if _stats is not None and _stats.generation == generation:
        return _stats
    with _stats_lock, connection.cursor() as cursor:
        if _stats is not None and _stats.generation == generation:
            return _stats  # another thread computed it while this one waited
        cursor.execute(
            "SELECT count(*), coalesce(avg(length(search_vector)), 1) FROM knowledge_chunk"
            " WHERE searchable AND search_vector IS NOT NULL"
        )
        n, avg_length = cursor.fetchone()
        cursor.execute("SELECT lexeme, count(*) FROM knowledge_chunkterm GROUP BY lexeme")
        _stats = TextStats(generation, n, max(1.0, float(avg_length)), dict(cursor.fetchall()))
    return _stats


def query_terms(question: str, generation: int | None = None) -> list[tuple[str, float]]:
    """The question's stemmed, stopword-free lexemes with their BM25 weights (IDF).

    Lexemes in more than COMMON_TERM_SHARE of the chunks are left out ("return"
    in a returns help centre says little); when every lexeme is that common,
    only the rarest one is kept. The rarest are read first, and a further term
    only while the postings read stay within `SEARCH_FTS_MAX_POSTINGS`: the
    bound that keeps a question full of mid-frequency words fast on a large
    corpus, at the price of its least informative terms. (The first term is
    always read, so the bound is max(budget, its postings).)

    Chunk length is the number of distinct lexemes (tsvector length), and
    heading and body occurrences count alike: BM25 here ignores the A/B
    weights the tsvector carries.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LEXEMES_SQL, [question])
        (lexemes,) = cursor.fetchone()
    if not lexemes:
        return []
    stats = text_stats(generation)
    known = sorted((stats.document_frequency[t], t) for t in lexemes if t in stats.document_frequency)
    limit = max(5, stats.chunks * COMMON_TERM_SHARE)
    kept = [(df, t) for df, t in known if df <= limit] or known[:1]
    budget = settings.SEARCH_FTS_MAX_POSTINGS
    chosen: list[tuple[str, float]] = []
    for df, term in kept:
        if chosen and df > budget:
            continue
        budget -= df
        chosen.append((term, stats.idf(term)))
    return chosen


def search_params(
    *, query: str, vector: np.ndarray, mode: str, candidates: int, generation: int | None, k: int, min_cosine: float
) -> dict:
    """The parameters of the search SQL (shared with bench/search.py's EXPLAIN)."""
    if mode not in ("hybrid", "vector", "text"):
        raise ValueError(f"unknown search mode {mode!r}")
    terms: list[tuple[str, float]] = []
    if mode in ("hybrid", "text"):
        if generation is None:
            from knowledge.models import KnowledgeState

            generation = KnowledgeState.current()  # read once for both uses below
        terms = query_terms(query, generation)
    # (k1 + 1) scales every score alike, so it is left out of the SQL.
    return {
        "vec": vector_literal(vector),
        "lexemes": [t for t, _ in terms],
        "idfs": [float(w) for _, w in terms],
        "len_base": BM25_K1 * (1 - BM25_B),
        "len_slope": BM25_K1 * BM25_B / (text_stats(generation).avg_length if terms else 1.0),
        "vn": candidates if mode != "text" else 0,
        "tn": candidates if mode != "vector" else 0,
        "rrf": RRF_K,
        "k": k,
        "min_cosine": min_cosine,
    }


def chunk_search(
    *,
    query: str,
    vector: np.ndarray,
    k: int = 5,
    min_cosine: float | None = None,
    candidates: int | None = None,
    mode: str = "hybrid",
    generation: int | None = None,
) -> list[SearchHit]:
    """Top-k chunks for a question; weak matches are dropped, never padded.

    `mode` is "hybrid" (default), "vector" or "text": the single-ranker modes
    exist for benchmarks that show what fusion adds. A chat turn passes the
    knowledge generation it already read, so it is not queried twice.
    """
    k = max(1, min(k, settings.SEARCH_MAX_K))
    n = candidates or settings.SEARCH_CANDIDATES
    threshold = settings.SEARCH_MIN_COSINE if min_cosine is None else min_cosine
    params = search_params(
        query=query, vector=vector, mode=mode, candidates=n, generation=generation, k=k, min_cosine=threshold
    )
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_SQL, params)
        rows = cursor.fetchall()
    return [
        SearchHit(
            chunk_id=r[0],
            document_id=r[1],
            document_title=r[2],
            source_key=r[3],
            version_id=r[4],
            version_number=r[5],
            ordinal=r[6],
            heading_path=r[7],
            text=r[8],
            cosine=float(r[9]),
            text_score=float(r[10]) * (BM25_K1 + 1),  # the SQL leaves BM25's constant factor out
            vector_rank=r[11],
            text_rank=r[12],
            score=float(r[13]),
            version_title=r[14],
            sentence_spans=json.loads(r[15]) if r[15] else [],  # Django leaves jsonb undecoded
            sentence_vectors=bytes(r[16] or b""),
            opens_section=bool(r[17]),
        )
        for r in rows
    ]


# --- Screens ---------------------------------------------------------------------------------


def chunk_tokens(chunk_ids: list[int]) -> dict[int, tuple[bytes, list[int]]]:
    """The stored token vectors of these chunks' sentences (packed) and each sentence's token count;
    read apart from the search, and only for the few chunks the reader looks at again."""
    rows = Chunk.objects.filter(pk__in=chunk_ids).values_list("pk", "token_vectors", "sentence_token_counts")
    return {pk: (bytes(blob or b""), list(counts or [])) for pk, blob, counts in rows}


def document_list(*, status: str = "", q: str = "") -> QuerySet[Document]:
    qs = Document.objects.all()
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(title__icontains=q) | qs.filter(source_key__icontains=q)
    return qs.select_related("owner", "source").order_by("title")


def job_list(*, limit: int = 200) -> QuerySet[IngestionJob]:
    return IngestionJob.objects.select_related("document", "version").order_by("-created_at", "-id")[:limit]


@dataclass(frozen=True)
class DiffRow:
    left: str
    right: str
    tag: str  # equal, replace, delete, insert
    left_no: int | None
    right_no: int | None


def version_diff(old: DocumentVersion | None, new: DocumentVersion) -> list[DiffRow]:
    """Side-by-side line diff of a version against another (usually the current one)."""
    return text_diff(old.text if old else "", new.text)


def version_for_viewer(*, document_id: int, number: int, staff: bool) -> DocumentVersion | None:
    """Customers may read versions that were verified (citations point at them); staff read all."""
    qs = DocumentVersion.objects.select_related("document").filter(document_id=document_id, number=number)
    if not staff:
        qs = qs.filter(verified_at__isnull=False)
    return qs.first()


def version_chunks(version: DocumentVersion) -> QuerySet[Chunk]:
    return version.chunks.only("id", "ordinal", "heading_path", "text", "version_id").order_by("ordinal")


# --- Approved answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovedMatch:
    version_id: int
    answer_id: int
    number: int
    text: str
    variant: str
    similarity: float


_APPROVED_SQL = """
SELECT v.id, v.answer_id, v.number, v.text, qv.text, 1 - (qv.embedding <=> %(vec)s::vector) AS sim
  FROM knowledge_questionvariant qv
  JOIN knowledge_approvedanswerversion v ON v.id = qv.version_id
 WHERE v.status = 'approved'
   AND (v.valid_from IS NULL OR v.valid_from <= %(now)s)
   AND (v.valid_until IS NULL OR v.valid_until > %(now)s)
 ORDER BY qv.embedding <=> %(vec)s::vector, v.id
 LIMIT %(limit)s
"""


def approved_matches(*, vector: np.ndarray, now, limit: int = 3) -> list[ApprovedMatch]:
    """The closest question variants of approved, currently valid answer versions."""
    params = {"vec": vector_literal(vector), "now": now, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(_APPROVED_SQL, params)
        rows = cursor.fetchall()
    return [ApprovedMatch(r[0], r[1], r[2], r[3], r[4], float(r[5])) for r in rows]


# --- Approved-answer curation -----------------------------------------------------------------------


def approved_answer_list(*, q: str = "") -> QuerySet:
    from django.db.models import Count, Q

    from knowledge.models import ApprovedAnswer

    qs = ApprovedAnswer.objects.annotate(
        n_versions=Count("versions", distinct=True),
        n_approved=Count("versions", filter=Q(versions__status="approved"), distinct=True),
    )
    if q:
        qs = qs.filter(
            Q(title__icontains=q) | Q(versions__text__icontains=q) | Q(versions__variants__text__icontains=q)
        ).distinct()
    return qs.order_by("title")


@dataclass(frozen=True)
class VersionStats:
    uses: int
    thumbs_up: int
    thumbs_down: int
    escalated_after: int


# How each approved-answer version fared is measured from conversations, which
# live in layers above this one: insights registers the function at start-up.
VersionStatsProvider = Callable[[list[int]], dict[int, VersionStats]]
_version_stats_provider: VersionStatsProvider | None = None


def register_version_stats(provider: VersionStatsProvider) -> None:
    global _version_stats_provider
    _version_stats_provider = provider


def approved_version_stats(version_ids: list[int]) -> dict[int, VersionStats]:
    """Replies given, thumbs and later escalations per version (zeros when nothing measures them)."""
    if _version_stats_provider is None:
        return {vid: VersionStats(0, 0, 0, 0) for vid in version_ids}
    return _version_stats_provider(version_ids)


@dataclass(frozen=True)
class Overlap:
    variant: str
    other_answer_id: int
    other_title: str
    other_variant: str
    similarity: float


_OVERLAP_SQL = """
SELECT mine.text, a.id, a.title, theirs.text, 1 - (mine.embedding <=> theirs.embedding) AS sim
  FROM knowledge_questionvariant mine
  JOIN knowledge_questionvariant theirs ON theirs.id <> mine.id
  JOIN knowledge_approvedanswerversion tv ON tv.id = theirs.version_id AND tv.status = 'approved'
  JOIN knowledge_approvedanswer a ON a.id = tv.answer_id
 WHERE mine.version_id = %s AND tv.answer_id <> %s
   AND 1 - (mine.embedding <=> theirs.embedding) >= %s
 ORDER BY sim DESC
 LIMIT 10
"""


def approved_overlaps(*, version, margin: float = 0.1) -> list[Overlap]:
    """Approved answers of *other* entries whose questions this version's questions resemble:
    two answers competing for one question is how contradictions start."""
    threshold = settings.APPROVED_MATCH_THRESHOLD - margin
    with connection.cursor() as cursor:
        cursor.execute(_OVERLAP_SQL, [version.pk, version.answer_id, threshold])
        return [Overlap(r[0], r[1], r[2], r[3], float(r[4])) for r in cursor.fetchall()]


def text_diff(old: str, new: str) -> list[DiffRow]:
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            rows.append(
                DiffRow(
                    a[i] if i < i2 else "",
                    b[j] if j < j2 else "",
                    tag,
                    i + 1 if i < i2 else None,
                    j + 1 if j < j2 else None,
                )
            )
    return rows


def pending_versions(source) -> list[DocumentVersion]:
    """The newest version of each live document of a source, where it waits for review."""
    newest = (
        DocumentVersion.objects.filter(document__source=source)
        .exclude(document__status=Document.Status.RETIRED)
        .order_by("document_id", "-number")
        .distinct("document_id")
    )
    return [v for v in newest.select_related("document") if v.verified_at is None]


@dataclass(frozen=True)
class SourceReview:
    new: int
    changed: int
    gone: int

    @property
    def total(self) -> int:
        return self.new + self.changed


def source_review(source) -> SourceReview:
    """What a curator has to look at after a sync: "N changed, M new, K gone"."""
    pending = pending_versions(source)
    changed = sum(1 for v in pending if v.document.versions.filter(is_current=True).exists())
    # Gone: pages that answered 404/410 on the last finished run, retired by it or counting down.
    last = SyncRun.objects.filter(source=source, state=SyncRun.State.DONE).order_by("-finished_at").first()
    gone = (
        SourceItem.objects.filter(source=source, last_run=last, last_outcome__in=["gone", "retired"]).count()
        if last
        else 0
    )
    return SourceReview(new=len(pending) - changed, changed=changed, gone=gone)


def source_list() -> QuerySet[Source]:
    """The sources in use (a deleted one is kept for the audit, not listed)."""
    return Source.objects.filter(deleted_at__isnull=True).select_related("owner").order_by("name")


def source_live_documents(source) -> int:
    """Documents of the source that are not retired: what deleting it would take out of search."""
    return Document.objects.filter(source=source).exclude(status=Document.Status.RETIRED).count()


def source_runs(source, *, limit: int = 10) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(source=source).order_by("-created_at", "-id")[:limit]


def source_items(source, *, limit: int = 1000) -> QuerySet[SourceItem]:
    """Every page or file the source's syncs know, with its document: what a curator checks first."""
    return SourceItem.objects.filter(source=source).select_related("document").order_by("key")[:limit]
