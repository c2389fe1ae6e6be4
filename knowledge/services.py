"""Writes to the knowledge base: ingestion jobs, versions, verification, retirement.

Ingestion is one job per file. `job_run` is idempotent and safe to run twice
at once: the content hash is checked before the expensive embedding and
again under a row lock on the document, and the database refuses a second
version with the same hash.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from core import embeddings
from core.errors import ApplicationError, ErrorCode
from core.models import audit
from core.permissions import is_curator
from core.queue import enqueue_on_commit
from core.text import question_key
from core.transitions import approve_replacing, transition
from knowledge import chunking
from knowledge.models import (
    ApprovedAnswer,
    ApprovedAnswerVersion,
    Chunk,
    Document,
    DocumentVersion,
    IngestionJob,
    KnowledgeState,
    QuestionVariant,
    Source,
    upload_source_id,
)
from knowledge.parsing import ParsedDocument, ParseError, parse_document
from knowledge.sources import SourceFile, too_large

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


class TransientIngestError(Exception):
    """Worth another try (database hiccup, file system busy)."""


@dataclass(frozen=True)
class JobResult:
    job_id: int
    outcome: str
    error: str = ""


# --- Jobs ----------------------------------------------------------------------------


def jobs_create(
    *,
    files: Iterable[SourceFile],
    verify: bool = False,
    user=None,
    batch: uuid.UUID | None = None,
    source: Source | None = None,
) -> list[IngestionJob]:
    """Store each file's bytes and create its job row; refused files become failed jobs at once."""
    batch = batch or uuid.uuid4()
    folder = settings.UPLOAD_DIR / str(batch)
    source_id = source.pk if source is not None else upload_source_id()
    jobs: list[IngestionJob] = []
    for file in files:
        job = IngestionJob(
            batch=batch, source_id=source_id, source_key=file.source_key[:500], verify=verify, created_by=user
        )
        error = file.error or (too_large(len(file.data)) if file.data is not None else "no data")
        if error:
            job.state, job.outcome, job.error = IngestionJob.State.FAILED, IngestionJob.Outcome.FAILED, error
            job.finished_at = timezone.now()
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{uuid.uuid4().hex}{Path(file.source_key).suffix.lower()[:10]}"
            path.write_bytes(file.data)
            job.file_path, job.size_bytes = str(path), len(file.data)
        job.save()
        jobs.append(job)
    return jobs


def jobs_enqueue(jobs: Iterable[IngestionJob]) -> None:
    for job in jobs:
        if job.state == IngestionJob.State.QUEUED:
            enqueue_on_commit("knowledge.ingest_job", job_id=job.pk)


# A job is tried at most this many times in all: a worker that dies mid-job (killed, out of
# memory, the machine gone) leaves it `running`; the sweep requeues it, and gives up after this.
JOB_MAX_ATTEMPTS = 3


def _stale_before() -> datetime:
    """A job `running` since before this has no live worker: the hard time limit has killed it."""
    return timezone.now() - timedelta(seconds=settings.INGEST_STALE_SECONDS)


def _claim(job_id: int) -> bool:
    # One conditional UPDATE decides who runs the job: a second worker (or a
    # redelivered message) finds it no longer queued and leaves it alone. A
    # RUNNING job whose worker died long ago may be taken over, within its attempts.
    claimable = Q(state=IngestionJob.State.QUEUED) | Q(
        state=IngestionJob.State.RUNNING, started_at__lt=_stale_before(), attempts__lt=JOB_MAX_ATTEMPTS
    )
    return bool(
        IngestionJob.objects.filter(claimable, pk=job_id).update(
            state=IngestionJob.State.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1, progress=1
        )
    )


def jobs_sweep() -> tuple[int, int]:
    """Requeue every job left `running` by a worker that died, or fail it after JOB_MAX_ATTEMPTS.

    Run by the scheduler (`knowledge.jobs_sweep`). Each job changes by one conditional UPDATE on
    its state and start time, so two sweeps, or a sweep and a redelivered message, never both act:
    a job is requeued once and runs once. Returns (requeued, failed)."""
    requeued = failed = 0
    stale = IngestionJob.objects.filter(state=IngestionJob.State.RUNNING, started_at__lt=_stale_before())
    for job in stale.only("pk", "attempts", "started_at", "progress"):
        same = IngestionJob.objects.filter(pk=job.pk, state=IngestionJob.State.RUNNING, started_at=job.started_at)
        reason = f"the worker stopped during attempt {job.attempts} (at {job.progress}%)"
        if job.attempts >= JOB_MAX_ATTEMPTS:
            failed += same.update(
                state=IngestionJob.State.FAILED,
                outcome=IngestionJob.Outcome.FAILED,
                error=f"gave up after {job.attempts} attempts: {reason}",
                finished_at=timezone.now(),
            )
        elif same.update(state=IngestionJob.State.QUEUED, progress=0, error=f"requeued: {reason}"):
            requeued += 1
            enqueue_on_commit("knowledge.ingest_job", job_id=job.pk)
    if requeued or failed:
        logger.warning("stale ingestion jobs swept", extra={"requeued": requeued, "failed": failed})
    return requeued, failed


def job_retry(*, job: IngestionJob, user=None) -> IngestionJob:
    """A curator's second chance for a failed job: queued again with fresh attempts, if its file is still there."""
    if job.state != IngestionJob.State.FAILED:
        raise ApplicationError("Only a failed job can be retried.", code=ErrorCode.CONFLICT)
    if not job.file_path or not Path(job.file_path).is_file():
        raise ApplicationError("The uploaded file is gone; upload it again.", code=ErrorCode.CONFLICT)
    updated = IngestionJob.objects.filter(pk=job.pk, state=IngestionJob.State.FAILED).update(
        state=IngestionJob.State.QUEUED, outcome="", error="", progress=0, attempts=0, finished_at=None
    )
    if updated:
        audit(actor=user, action="job.retry", obj=job, source_key=job.source_key)
        enqueue_on_commit("knowledge.ingest_job", job_id=job.pk)
    job.refresh_from_db()
    return job


def job_requeue(*, job_id: int, error: str) -> None:
    IngestionJob.objects.filter(pk=job_id, state=IngestionJob.State.RUNNING).update(
        state=IngestionJob.State.QUEUED, error=f"retrying after: {error}"
    )


def job_fail(*, job_id: int, error: str) -> None:
    IngestionJob.objects.filter(pk=job_id).exclude(state=IngestionJob.State.DONE).update(
        state=IngestionJob.State.FAILED,
        outcome=IngestionJob.Outcome.FAILED,
        error=error[:4000],
        finished_at=timezone.now(),
    )


def _progress(job_id: int) -> ProgressCallback:
    def report(percent: int) -> None:
        IngestionJob.objects.filter(pk=job_id).update(progress=max(1, min(99, percent)))

    return report


def job_run(*, job_id: int, on_progress: ProgressCallback | None = None) -> JobResult:
    """Run one claimed job to the end. Permanent problems are recorded on the job;
    transient ones raise TransientIngestError for the task to retry."""
    if not _claim(job_id):
        job = IngestionJob.objects.get(pk=job_id)
        return JobResult(job_id, job.outcome or job.state, job.error)
    job = IngestionJob.objects.get(pk=job_id)
    report = _progress(job_id)

    def progress(percent: int) -> None:
        report(percent)
        if on_progress:
            on_progress(percent)

    try:
        try:
            data = Path(job.file_path).read_bytes()
        except FileNotFoundError:
            raise ParseError("the uploaded file is gone from the upload folder; upload it again") from None
        except OSError as exc:
            raise TransientIngestError(f"could not read the uploaded file: {exc}") from exc
        if too_large(len(data)):
            raise ParseError(too_large(len(data)))
        version, outcome = version_ingest(
            source_key=job.source_key,
            data=data,
            source=job.source,
            user=job.created_by,
            verify=job.verify,
            on_progress=progress,
        )
    except ParseError as exc:
        job_fail(job_id=job_id, error=str(exc))
        return JobResult(job_id, IngestionJob.Outcome.FAILED, str(exc))
    note = RETIRED_NOTE if outcome == IngestionJob.Outcome.RETIRED else ""
    IngestionJob.objects.filter(pk=job_id).update(
        state=IngestionJob.State.DONE,
        outcome=outcome,
        progress=100,
        error=note,
        document=version.document_id,
        version=version.pk,
        chunk_count=version.chunks.count(),
        finished_at=timezone.now(),
    )
    return JobResult(job_id, outcome, note)


RETIRED_NOTE = "unchanged, but its document is retired: restore the document to make it answer again"


# --- Versions ------------------------------------------------------------------------------


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_ingest(
    *,
    source_key: str,
    data: bytes,
    source: Source | None = None,
    name: str | None = None,
    url: str = "",
    user=None,
    verify: bool = False,
    on_progress: ProgressCallback | None = None,
) -> tuple[DocumentVersion, str]:
    """Parse, chunk, embed and store one file as a new version of its document.

    The document is (source, source_key); no source means the uploads. `name` gives the format
    when the key does not (a page's URL). Returns the version and the outcome: added (new
    document), updated (new version), reverted (content equal to an older version: a new version
    with that text, its chunks copied, verified like any change), unchanged (equal to the newest
    or the current version), or retired (unchanged, but the document is retired: restore it).
    """
    progress = on_progress or (lambda _p: None)
    source_id = source.pk if source is not None else upload_source_id()
    parsed = parse_document(name or source_key, data)
    text = parsed.text
    digest = content_hash(text)
    document = Document.objects.filter(source_id=source_id, source_key=source_key).first()
    older = None
    if document is not None:
        same = _same_content(document, digest)
        if same is not None:
            return same, _unchanged_outcome(document)
        older = document.versions.filter(content_hash=digest).order_by("-number").first()
    progress(10)
    drafts: list[chunking.ChunkDraft] = []
    vectors: np.ndarray | None = None
    sentence_vectors: list[np.ndarray] = []
    token_vectors: list[list[np.ndarray]] = []
    if older is None:
        drafts = chunking.chunk_document(
            parsed,
            count_tokens=embeddings.count_tokens,
            target_tokens=settings.CHUNK_TARGET_TOKENS,
            max_tokens=settings.CHUNK_MAX_TOKENS,
            overlap_sentences=settings.CHUNK_OVERLAP_SENTENCES,
        )
        if not drafts:
            raise ParseError("no text found in the file")
        progress(20)
        vectors, sentence_vectors, token_vectors = _embed(drafts, progress)
    progress(92)
    try:
        version, outcome = _store(
            source_id=source_id,
            source_key=source_key,
            url=url,
            parsed=parsed,
            text=text,
            digest=digest,
            drafts=drafts,
            vectors=vectors,
            sentence_vectors=sentence_vectors,
            token_vectors=token_vectors,
            user=user,
            copy_from=older,
        )
    except IntegrityError:
        # Another worker stored the document between our check and our insert.
        document = Document.objects.get(source_id=source_id, source_key=source_key)
        same = _same_content(document, digest)
        if same is None:
            raise TransientIngestError("the document changed while it was being ingested") from None
        return same, _unchanged_outcome(document)
    if outcome in (IngestionJob.Outcome.UNCHANGED,):
        return version, _unchanged_outcome(version.document)
    if verify or settings.INGEST_AUTO_VERIFY:
        version_verify(version=version, user=user)
    return version, outcome


def _same_content(document: Document, digest: str) -> DocumentVersion | None:
    """The version this content already is: the newest one, or the one answering now."""
    newest = document.versions.order_by("-number").first()
    if newest is not None and newest.content_hash == digest:
        return newest
    return document.versions.filter(is_current=True, content_hash=digest).first()


def _unchanged_outcome(document: Document) -> str:
    if document.status == Document.Status.RETIRED:
        return IngestionJob.Outcome.RETIRED
    return IngestionJob.Outcome.UNCHANGED


def _embed(
    drafts: list[chunking.ChunkDraft], progress: ProgressCallback
) -> tuple[np.ndarray, list[np.ndarray], list[list[np.ndarray]]]:
    batch = settings.EMBEDDING_BATCH_SIZE
    texts = [d.embedding_text for d in drafts]
    spans = [[(s + d.body_offset, e + d.body_offset) for s, e in d.sentence_spans] for d in drafts]
    vectors: list[np.ndarray] = []
    per_sentence: list[np.ndarray] = []
    per_token: list[list[np.ndarray]] = []
    for start in range(0, len(texts), batch):
        v, s, t = embeddings.embed_with_spans(texts[start : start + batch], spans[start : start + batch], tokens=True)
        vectors.append(v)
        per_sentence.extend(s)
        per_token.extend(t)
        progress(20 + int(70 * min(len(texts), start + batch) / len(texts)))
    return np.vstack(vectors), per_sentence, per_token


def tokens_unreadable(chunk: Chunk) -> bool:
    """Whether the reader cannot read this chunk's stored token vectors: none (stored before they
    were) or stored in another space (another projection, or none)."""
    blob, counts = bytes(chunk.token_vectors or b""), chunk.sentence_token_counts or []
    return len(embeddings.unpack_tokens(blob, counts, embeddings.token_dims())) != len(chunk.sentence_spans)


def chunks_store_tokens(*, everything: bool = False, progress: ProgressCallback = lambda _: None) -> int:
    """Embed again, as ingestion embeds them, the chunks whose token vectors the reader cannot read
    (`everything`: all chunks), and store their token vectors; returns how many. Ingestion never embeds
    identical content again, so this is how a knowledge base stored before the token vectors, or
    before a new projection, gets them. Safe to rerun: a chunk done is skipped."""
    fields = ("id", "ordinal", "heading_path", "text", "token_count", "sentence_spans")
    todo = [
        c
        for c in Chunk.objects.only(*fields, "token_vectors", "sentence_token_counts").order_by("id").iterator(500)
        if everything or tokens_unreadable(c)
    ]
    if not todo:
        return 0
    drafts = [
        chunking.ChunkDraft(c.ordinal, c.heading_path, c.text, c.token_count, [tuple(s) for s in c.sentence_spans])
        for c in todo
    ]
    _, _, tokens = _embed(drafts, progress)
    for chunk, per_span in zip(todo, tokens, strict=True):
        chunk.token_vectors, chunk.sentence_token_counts = embeddings.pack_tokens(per_span)
    Chunk.objects.bulk_update(todo, ["token_vectors", "sentence_token_counts"], batch_size=500)
    return len(todo)


_SEARCH_VECTOR_SQL = """
UPDATE knowledge_chunk
   SET search_vector = setweight(to_tsvector('english', heading_path), 'A')
                    || setweight(to_tsvector('english', text), 'B')
 WHERE version_id = %s
"""


@transaction.atomic
def _store(
    *,
    source_id: int,
    source_key: str,
    url: str,
    parsed: ParsedDocument,
    text: str,
    digest: str,
    drafts: list[chunking.ChunkDraft],
    vectors: np.ndarray | None,
    sentence_vectors: list[np.ndarray],
    token_vectors: list[list[np.ndarray]],
    user,
    copy_from: DocumentVersion | None,
) -> tuple[DocumentVersion, str]:
    document, _ = Document.objects.select_for_update().get_or_create(
        source_id=source_id,
        source_key=source_key,
        defaults={"title": parsed.title[:300], "owner": user, "source_url": url[:1000]},
    )
    # Under the row lock: a second worker with the same content finds it stored already.
    same = _same_content(document, digest)
    if same is not None:
        return same, IngestionJob.Outcome.UNCHANGED
    if url and document.source_url != url[:1000]:
        document.source_url = url[:1000]
        document.save(update_fields=["source_url", "updated_at"])
    number = (document.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = DocumentVersion.objects.create(
        document=document,
        number=number,
        content_hash=digest,
        title=parsed.title[:300],
        source_format=parsed.source_format,
        text=text,
        ingested_by=user,
    )
    if copy_from is not None:
        # The same text as an older version: its chunks and vectors are still right.
        chunks = [
            Chunk(
                version=version,
                ordinal=c.ordinal,
                heading_path=c.heading_path,
                text=c.text,
                token_count=c.token_count,
                embedding=c.embedding,
                sentence_spans=c.sentence_spans,
                sentence_vectors=c.sentence_vectors,
                token_vectors=c.token_vectors,
                sentence_token_counts=c.sentence_token_counts,
            )
            for c in copy_from.chunks.order_by("ordinal")
        ]
    else:
        assert vectors is not None
        packed = [embeddings.pack_tokens(t) for t in token_vectors]
        chunks = [
            Chunk(
                version=version,
                ordinal=draft.ordinal,
                heading_path=draft.heading_path[:1000],
                text=draft.text,
                token_count=draft.token_count,
                embedding=vectors[i],
                sentence_spans=[list(span) for span in draft.sentence_spans],
                sentence_vectors=sentence_vectors[i].astype(np.float16).tobytes(),
                token_vectors=packed[i][0],
                sentence_token_counts=packed[i][1],
            )
            for i, draft in enumerate(drafts)
        ]
    Chunk.objects.bulk_create(chunks, batch_size=500)
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_VECTOR_SQL, [version.pk])
    if number == 1:
        outcome = IngestionJob.Outcome.ADDED
    elif copy_from is not None:
        outcome = IngestionJob.Outcome.REVERTED
    else:
        outcome = IngestionJob.Outcome.UPDATED
    return version, outcome


@transaction.atomic
def version_verify(*, version: DocumentVersion, user=None) -> DocumentVersion:
    """Make a version current: in one transaction the old chunks stop being
    searched and the new ones start."""
    document = Document.objects.select_for_update().get(pk=version.document_id)
    version = DocumentVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_current:
        return version
    previous = document.versions.filter(is_current=True).first()
    if previous is not None:
        transition(previous, False)
        Chunk.objects.filter(version=previous).update(searchable=False)
    now = timezone.now()
    transition(version, True, verified_at=version.verified_at or now, verified_by=version.verified_by or user)
    document.title = version.title
    document.save(update_fields=["title", "updated_at"])
    if document.status != Document.Status.RETIRED:
        transition(document, Document.Status.VERIFIED, updated_at=now)
        Chunk.objects.filter(version=version).update(searchable=True)
    KnowledgeState.bump()
    audit(actor=user, action="document.verify", obj=document, before=previous, after=version)
    return version


@transaction.atomic
def document_retire(*, document: Document, user=None) -> Document:
    """Take a document out of search; its versions stay readable for audit."""
    document = Document.objects.select_for_update().get(pk=document.pk)
    if document.status == Document.Status.RETIRED:
        return document  # retiring twice changes nothing
    transition(document, Document.Status.RETIRED, updated_at=timezone.now())
    Chunk.objects.filter(version__document=document).update(searchable=False)
    KnowledgeState.bump()
    audit(actor=user, action="document.retire", obj=document)
    return document


@transaction.atomic
def document_restore(*, document: Document, user=None) -> Document:
    document = Document.objects.select_for_update().select_related("source").get(pk=document.pk)
    if document.status != Document.Status.RETIRED:
        return document  # only a retired document comes back
    if document.source.deleted_at is not None:
        raise ApplicationError(
            f"Its source, {document.source.name}, was deleted: add the page again in a source that is in use.",
            code=ErrorCode.CONFLICT,
        )
    current = document.versions.filter(is_current=True).first()
    transition(document, Document.Status.VERIFIED if current else Document.Status.DRAFT, updated_at=timezone.now())
    if current:
        Chunk.objects.filter(version=current).update(searchable=True)
    KnowledgeState.bump()
    audit(actor=user, action="document.restore", obj=document)
    return document


def document_set_source_key(*, document: Document, source_key: str, user=None) -> Document:
    from knowledge.sources import clean_key

    key = clean_key(source_key.strip())
    if not key:
        raise ApplicationError("The source key must be a relative path like 'help/returns.md'.", code=ErrorCode.INVALID)
    if Document.objects.exclude(pk=document.pk).filter(source_id=document.source_id, source_key=key).exists():
        raise ApplicationError(f"Another document already has the source key {key!r}.", code=ErrorCode.CONFLICT)
    before = document.source_key
    document.source_key = key
    document.save(update_fields=["source_key", "updated_at"])
    audit(actor=user, action="document.source_key", obj=document, old=before, new=key)
    return document


# --- Approved answers ------------------------------------------------------------------------------


def _clean_variants(variants: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for variant in variants:
        text = " ".join(variant.split())
        if text:
            seen.setdefault(text[:2000], None)
    return list(seen)


@transaction.atomic
def approved_version_create(
    *,
    answer: ApprovedAnswer | None = None,
    title: str = "",
    text: str,
    variants: Iterable[str],
    user=None,
    note: str = "",
    valid_from=None,
    valid_until=None,
) -> ApprovedAnswerVersion:
    """A new draft version (and a new answer when none is given), its question variants embedded."""
    text = text.strip()
    questions = _clean_variants(variants)
    if not text:
        raise ApplicationError("An approved answer needs its text.", code=ErrorCode.INVALID)
    if not questions:
        raise ApplicationError("Give at least one question this answer answers.", code=ErrorCode.INVALID)
    if valid_from and valid_until and valid_until <= valid_from:
        raise ApplicationError("'Valid until' must be after 'valid from'.", code=ErrorCode.INVALID)
    if answer is None:
        answer = ApprovedAnswer.objects.create(title=(title or questions[0])[:300], created_by=user)
    else:
        answer = ApprovedAnswer.objects.select_for_update().get(pk=answer.pk)
    number = (answer.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ApprovedAnswerVersion.objects.create(
        answer=answer,
        number=number,
        text=text,
        note=note[:500],
        created_by=user,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    vectors = embeddings.embed_passages([question_key(q) for q in questions])
    QuestionVariant.objects.bulk_create(
        [QuestionVariant(version=version, text=q, embedding=vectors[i]) for i, q in enumerate(questions)]
    )
    audit(actor=user, action="approved_answer.draft", obj=answer, after=version, number=version.number)
    return version


@transaction.atomic
def approved_version_approve(*, version: ApprovedAnswerVersion, user=None) -> ApprovedAnswerVersion:
    """Approve a version (a draft, or an earlier one to roll back to); the answer's
    previously approved version is retired in the same transaction."""
    _require_curator(user)
    ApprovedAnswer.objects.select_for_update().get(pk=version.answer_id)
    version = ApprovedAnswerVersion.objects.get(pk=version.pk)
    if version.status == ApprovedAnswerVersion.Status.APPROVED:
        return version
    previous = approve_replacing(version, parent="answer", approved_by=user, approved_at=timezone.now())
    KnowledgeState.bump()
    audit(
        actor=user,
        action="approved_answer.approve",
        obj=version.answer,
        before=previous,
        after=version,
        number=version.number,
        previous_number=previous.number if previous else None,
    )
    return version


@transaction.atomic
def approved_version_retire(*, version: ApprovedAnswerVersion, user=None) -> ApprovedAnswerVersion:
    _require_curator(user)
    version = ApprovedAnswerVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ApprovedAnswerVersion.Status.RETIRED:
        return version  # retiring twice (a double submit, a stale tab, the admin action) changes nothing
    transition(version, ApprovedAnswerVersion.Status.RETIRED)
    KnowledgeState.bump()
    audit(actor=user, action="approved_answer.retire", obj=version.answer, before=version, number=version.number)
    return version


def _require_curator(user) -> None:
    # System actions (imports, tests) pass no user; a person must be a curator.

    if user is not None and not is_curator(user):
        raise ApplicationError("Only curators can approve or retire answers.", code=ErrorCode.FORBIDDEN)
