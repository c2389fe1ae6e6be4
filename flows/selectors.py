"""Reads for flows: which approved flow a message asks for (by meaning), the approved flows, a
version's definition.

Trigger matching (`flows/matching.py`): a classifier fitted on the approved flows' trigger
examples says which flow; the message's closeness to that flow's examples, measured against how
close they sit to each other, says whether any flow fires (FLOW_TRIGGER_THRESHOLD). The fitted
matcher is kept in the process and refitted when the set of approved versions changes (one small
query a turn tells); a turn then costs a few products of a 384-vector with the flows' vectors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import Max, Q, QuerySet

from flows import matching
from flows import spec as flow_spec
from flows.models import Flow, FlowTrigger, FlowVersion


@dataclass(frozen=True)
class TriggerMatch:
    version_id: int
    name: str
    score: float  # confidence: compared with the matcher's threshold
    similarity: float  # cosine blend to the flow's examples: compared with approved answers
    probability: float
    threshold: float  # FLOW_TRIGGER_THRESHOLD (or the one given) for this many flows


_lock = threading.Lock()
_matchers: dict[str, tuple[tuple, matching.Matcher | None]] = {}


def _matcher(status: str) -> matching.Matcher | None:
    """The matcher for the versions in `status`, fitted again only when they change (a version's
    trigger examples never change: a new definition is a new version)."""
    key = tuple(FlowVersion.objects.filter(status=status).order_by("pk").values_list("pk", "created_at"))
    cached = _matchers.get(status)
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        cached = _matchers.get(status)
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = (
            FlowTrigger.objects.filter(version_id__in=[pk for pk, _ in key])
            .order_by("version_id", "pk")
            .values_list("version_id", "version__flow__name", "embedding")
        )
        grouped: dict[tuple[int, str], list[np.ndarray]] = {}
        for version_id, name, vector in rows:
            grouped.setdefault((version_id, name), []).append(np.asarray(vector, dtype=np.float32))
        fitted = matching.fit([(k, np.stack(v)) for k, v in grouped.items()]) if grouped else None
        _matchers[status] = (key, fitted)
        return fitted


def trigger_matches(
    *, vector: np.ndarray, status: str = FlowVersion.Status.APPROVED, threshold: float | None = None
) -> list[TriggerMatch]:
    """Every flow (of the versions in `status`) read against the message, the most probable first."""
    matcher = _matcher(status)
    if matcher is None:
        return []
    limit = matcher.threshold(settings.FLOW_TRIGGER_THRESHOLD if threshold is None else threshold)
    return [
        TriggerMatch(*matcher.keys[s.index], s.confidence, s.similarity, s.probability, limit)
        for s in matcher.score(vector)
    ]


def trigger_match(
    *, vector: np.ndarray, status: str = FlowVersion.Status.APPROVED, threshold: float | None = None
) -> TriggerMatch | None:
    """The flow the message asks for, or None when its confidence is under the threshold."""
    matches = trigger_matches(vector=vector, status=status, threshold=threshold)
    if matches and matches[0].score >= matches[0].threshold:
        return matches[0]
    return None


def version_spec(version_id: int) -> tuple[FlowVersion, flow_spec.FlowSpec] | None:
    version = FlowVersion.objects.select_related("flow").filter(pk=version_id).first()
    if version is None:
        return None
    return version, flow_spec.parse(version.definition)


def flow_list() -> QuerySet[Flow]:
    """Every flow with its latest and approved version numbers, for the curation list."""
    return Flow.objects.annotate(
        latest=Max("versions__number"),
        approved=Max("versions__number", filter=Q(versions__status=FlowVersion.Status.APPROVED)),
    ).order_by("name")
