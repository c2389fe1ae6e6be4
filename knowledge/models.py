"""Documents, their versions and the chunks that search reads.

Invariants kept by the database, not only by code:
- one current version per document (partial unique index);
- no two versions of a document in a row with the same content hash: re-ingesting the same
  bytes, even from two workers at once, never makes a second version (checked under the
  document's row lock); content equal to an older version becomes a new version, so a
  revert goes through verification like any change;
- unique chunk ordinal per version.

`Chunk.searchable` is the one flag search filters on; it is true exactly for
chunks of the current version of a verified document, and only the services
in `knowledge.services` flip it, inside the same transaction that changes the
version or document status. The HNSW and GIN indexes are partial on it, so
old versions and drafts cost search nothing. `ChunkTerm` (the full-text
postings) is filled and emptied from the same flag by a database trigger.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from core.transitions import Transitions


class Source(models.Model):
    """Where documents come from: a website crawled from a start URL or sitemap, a folder on the
    server, or files uploaded by hand. A document is known by (source, key), so two sources never
    collide; websites and folders are synced again on their schedule. A deleted source is kept
    (`deleted_at`): its documents are retired, never destroyed, so the versions and replies that
    cite them stay auditable, and its name is free for a new source."""

    class Kind(models.TextChoices):
        WEBSITE = "website"
        FOLDER = "folder"
        UPLOAD = "upload"

    class Schedule(models.TextChoices):
        OFF = "off"
        HOURLY = "hourly"
        DAILY = "daily"

    class Status(models.TextChoices):
        IDLE = "idle"
        QUEUED = "queued"
        RUNNING = "running"
        OK = "ok", "Synced"
        PARTIAL = "partial", "Synced, some pages failed"
        FAILED = "failed", "Could not sync"

    UPLOADS_NAME = "Uploads"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind)
    url = models.URLField(max_length=1000, blank=True, help_text="Start page or sitemap.xml (websites).")
    folder = models.CharField(max_length=1000, blank=True, help_text="Directory on the server (folders).")
    include_patterns = models.JSONField(default=list, blank=True, help_text='Path patterns to keep, e.g. "/help/*".')
    exclude_patterns = models.JSONField(default=list, blank=True, help_text='Path patterns to skip, e.g. "/blog/*".')
    schedule = models.CharField(max_length=16, choices=Schedule, default=Schedule.OFF)
    auto_verify = models.BooleanField(
        default=False, help_text="Make changed pages answer at once, without a curator's review."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status, default=Status.IDLE)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(
        null=True, blank=True, help_text="A scheduled sync starts no earlier than this (claims beat's tick)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Deleted: kept for audit, documents retired.")

    class Meta:
        ordering = ["name"]
        constraints = [
            # Names are unique among the sources in use; a deleted source's name may be used again.
            models.UniqueConstraint(fields=["name"], condition=Q(deleted_at__isnull=True), name="source_name_unique"),
            models.CheckConstraint(condition=~Q(kind="website") | ~Q(url=""), name="website_source_has_url"),
            models.CheckConstraint(condition=~Q(kind="folder") | ~Q(folder=""), name="folder_source_has_folder"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def can_sync(self) -> bool:
        return self.kind != self.Kind.UPLOAD and self.deleted_at is None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


def upload_source_id() -> int:
    """The default source of a document made without one: the uploads (and `manage.py ingest`)."""
    # Reads the id column only: migration 0003 calls this before later columns exist. The uploads
    # source is never deleted (sync.source_delete refuses), and no other source takes its name.
    found = Source.objects.filter(kind=Source.Kind.UPLOAD).order_by("pk").values_list("pk", flat=True).first()
    if found is None:
        found = Source.objects.create(name=Source.UPLOADS_NAME, kind=Source.Kind.UPLOAD).pk
    return found


class Document(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        VERIFIED = "verified"
        RETIRED = "retired"

    # Retired documents leave search and come back with restore; verify never revives a retired one.
    TRANSITIONS = Transitions(
        "status",
        {
            Status.DRAFT: {Status.VERIFIED, Status.RETIRED},
            Status.VERIFIED: {Status.VERIFIED, Status.RETIRED},
            Status.RETIRED: {Status.VERIFIED, Status.DRAFT},
        },
    )

    title = models.CharField(max_length=300)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="documents", default=upload_source_id)
    source_key = models.CharField(
        max_length=500,
        help_text="Identity of the document inside its source: a page's canonical URL, a path inside the "
        "folder or zip ingested, or the uploaded file's name.",
    )
    source_url = models.URLField(max_length=1000, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_key"], name="document_key_per_source"),
        ]

    def __str__(self) -> str:
        return self.title


class DocumentVersion(models.Model):
    # A version becomes current once verified, and stops being current when a newer one is verified.
    TRANSITIONS = Transitions("is_current", {False: {True}, True: {False}})

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    source_format = models.CharField(max_length=16)
    text = models.TextField(help_text="The normalised text, as chunked.")
    is_current = models.BooleanField(default=False)
    ingested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ingested_at = models.DateTimeField(auto_now_add=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="version_number_unique"),
            models.UniqueConstraint(fields=["document"], condition=Q(is_current=True), name="one_current_version"),
            models.CheckConstraint(
                condition=Q(is_current=False) | Q(verified_at__isnull=False), name="current_version_is_verified"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.title} v{self.number}"


class Chunk(models.Model):
    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    heading_path = models.CharField(max_length=1000, blank=True, help_text='"Returns › E-bikes"')
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    embedding = VectorField(dimensions=384)
    # Sentence boundaries ([start, end] offsets into `text`) and their vectors
    # (float16, 384 per sentence), computed in the same forward pass as the
    # chunk vector at ingestion so answer compression never embeds per query.
    sentence_spans = models.JSONField(default=list)
    sentence_vectors = models.BinaryField(default=bytes)
    # Each sentence's contextual token vectors (128 dimensions, int8, `core.embeddings.pack_tokens`)
    # and how many tokens each sentence has: the reader matches the question's words against
    # them within the chosen article (support.reader.late). Empty for chunks ingested before.
    token_vectors = models.BinaryField(default=bytes)
    sentence_token_counts = models.JSONField(default=list)
    search_vector = SearchVectorField(null=True)
    searchable = models.BooleanField(default=False)

    class Meta:
        ordering = ["version", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["version", "ordinal"], name="chunk_ordinal_unique"),
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
                condition=Q(searchable=True),
            ),
            GinIndex(name="chunk_search_gin", fields=["search_vector"], condition=Q(searchable=True)),
        ]

    def __str__(self) -> str:
        return f"{self.version} #{self.ordinal}"


class ChunkTerm(models.Model):
    """One posting of the full-text index search ranks with (BM25).

    PostgreSQL's ts_rank has no notion of how rare a word is, and reading
    each matching chunk's tsvector from the wide chunk rows is what made
    full-text search slow on a large corpus. This narrow table holds, for
    searchable chunks only, one row per (lexeme, chunk) with the lexeme's
    count and the chunk's length; its primary key also carries those two
    columns (INCLUDE, set in the migration), so ranking is an index-only scan.
    A trigger on `knowledge_chunk` keeps it in step with `searchable` and
    `search_vector` in the same transaction: no code path can forget it.
    """

    pk = models.CompositePrimaryKey("lexeme", "chunk")
    lexeme = models.TextField()
    # No database foreign key: checking one on every chunk delete would scan the postings
    # (there is no index led by chunk_id, and one would double the table's size). The
    # triggers delete a chunk's postings with the chunk and empty the table on TRUNCATE.
    chunk = models.ForeignKey(Chunk, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    tf = models.PositiveSmallIntegerField()
    doclen = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"{self.lexeme} in chunk {self.chunk_id}"


class IngestionJob(models.Model):
    """One file's trip into the knowledge base; the row the job list shows."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Outcome(models.TextChoices):
        ADDED = "added"
        UPDATED = "updated"
        UNCHANGED = "unchanged"
        REVERTED = "reverted"
        RETIRED = "retired", "unchanged, retired"
        FAILED = "failed"

    batch = models.UUIDField(db_index=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_key = models.CharField(max_length=500)
    file_path = models.CharField(max_length=1000, help_text="Where the uploaded bytes wait for the worker.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    verify = models.BooleanField(default=False, help_text="Make the new version current at once (trusted import).")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    outcome = models.CharField(max_length=16, choices=Outcome, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    version = models.ForeignKey(DocumentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.source_key} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)


class SyncRun(models.Model):
    """One sync of one source: the job a curator watches, resumable after a worker dies.

    `state` holds the crawl's frontier and the keys already handled, saved after every page with
    the page's outcome, so a second worker picks up where the first stopped and nothing is done
    twice. `claim` names the worker that owns the run; a worker whose claim was taken stops."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    ACTIVE = (State.QUEUED, State.RUNNING)

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    trigger = models.CharField(max_length=16, default="manual")
    claim = models.UUIDField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the process that holds the claim")
    attempts = models.PositiveSmallIntegerField(default=0)
    crawl = models.JSONField(default=dict, blank=True)
    pages_seen = models.PositiveIntegerField(default=0)
    pages_new = models.PositiveIntegerField(default=0)
    pages_changed = models.PositiveIntegerField(default=0)
    pages_unchanged = models.PositiveIntegerField(default=0)
    pages_failed = models.PositiveIntegerField(default=0)
    pages_gone = models.PositiveIntegerField(default=0)
    pages_retired = models.PositiveIntegerField(default=0)
    pages_left = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True, help_text="One entry per page that was not plain sailing.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One run at a time per source, whoever starts it (a click, the scheduler, the CLI).
            models.UniqueConstraint(
                fields=["source"], condition=Q(state__in=["queued", "running"]), name="one_active_run_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} run {self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def percent(self) -> int:
        total = self.pages_seen + self.pages_left
        if not self.is_active:
            return 100
        return int(100 * self.pages_seen / total) if total else 0

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.report if r.get("outcome") == "failed"]


class SourceItem(models.Model):
    """What a source's sync remembers about one page or file between runs: the validators for a
    conditional request, the hash of the bytes last read, and how many runs in a row it was gone."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=500)
    url = models.URLField(max_length=1000, blank=True)
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    body_hash = models.CharField(max_length=64, blank=True)
    misses = models.PositiveSmallIntegerField(default=0, help_text="Runs in a row the page answered 404/410.")
    retired_by_sync = models.BooleanField(default=False)
    last_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_outcome = models.CharField(max_length=16, blank=True)
    last_reason = models.CharField(max_length=500, blank=True, help_text="Why, when the last sync had trouble with it.")
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "key"]
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="source_item_key_unique")]

    def __str__(self) -> str:
        return self.key


class ApprovedAnswer(models.Model):
    """An answer an admin approved word for word. Its text lives in versions;
    approving a new version never rewrites history."""

    title = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ApprovedAnswerVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        APPROVED = "approved"
        RETIRED = "retired"

    # A draft is approved or dropped; an approved version is retired by a newer one (or by hand);
    # a retired one may be approved again (rollback). History is never rewritten.
    TRANSITIONS = Transitions(
        "status",
        {
            Status.DRAFT: {Status.APPROVED, Status.RETIRED},
            Status.APPROVED: {Status.RETIRED},
            Status.RETIRED: {Status.APPROVED},
        },
    )

    answer = models.ForeignKey(ApprovedAnswer, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT)
    note = models.CharField(max_length=500, blank=True, help_text="Why this version exists.")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Stops matching after this moment.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["answer", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["answer", "number"], name="answer_version_number_unique"),
            models.UniqueConstraint(
                fields=["answer"], condition=Q(status="approved"), name="one_approved_version_per_answer"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(approved_at__isnull=False), name="approved_version_has_approver"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.answer.title} v{self.number}"


class QuestionVariant(models.Model):
    """A phrasing of the question an approved-answer version answers."""

    version = models.ForeignKey(ApprovedAnswerVersion, on_delete=models.CASCADE, related_name="variants")
    text = models.CharField(max_length=2000)
    embedding = VectorField(dimensions=384)

    class Meta:
        ordering = ["version", "id"]

    def __str__(self) -> str:
        return self.text


class KnowledgeState(models.Model):
    """One row whose generation goes up, in the same transaction, whenever the
    set of searchable chunks or approved answers changes. Caches keyed on it
    (vocabulary, LLM answers) can never serve a stale knowledge base."""

    generation = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"knowledge generation {self.generation}"

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("generation", flat=True).first() or 0

    @classmethod
    def bump(cls) -> None:
        updated = cls.objects.filter(pk=1).update(generation=models.F("generation") + 1)
        if not updated:
            cls.objects.get_or_create(pk=1, defaults={"generation": 1})
