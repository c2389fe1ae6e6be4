"""Writes to the guard's tables: the signature database and the security-event log.

Patterns are embedded here, never in a migration (migrations must not load
the model). The team seeds are loaded by `manage.py load_guard_patterns`
(run by the demo setup) or lazily by `patterns_ensure_loaded()` the first
time the guard runs against an empty table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import numpy as np
from django.db import transaction

from core.text import question_key
from guardrails import training
from guardrails.models import InjectionPattern, SecurityEvent
from guardrails.scoring import GuardResult, patterns_changed

logger = logging.getLogger(__name__)

# Process-wide memo of pattern vectors: re-loading the same seeds (tests roll the
# table back after each test) costs the model nothing the second time.
_vectors: dict[str, np.ndarray] = {}
_vectors_lock = threading.Lock()


def pattern_vectors(texts: list[str]) -> np.ndarray:
    """Pattern vectors, computed as the pipeline computes a message's vector."""
    keys = [question_key(training.as_message(t) or t) for t in texts]
    with _vectors_lock:
        missing = [k for k in dict.fromkeys(keys) if k not in _vectors]
    if missing:
        fresh = training.embed_keys(missing)
        with _vectors_lock:
            _vectors.update(zip(missing, fresh, strict=True))
    if not keys:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([_vectors[k] for k in keys])


def patterns_load(seeds: Iterable[training.SeedPattern], *, user=None) -> int:
    """Insert the seeds whose text is not in the table yet (idempotent by text); returns how many."""
    seeds = list(seeds)
    existing = set(InjectionPattern.objects.filter(text__in=[s.text for s in seeds]).values_list("text", flat=True))
    fresh: dict[str, training.SeedPattern] = {}
    for seed in seeds:
        if seed.text not in existing and seed.text not in fresh:
            fresh[seed.text] = seed
    if not fresh:
        return 0
    vectors = pattern_vectors(list(fresh))
    created = InjectionPattern.objects.bulk_create(
        [
            InjectionPattern(text=s.text, category=s.category, source=s.source, embedding=v, created_by=user)
            for s, v in zip(fresh.values(), vectors, strict=True)
        ],
        ignore_conflicts=True,  # another process loading the same seeds at the same moment
    )
    patterns_changed()
    return len(created)


def patterns_set_active(pattern_ids: Iterable[int], *, active: bool) -> int:
    """Retire (or re-activate) patterns; the guard of this process stops (starts) matching them at once,
    every other process within GUARD_PATTERNS_REFRESH_SECONDS. Returns how many rows changed."""
    changed = InjectionPattern.objects.filter(pk__in=list(pattern_ids)).exclude(active=active).update(active=active)
    patterns_changed()
    return changed


def seed_patterns(*, with_train: bool = True) -> list[training.SeedPattern]:
    """The team's patterns, plus the public-train ones when asked."""
    seeds = training.read_seed_file(training.TEAM_FILE)
    if with_train:
        seeds += training.read_seed_file(training.PUBLIC_TRAIN_FILE)
    return seeds


def patterns_ensure_loaded() -> int:
    """Load the seed patterns (team and public-train: the calibration assumes both) when the
    table is empty; returns how many were inserted. Cheap (one EXISTS query) once loaded."""
    if InjectionPattern.objects.exists():
        return 0
    with transaction.atomic():
        count = patterns_load(seed_patterns(with_train=True))
    logger.info("guard patterns loaded", extra={"patterns": count})
    return count


def security_event_record(*, result: GuardResult, text: str, conversation=None, message=None) -> SecurityEvent:
    """Log what the guard decided about one message, with its evidence, for review."""
    return SecurityEvent.objects.create(
        conversation=conversation,
        message=message,
        text=text[: SecurityEvent.TEXT_MAX_CHARS],
        decision=result.decision,
        score=result.score,
        pattern_id=result.pattern_id,
        similarity=result.similarity,
        signals=result.signals,
    )


def pattern_text(event: SecurityEvent) -> str:
    """What a curator's one click turns into a signature: the flagging segment when a segment of pasted
    material raised the event (the instruction, not the e-mail around it), else the message."""
    worst = ((event.signals or {}).get("segments") or {}).get("worst") or {}
    if (event.signals or {}).get("segments", {}).get("flags") and worst.get("text"):
        return worst["text"]
    return event.text


def pattern_add_from_event(*, event: SecurityEvent, category: str, user) -> InjectionPattern:
    """A curator turns a flagged or blocked message into a signature in one click. Idempotent by
    text: the same message twice gives the same pattern (re-activated if it had been retired)."""
    if category not in InjectionPattern.Category.values:
        raise ValueError(f"unknown category {category!r}; one of {', '.join(InjectionPattern.Category.values)}")
    text = pattern_text(event)
    vector = pattern_vectors([text])[0]
    with transaction.atomic():
        InjectionPattern.objects.bulk_create(
            [
                InjectionPattern(
                    text=text,
                    category=category,
                    source=InjectionPattern.SOURCE_CURATOR,
                    embedding=vector,
                    created_by=user,
                )
            ],
            ignore_conflicts=True,
        )
        pattern = InjectionPattern.objects.select_for_update().get(text=text)
        if not pattern.active:
            pattern.active = True
            pattern.save(update_fields=["active"])
        SecurityEvent.objects.filter(pk=event.pk).update(reviewed=True)
    patterns_changed()
    event.reviewed = True
    return pattern
