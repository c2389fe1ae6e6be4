"""Writes for sources: add one, schedule it, start a sync, run it page by page, verify what a
sync changed.

A sync run is one `SyncRun` row. It is claimed by one conditional UPDATE (a fresh claim token
each time); after every page the page's outcome, the run's counters and the frontier are saved
in one transaction that only succeeds while the claim is still ours. A worker that dies leaves
the run `running` with an old heartbeat: `runs_sweep` (or the next claim) takes it over and it
goes on from the saved frontier. A page done again after such a takeover costs a fetch, never a
second version: `version_ingest` finds the content already stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import ApplicationError, ErrorCode
from core.models import audit
from core.queue import enqueue_on_commit
from knowledge import crawler, services
from knowledge.models import Document, IngestionJob, Source, SourceItem, SyncRun
from knowledge.parsing import SUPPORTED_SUFFIXES, ParseError
from knowledge.sources import clean_key, too_large

logger = logging.getLogger(__name__)

SCHEDULE_INTERVAL = {Source.Schedule.HOURLY: timedelta(hours=1), Source.Schedule.DAILY: timedelta(days=1)}
RUN_MAX_TAKEOVERS = 3

ProgressCallback = Callable[[SyncRun], None]


# --- Sources -----------------------------------------------------------------------------------


def source_create(
    *,
    name: str,
    kind: str,
    url: str = "",
    folder: str = "",
    include: list[str] | tuple[str, ...] = (),
    exclude: list[str] | tuple[str, ...] = (),
    schedule: str = Source.Schedule.OFF,
    auto_verify: bool = False,
    user=None,
    folder_roots: list[Path] | None = None,
) -> Source:
    """A website or folder source. `folder_roots` (the curation screen passes the setting) limits
    the folders a person may name; the command line may name any."""
    name = _free_name(name)
    if schedule not in Source.Schedule.values:
        raise ApplicationError("The schedule is off, hourly or daily.", code=ErrorCode.INVALID)
    if kind == Source.Kind.WEBSITE:
        url, folder = _start_url(url), ""
    elif kind == Source.Kind.FOLDER:
        url, folder = "", _folder_path(folder, folder_roots)
        _no_patterns(kind, include, exclude)
    else:
        raise ApplicationError("A source to sync is a website or a folder.", code=ErrorCode.INVALID)
    try:
        with transaction.atomic():
            source = Source.objects.create(
                name=name,
                kind=kind,
                url=url,
                folder=folder,
                include_patterns=_patterns(include),
                exclude_patterns=_patterns(exclude),
                schedule=schedule,
                auto_verify=auto_verify,
                owner=user,
            )
    except IntegrityError:  # the same name, added a moment ago by someone else
        raise _name_taken(name) from None
    source_schedule_apply(source)
    audit(actor=user, action="source.create", obj=source, kind=kind, url=url, folder=folder, schedule=schedule)
    return source


def _free_name(name: str, *, source: Source | None = None) -> str:
    name = " ".join(name.split())[:200]
    if not name:
        raise ApplicationError("A source needs a name.", code=ErrorCode.INVALID)
    if name.casefold() == Source.UPLOADS_NAME.casefold() and (source is None or source.kind != Source.Kind.UPLOAD):
        raise ApplicationError(f"{Source.UPLOADS_NAME!r} is the uploaded files' source.", code=ErrorCode.CONFLICT)
    others = Source.objects.filter(name=name, deleted_at__isnull=True)
    if source is not None:
        others = others.exclude(pk=source.pk)
    if others.exists():
        raise _name_taken(name)
    return name


def _name_taken(name: str) -> ApplicationError:
    return ApplicationError(f"There is already a source named {name!r}.", code=ErrorCode.CONFLICT)


def _start_url(url: str) -> str:
    start = crawler.canonical(url)
    if start is None:
        raise ApplicationError("The start address must be an http(s) URL.", code=ErrorCode.INVALID)
    return start


def _folder_path(folder: str, folder_roots: list[Path] | None) -> str:
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise ApplicationError(f"There is no folder {folder!r} on the server.", code=ErrorCode.INVALID)
    if folder_roots is not None and not any(path.is_relative_to(r.resolve()) for r in folder_roots):
        allowed = ", ".join(str(r) for r in folder_roots)
        raise ApplicationError(f"Folders must lie under {allowed} (SOURCE_FOLDER_ROOTS).", code=ErrorCode.INVALID)
    return str(path)


def _no_patterns(kind: str, include, exclude) -> None:
    if kind != Source.Kind.WEBSITE and (include or exclude):
        raise ApplicationError("Path patterns apply to websites; a folder is read whole.", code=ErrorCode.INVALID)


def _patterns(patterns) -> list[str]:
    cleaned = list(dict.fromkeys(p.strip() for p in patterns if p and p.strip()))
    for pattern in cleaned:
        if not pattern.startswith(("/", "*")):
            raise ApplicationError(
                f"{pattern!r} is not a path pattern: start it with /, e.g. /help/*", code=ErrorCode.INVALID
            )
    limit = settings.SOURCE_MAX_PATTERNS
    if len(cleaned) > limit:
        raise ApplicationError(f"At most {limit} patterns of each kind (SOURCE_MAX_PATTERNS).", code=ErrorCode.INVALID)
    return cleaned


def source_set_schedule(*, source: Source, schedule: str, auto_verify: bool, user=None) -> Source:
    if schedule not in Source.Schedule.values:
        raise ApplicationError("The schedule is off, hourly or daily.", code=ErrorCode.INVALID)
    _require_live(source)
    source.schedule, source.auto_verify = schedule, auto_verify
    source.save(update_fields=["schedule", "auto_verify"])
    source_schedule_apply(source)
    audit(actor=user, action="source.schedule", obj=source, schedule=schedule, auto_verify=auto_verify)
    return source


def source_update(
    *,
    source: Source,
    name: str | None = None,
    url: str | None = None,
    folder: str | None = None,
    include: list[str] | tuple[str, ...] | None = None,
    exclude: list[str] | tuple[str, ...] | None = None,
    user=None,
    folder_roots: list[Path] | None = None,
) -> Source:
    """Rename a source, move its address, change its patterns (None: left as it is). Pages that
    the new address or patterns leave out are retired by the next sync, which lists them; pages
    they let in again come back. The address and patterns wait while a sync is under way."""
    source = Source.objects.get(pk=source.pk)
    _require_live(source)
    before = {f: getattr(source, f) for f in ("name", "url", "folder", "include_patterns", "exclude_patterns")}
    if name is not None:
        source.name = _free_name(name, source=source)
    if source.kind == Source.Kind.UPLOAD and (url is not None or folder is not None):
        raise ApplicationError("Uploaded files have no address.", code=ErrorCode.INVALID)
    _no_patterns(source.kind, include, exclude)
    if url is not None and source.kind == Source.Kind.WEBSITE:
        source.url = _start_url(url)
    if folder is not None and source.kind == Source.Kind.FOLDER:
        source.folder = _folder_path(folder, folder_roots)
    if include is not None:
        source.include_patterns = _patterns(include)
    if exclude is not None:
        source.exclude_patterns = _patterns(exclude)
    changed = {f: {"old": old, "new": getattr(source, f)} for f, old in before.items() if getattr(source, f) != old}
    if not changed:
        return source
    if set(changed) != {"name"} and SyncRun.objects.filter(source=source, state__in=SyncRun.ACTIVE).exists():
        raise ApplicationError(
            "A sync is under way: change the address or patterns once it has finished.", code=ErrorCode.CONFLICT
        )
    try:
        with transaction.atomic():
            source.save(update_fields=list(changed))
            audit(actor=user, action="source.edit", obj=source, **changed)
    except IntegrityError:
        raise _name_taken(source.name) from None
    if "name" in changed:
        source_schedule_apply(source)  # the periodic task's description names it
    return source


def source_exclude_page(*, source: Source, key: str, user=None) -> Source:
    """Leave one page of a website source out from now on: its exact path becomes an exclude
    pattern (`/path$`) and its document is retired at once. Taking the pattern out again brings
    the page back on the next sync."""
    source = Source.objects.get(pk=source.pk)
    _require_live(source)
    if source.kind != Source.Kind.WEBSITE:
        raise ApplicationError("Only a website's pages can be excluded.", code=ErrorCode.INVALID)
    page = crawler.canonical(key)
    if page is None or not crawler.Scope.of(source.url).same_site(page):
        raise ApplicationError(f"{key!r} is not a page of {source.url}.", code=ErrorCode.INVALID)
    if page == source.url:
        raise ApplicationError(
            "The start page cannot be excluded: the sync starts there. Change the address instead.",
            code=ErrorCode.INVALID,
        )
    pattern = crawler.exact_pattern(page)
    if pattern not in source.exclude_patterns:
        source = source_update(source=source, exclude=[*source.exclude_patterns, pattern], user=user)
    item = SourceItem.objects.filter(source=source, key=key).first()
    if item is not None:
        _item_exclude(item, run=None, user=user)
    return source


def source_delete(*, source: Source, user=None) -> int:
    """Delete a website or folder source. Its schedule stops, a sync under way is stopped, and its
    documents are retired, never destroyed: their versions, and the replies that cited them, stay
    readable. The source row stays too (marked deleted, for the audit); its name is free again.
    Returns how many documents it retired."""
    if source.kind == Source.Kind.UPLOAD:
        raise ApplicationError(
            "The uploads are not a source to delete: retire their documents one by one.", code=ErrorCode.INVALID
        )
    now = timezone.now()
    # First, in a transaction of its own: mark it deleted and stop its run. A worker that stored
    # a page before seeing this retires that page itself (`_Worker._ingest`); one that stored it
    # earlier is caught by the sweep below, which starts after this commit.
    with transaction.atomic():
        marked = Source.objects.filter(pk=source.pk, deleted_at__isnull=True).update(
            deleted_at=now, schedule=Source.Schedule.OFF, status=Source.Status.IDLE, next_run_at=None
        )
        if not marked:
            raise ApplicationError("This source was deleted already.", code=ErrorCode.CONFLICT)
        stopped = SyncRun.objects.filter(source=source, state__in=SyncRun.ACTIVE).update(
            state=SyncRun.State.FAILED, claim=None, error="stopped: the source was deleted", finished_at=now
        )
    source.refresh_from_db()
    source_schedule_apply(source)
    retired = 0
    for document in Document.objects.filter(source=source).exclude(status=Document.Status.RETIRED):
        services.document_retire(document=document, user=user)
        retired += 1
    audit(actor=user, action="source.delete", obj=source, name=source.name, retired=retired, stopped_runs=stopped)
    return retired


def _require_live(source: Source) -> None:
    if source.deleted_at is not None:
        raise ApplicationError(f"{source.name} was deleted.", code=ErrorCode.CONFLICT)


# --- Starting runs ----------------------------------------------------------------------------


def sync_start(*, source: Source, user=None, trigger: str = "manual", enqueue: bool = True) -> SyncRun:
    """Queue a sync of the source, or return the one already queued or running: the database
    allows one active run per source, whoever asks (a click, the scheduler, the command)."""
    if Source.objects.filter(pk=source.pk, deleted_at__isnull=False).exists():
        raise ApplicationError(f"{source.name} was deleted: there is nothing to sync.", code=ErrorCode.CONFLICT)
    if not source.can_sync:
        raise ApplicationError("Uploaded files have nothing to sync.", code=ErrorCode.CONFLICT)
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(source=source, trigger=trigger[:16], created_by=user)
    except IntegrityError:
        active = SyncRun.objects.filter(source=source, state__in=SyncRun.ACTIVE).first()
        if active is None:  # it finished between our insert and our look
            return sync_start(source=source, user=user, trigger=trigger, enqueue=enqueue)
        return active
    Source.objects.filter(pk=source.pk).update(status=Source.Status.QUEUED)
    audit(actor=user, action="source.sync", obj=source, trigger=trigger, run=run.pk)
    if enqueue:
        enqueue_on_commit("knowledge.sync_source", run_id=run.pk)
    return run


def source_schedule_apply(source: Source) -> None:
    """Keep the source's periodic task in Celery beat's database schedule (django-celery-beat) in
    step with its schedule: one task per scheduled source, named after it, gone when it is off.
    Saved through the model (not .update()), so a running beat notices the change."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    name = f"sync source {source.pk}"
    if source.schedule == Source.Schedule.OFF or not source.can_sync:
        for task in PeriodicTask.objects.filter(name=name):
            task.delete()
        return
    period = IntervalSchedule.HOURS if source.schedule == Source.Schedule.HOURLY else IntervalSchedule.DAYS
    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period=period)
    task = PeriodicTask.objects.filter(name=name).first() or PeriodicTask(name=name)
    task.task = "knowledge.sync_scheduled"
    task.interval = interval
    task.kwargs = json.dumps({"source_id": source.pk})
    task.enabled = True
    task.description = f"Sync {source.name} ({source.schedule})"[:200]
    task.save()


def source_sync_scheduled(*, source_id: int, now: datetime | None = None) -> SyncRun | None:
    """Beat's tick for one source. One conditional UPDATE claims the tick (the source's next
    allowed start moves half an interval on), so a tick delivered twice, or sent by two beats,
    starts one run; the one-active-run constraint covers a run still going from the last tick."""
    now = now or timezone.now()
    source = Source.objects.filter(pk=source_id).first()
    if source is None or source.schedule not in SCHEDULE_INTERVAL or not source.can_sync:
        return None
    claimed = (
        Source.objects.filter(pk=source_id, schedule=source.schedule)
        .filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
        .update(next_run_at=now + SCHEDULE_INTERVAL[source.schedule] / 2)
    )
    if not claimed:
        return None
    return sync_start(source=source, trigger="schedule")


def runs_sweep() -> tuple[int, int]:
    """Requeue runs whose worker stopped reporting (dead), or fail them after RUN_MAX_TAKEOVERS.
    Returns (requeued, failed)."""
    requeued = failed = 0
    stale_before = _stale_before()
    # Stale, or held by a process on this machine that is gone (a worker killed with -9 beside the
    # scheduler, as `make run` has them): that one is requeued at once, not after the stale time.
    here = Q(worker__startswith=f"{socket.gethostname()}:")
    candidates = SyncRun.objects.filter(Q(heartbeat_at__lt=stale_before) | here, state=SyncRun.State.RUNNING)
    for run in candidates.only("pk", "attempts", "heartbeat_at", "source_id", "worker"):
        if run.heartbeat_at and run.heartbeat_at >= stale_before and not _died_here(run.worker):
            continue
        same = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING, heartbeat_at=run.heartbeat_at)
        if run.attempts >= RUN_MAX_TAKEOVERS:
            if same.update(
                state=SyncRun.State.FAILED,
                error=f"the worker stopped {run.attempts} times; gave up",
                finished_at=timezone.now(),
            ):
                failed += 1
                Source.objects.filter(pk=run.source_id).update(status=Source.Status.FAILED)
        elif same.update(state=SyncRun.State.QUEUED, claim=None, attempts=F("attempts") + 1):
            requeued += 1
            enqueue_on_commit("knowledge.sync_source", run_id=run.pk)
    return requeued, failed


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.SOURCE_SYNC_STALE_SECONDS)


# --- Running -----------------------------------------------------------------------------------


class _ClaimLost(Exception):
    """Another worker took the run over; this one stops without writing."""


class _CannotRun(Exception):
    """The source cannot be synced at all (site or folder unreachable); nothing is retired."""


def sync_run(
    *, run_id: int, slice_seconds: float | None = None, on_progress: ProgressCallback | None = None
) -> SyncRun:
    """Claim the run and work on it: to the end, or for `slice_seconds`, after which it is queued
    again (`requeue`: a task enqueues its next slice; the command goes on itself)."""
    token = uuid.uuid4()
    now = timezone.now()
    claim = {
        "state": SyncRun.State.RUNNING,
        "claim": token,
        "worker": _this_worker(),
        "started_at": Coalesce(F("started_at"), now),
        "heartbeat_at": now,
    }
    claimable = Q(state=SyncRun.State.QUEUED) | Q(state=SyncRun.State.RUNNING, heartbeat_at__lt=_stale_before())
    claimed = SyncRun.objects.filter(claimable, pk=run_id).update(**claim)
    run = SyncRun.objects.select_related("source").get(pk=run_id)
    if not claimed and run.state == SyncRun.State.RUNNING and _died_here(run.worker):
        # Its process on this machine is gone (killed, crashed): take over now rather than after
        # SOURCE_SYNC_STALE_SECONDS. Conditional on the dead worker's claim, so once.
        claimed = SyncRun.objects.filter(pk=run_id, state=SyncRun.State.RUNNING, claim=run.claim).update(
            attempts=F("attempts") + 1, **claim
        )
        run = SyncRun.objects.select_related("source").get(pk=run_id)
    if not claimed:
        return run  # finished already, or another worker owns it: a second delivery is harmless
    if run.source.deleted_at is not None:  # queued a moment before its source was deleted
        _finish(run, token, SyncRun.State.FAILED, error="stopped: the source was deleted")
        return SyncRun.objects.get(pk=run_id)
    Source.objects.filter(pk=run.source_id).update(status=Source.Status.RUNNING)
    deadline = time.monotonic() + slice_seconds if slice_seconds else None
    worker = _Worker(run, token, on_progress)
    try:
        finished = worker.work(deadline)
    except _ClaimLost:
        return SyncRun.objects.get(pk=run_id)
    except _CannotRun as exc:
        _finish(run, token, SyncRun.State.FAILED, error=str(exc))
        return SyncRun.objects.get(pk=run_id)
    if not finished:
        requeued = SyncRun.objects.filter(pk=run_id, claim=token).update(state=SyncRun.State.QUEUED, claim=None)
        if requeued and slice_seconds:
            enqueue_on_commit("knowledge.sync_source", run_id=run_id)
        return SyncRun.objects.get(pk=run_id)
    _finish(run, token, SyncRun.State.DONE)
    return SyncRun.objects.get(pk=run_id)


def _this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _died_here(worker: str) -> bool:
    """Whether the worker that holds a run was a process on this machine that no longer runs."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _finish(run: SyncRun, token: uuid.UUID, state: str, error: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        done = SyncRun.objects.filter(pk=run.pk, claim=token).update(
            state=state, error=error[:4000], finished_at=now, heartbeat_at=now, pages_left=0
        )
        if not done:
            return
        fresh = SyncRun.objects.get(pk=run.pk)
        if state == SyncRun.State.FAILED:
            status = Source.Status.FAILED
        else:
            status = Source.Status.PARTIAL if fresh.pages_failed else Source.Status.OK
        Source.objects.filter(pk=run.source_id, deleted_at__isnull=True).update(status=status, last_run_at=now)
    logger.info(
        "source synced",
        extra={"source": run.source_id, "run": run.pk, "state": state, "seen": fresh.pages_seen, "error": error},
    )


@dataclass
class _Outcome:
    # new, changed, unchanged, gone, retired, still_gone, restored, excluded, failed, skipped, duplicate, sitemap
    outcome: str
    key: str
    reason: str = ""


# How each outcome counts on the run (duplicate and sitemap count as nothing).
_COUNTER = {
    "new": "pages_new",
    "changed": "pages_changed",
    "restored": "pages_changed",
    "unchanged": "pages_unchanged",
    "gone": "pages_gone",
    "retired": "pages_retired",
    "excluded": "pages_retired",
    "failed": "pages_failed",
}

EXCLUDED_REASON = (
    "outside the source's address or patterns now: its document is retired (it comes back if they let it in again)"
)


class _Worker:
    def __init__(self, run: SyncRun, token: uuid.UUID, on_progress: ProgressCallback | None) -> None:
        self.run, self.source, self.token, self.on_progress = run, run.source, token, on_progress
        self.limits = crawler.Limits.from_settings()
        self.website = self.source.kind == Source.Kind.WEBSITE
        self.fetcher = crawler.Fetcher(self.limits) if self.website else None
        self.scope = (
            crawler.Scope.of(self.source.url, self.source.include_patterns, self.source.exclude_patterns)
            if self.website
            else None
        )

    # the loop
    def work(self, deadline: float | None) -> bool:
        state = self.run.crawl or {}
        if not state:
            state = self._start()
        frontier = crawler.Frontier.from_json(state.get("frontier", {}), self._max_items())
        done: set[str] = set(state.get("done", []))
        self.follow = bool(state.get("follow", True))
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return False
            key = frontier.pop()
            if key is None:
                return True
            try:
                result = self._website_page(key, frontier, done) if self.website else self._folder_file(key)
            except (_ClaimLost, _CannotRun):
                raise
            except Exception as exc:  # one bad page never stops the run; its reason goes in the report
                logger.exception("sync page failed", extra={"run": self.run.pk, "key": key})
                result = _Outcome("failed", key, f"unexpected error: {type(exc).__name__}: {exc}"[:500])
            if result.outcome != "duplicate":
                done.add(result.key)
            self._save(result, frontier, done)

    def _in_scope(self, url: str) -> bool:
        """The start page is always read (the crawl begins there); other pages as the patterns say."""
        return url == self.source.url or self.scope.allows(url)

    def _max_items(self) -> int:
        return self.limits.max_pages if self.website else max(self.limits.max_pages, settings.INGEST_MAX_ZIP_MEMBERS)

    def _start(self) -> dict:
        """The run's first frontier: the start page (or the folder's files) and every page the
        source knew, so a page no longer linked is still checked (and found gone)."""
        frontier = crawler.Frontier(self._max_items())
        known = SourceItem.objects.filter(source=self.source).order_by("key")
        known = known.values_list("key", "retired_by_sync", "last_outcome")
        if self.website:
            problem = self.fetcher.robots_problem(self.source.url)
            if problem:
                raise _CannotRun(problem)
            frontier.add(self.source.url)
            for key, retired, last in known:
                # A page the address or patterns now leave out is queued once more, to be retired.
                if self._in_scope(key) or not (retired or last == "excluded"):
                    frontier.add(key)
        else:
            root = Path(self.source.folder)
            if not root.is_dir():
                raise _CannotRun(f"the folder {root} is not there (unmounted?); nothing was changed")
            for key in _folder_keys(root):
                frontier.add(key)
            for key, *_ in known:
                frontier.add(key)
        state = {"frontier": frontier.as_json(), "done": [], "follow": True}
        self._write(crawl=state, pages_left=len(frontier.queue))
        return state

    def _save(self, result: _Outcome, frontier: crawler.Frontier, done: set[str]) -> None:
        updates: dict = {
            "crawl": {"frontier": frontier.as_json(), "done": sorted(done), "follow": self.follow},
            "pages_left": len(frontier.queue),
            "heartbeat_at": timezone.now(),
        }
        if result.outcome != "duplicate":
            updates["pages_seen"] = F("pages_seen") + 1
        counter = _COUNTER.get(result.outcome)
        if counter:
            updates[counter] = F(counter) + 1
        with transaction.atomic():
            run = SyncRun.objects.select_for_update().filter(pk=self.run.pk, claim=self.token).first()
            if run is None:
                raise _ClaimLost()
            if result.outcome not in ("unchanged", "duplicate", "sitemap", "still_gone"):
                entry = {"key": result.key, "outcome": result.outcome, "reason": result.reason}
                updates["report"] = [*run.report, entry]
            if result.outcome not in ("duplicate", "sitemap"):
                # The page list shows each page's last outcome, failures included (they leave
                # the page's validators and document as they were).
                SourceItem.objects.filter(source=self.source, key=result.key).update(
                    last_outcome=result.outcome, last_reason=result.reason[:500], last_run=self.run
                )
            if frontier.capped and not any(r.get("outcome") == "capped" for r in run.report):
                reason = f"the page cap (SOURCE_MAX_PAGES={self.limits.max_pages}) was reached; later links were left"
                updates["report"] = [
                    *updates.get("report", run.report),
                    {"key": "", "outcome": "capped", "reason": reason},
                ]
            SyncRun.objects.filter(pk=self.run.pk).update(**updates)
        if self.on_progress:
            self.on_progress(SyncRun.objects.get(pk=self.run.pk))

    def _write(self, **updates) -> None:
        updates["heartbeat_at"] = timezone.now()
        if not SyncRun.objects.filter(pk=self.run.pk, claim=self.token).update(**updates):
            raise _ClaimLost()

    # a website page
    def _website_page(self, url: str, frontier: crawler.Frontier, done: set[str]) -> _Outcome:
        if url in done:
            return _Outcome("duplicate", url)
        item = SourceItem.objects.filter(source=self.source, key=url).first()
        if item is not None and not self._in_scope(url):
            _item_exclude(item, run=self.run)
            return _Outcome("excluded", url, EXCLUDED_REASON)
        page = self.fetcher.fetch(
            url, scope=self.scope, etag=item.etag if item else "", last_modified=item.last_modified if item else ""
        )
        if url == self.source.url and page.status in ("gone", "failed", "skipped"):
            # The whole site is unreachable or moved: say so, and count nothing as gone.
            raise _CannotRun(f"the start address {url} could not be read: {page.reason or page.status}")
        if page.status == "not_modified":
            return self._unchanged(item, url)
        if page.status == "gone":
            return self._gone(item, url, page.reason)
        if page.status in ("failed", "skipped"):
            return _Outcome(page.status if page.status == "failed" else "skipped", url, page.reason)
        key = page.final_url or url
        if page.content_type in crawler.HTML_TYPES:
            found, declared = crawler.links(page.body, key)
            if declared and self.scope.allows(declared) and crawler.same_path(declared, key):
                # The page names its own address (query string or trailing slash aside): one
                # document however it is reached. A canonical naming another page is ignored, as
                # sites that point every page at their home page would otherwise fold into one.
                key = declared
            for link in found if self.follow else ():
                if self.scope.allows(link):
                    frontier.add(link)
        elif crawler.is_sitemap(page):
            pages, nested = crawler.sitemap_urls(page.body)
            self.follow = False  # a sitemap lists the pages to keep: their links are not followed
            nested_urls = {crawler.canonical(link) for link in nested}
            for link in [*nested, *pages]:
                canon = crawler.canonical(link)
                if canon and (canon in nested_urls or self.scope.allows(canon)):
                    frontier.add(canon)
            return _Outcome("sitemap", key)
        if key != url:
            if key in done:
                return _Outcome("duplicate", url)
            frontier.seen.add(key)
            item = SourceItem.objects.filter(source=self.source, key=key).first()
        name = crawler.PARSED_AS.get(page.content_type)
        if name is None:
            return _Outcome("skipped", key, f"not a page or a PDF ({page.content_type or 'no content type'})")
        if len(key) > 500:
            return _Outcome("failed", key[:500], "the address is over 500 characters")
        data = crawler.article_html(page.body, key) if name == "page.html" else page.body
        return self._ingest(item, key, data, name, url=key, body=page.body, etag=page.etag, modified=page.last_modified)

    # a folder's file
    def _folder_file(self, key: str) -> _Outcome:
        item = SourceItem.objects.filter(source=self.source, key=key).first()
        path = Path(self.source.folder) / key
        if not path.is_file():
            return self._gone(item, key, "the file is no longer in the folder")
        size = path.stat().st_size
        if too_large(size):
            return _Outcome("failed", key, too_large(size))
        data = path.read_bytes()
        return self._ingest(item, key, data, key, url="", body=data, etag="", modified="")

    # shared
    def _ingest(
        self,
        item: SourceItem | None,
        key: str,
        data: bytes,
        name: str,
        *,
        url: str,
        body: bytes,
        etag: str,
        modified: str,
    ) -> _Outcome:
        body_hash = hashlib.sha256(body).hexdigest()
        if item is not None and item.document_id and item.body_hash == body_hash and not item.retired_by_sync:
            self._remember(item, key, url=url, etag=etag, modified=modified, body_hash=body_hash, outcome="unchanged")
            return _Outcome("unchanged", key)
        try:
            version, outcome = services.version_ingest(
                source_key=key, data=data, source=self.source, name=name, url=url, verify=self.source.auto_verify
            )
        except ParseError as exc:
            return _Outcome("failed", key, str(exc))
        if Source.objects.filter(pk=self.source.pk, deleted_at__isnull=False).exists():
            # Deleted while this page was read: it must not answer (source_delete's sweep may
            # have run before it was stored).
            services.document_retire(document=version.document)
            raise _CannotRun("stopped: the source was deleted")
        if outcome == IngestionJob.Outcome.UNCHANGED and version.ingested_at >= self.run.created_at:
            # Stored by this run before its worker died: count it as what it was.
            outcome = IngestionJob.Outcome.ADDED if version.number == 1 else IngestionJob.Outcome.UPDATED
        result = {
            IngestionJob.Outcome.ADDED: "new",
            IngestionJob.Outcome.UPDATED: "changed",
            IngestionJob.Outcome.REVERTED: "changed",
        }.get(outcome, "unchanged")
        reason = "back to the text of an earlier version" if outcome == IngestionJob.Outcome.REVERTED else ""
        if item is not None and item.retired_by_sync:
            services.document_restore(document=version.document)
            result, reason = "restored", "the page is back; its document answers again"
        elif outcome == IngestionJob.Outcome.RETIRED:
            reason = "unchanged; its document was retired by hand and stays retired"
            result = "skipped"
        item = item or SourceItem(source=self.source, key=key)
        self._remember(
            item,
            key,
            url=url,
            etag=etag,
            modified=modified,
            body_hash=body_hash,
            outcome=result,
            document=version.document,
        )
        return _Outcome(result, key, reason)

    def _unchanged(self, item: SourceItem | None, key: str) -> _Outcome:
        if item is None:
            return _Outcome("unchanged", key)
        if item.retired_by_sync and item.document_id:
            services.document_restore(document=item.document)
            self._remember(item, key, url=item.url, etag=item.etag, modified=item.last_modified,
                           body_hash=item.body_hash, outcome="restored")  # fmt: skip
            return _Outcome("restored", key, "the page is back; its document answers again")
        self._remember(item, key, url=item.url, etag=item.etag, modified=item.last_modified,
                       body_hash=item.body_hash, outcome="unchanged")  # fmt: skip
        return _Outcome("unchanged", key)

    def _gone(self, item: SourceItem | None, key: str, reason: str) -> _Outcome:
        if item is None:
            return _Outcome("failed", key, f"{reason}: a broken link on the site")
        if item.last_run_id == self.run.pk:
            return _Outcome("gone", key, reason)  # counted already by this run before a takeover
        if item.retired_by_sync:
            item.last_run, item.last_outcome = self.run, "still_gone"
            item.save(update_fields=["last_run", "last_outcome"])
            return _Outcome("still_gone", key)  # retired on an earlier run: nothing new to say
        item.misses += 1
        item.last_run = self.run
        item.last_outcome = "gone"
        needed = settings.SOURCE_GONE_AFTER_RUNS
        if item.misses >= needed and item.document_id and not item.retired_by_sync:
            document = Document.objects.filter(pk=item.document_id).first()
            if document is not None and document.status != Document.Status.RETIRED:
                services.document_retire(document=document)
                item.retired_by_sync = True
                item.last_outcome = "retired"
                item.save(update_fields=["misses", "last_run", "last_outcome", "retired_by_sync"])
                return _Outcome("retired", key, f"{reason} on {item.misses} runs in a row: its document is retired")
        item.save(update_fields=["misses", "last_run", "last_outcome"])
        return _Outcome("gone", key, f"{reason} ({item.misses} of {needed} runs before it is retired)")

    def _remember(self, item: SourceItem, key: str, *, url, etag, modified, body_hash, outcome, document=None) -> None:
        item.key, item.url = key, url[:1000]
        item.etag, item.last_modified, item.body_hash = etag, modified, body_hash
        item.misses, item.retired_by_sync = 0, False
        item.last_run, item.last_outcome, item.last_seen_at = self.run, outcome, timezone.now()
        if document is not None:
            item.document = document
        item.save()


@transaction.atomic
def _item_exclude(item: SourceItem, *, run: SyncRun | None, user=None) -> None:
    """Retire the document of a page its source leaves out now. Marked as retired by the sync only
    when this retired it, so a page back in scope is restored, and one a curator retired by hand
    stays retired."""
    document = Document.objects.filter(pk=item.document_id).first() if item.document_id else None
    if document is not None and document.status != Document.Status.RETIRED:
        services.document_retire(document=document, user=user)
        item.retired_by_sync = True
    item.misses, item.last_outcome = 0, "excluded"
    fields = ["misses", "last_outcome", "retired_by_sync"]
    if run is not None:
        item.last_run = run
        fields.append("last_run")
    item.save(update_fields=fields)


def _folder_keys(root: Path) -> list[str]:
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(rel).parts):
            continue
        if PurePosixPath(rel).suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        key = clean_key(rel)
        if key and len(key) <= 500:
            keys.append(key)
    return keys


# --- Review ------------------------------------------------------------------------------------


def source_verify_pending(*, source: Source, user=None) -> int:
    """Verify, in one click, every new or changed document of the source waiting for review."""
    verified = 0
    for document in Document.objects.filter(source=source).exclude(status=Document.Status.RETIRED):
        newest = document.versions.order_by("-number").first()
        if newest is not None and newest.verified_at is None:
            services.version_verify(version=newest, user=user)
            verified += 1
    audit(actor=user, action="source.verify_pending", obj=source, verified=verified)
    return verified
