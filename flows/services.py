"""Writes for flows: a new draft version, approve (which is also rollback), retire, and YAML
import/export. Every change is audited; approving retires the previous approved version in the
same transaction, so exactly one version of a flow answers at any time."""

from __future__ import annotations

from typing import Any

import yaml
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core import embeddings
from core.errors import ApplicationError, ErrorCode
from core.models import audit
from core.permissions import is_curator
from core.text import question_key
from core.transitions import approve_replacing, transition
from flows import spec as flow_spec
from flows.models import Flow, FlowTrigger, FlowVersion


class FlowFileError(ValueError):
    """A YAML file of flows that cannot be imported; the message says where and why."""


@transaction.atomic
def flow_version_create(*, definition: dict[str, Any], user=None, note: str = "") -> FlowVersion:
    """A new draft version of the flow `definition` names (the flow is created the first time)."""
    try:
        parsed = flow_spec.parse(definition)
    except flow_spec.FlowSpecError as exc:
        raise ApplicationError(str(exc), code=ErrorCode.INVALID) from None
    flow, _ = Flow.objects.get_or_create(name=parsed.name, defaults={"created_by": user})
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    number = (flow.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = FlowVersion.objects.create(
        flow=flow,
        number=number,
        title=parsed.title[:200],
        objective=parsed.objective,
        definition=parsed.as_dict(),
        note=note[:500],
        created_by=user,
    )
    vectors = embeddings.embed_passages([question_key(t) for t in parsed.triggers])
    FlowTrigger.objects.bulk_create(
        [FlowTrigger(version=version, text=t[:500], embedding=vectors[i]) for i, t in enumerate(parsed.triggers)]
    )
    audit(actor=user, action="flow.draft", obj=flow, after=version, number=number)
    return version


@transaction.atomic
def flow_version_approve(*, version: FlowVersion, user=None) -> FlowVersion:
    """Approve a draft, or an earlier version to roll back to; the previously approved one retires."""
    _require_curator(user)
    Flow.objects.select_for_update().get(pk=version.flow_id)
    version = FlowVersion.objects.get(pk=version.pk)
    if version.status == FlowVersion.Status.APPROVED:
        return version
    previous = approve_replacing(version, parent="flow", approved_by=user, approved_at=timezone.now())
    audit(
        actor=user,
        action="flow.approve",
        obj=version.flow,
        before=previous,
        after=version,
        number=version.number,
        previous_number=previous.number if previous else None,
    )
    return version


@transaction.atomic
def flow_version_retire(*, version: FlowVersion, user=None) -> FlowVersion:
    _require_curator(user)
    version = FlowVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == FlowVersion.Status.RETIRED:
        return version
    transition(version, FlowVersion.Status.RETIRED)
    audit(actor=user, action="flow.retire", obj=version.flow, before=version, number=version.number)
    return version


def _require_curator(user) -> None:
    # System actions (imports, tests) pass no user; a person must be a curator.
    if user is not None and not is_curator(user):
        raise ApplicationError("Only curators can approve or retire flows.", code=ErrorCode.FORBIDDEN)


# --- YAML ---------------------------------------------------------------------------------------


def read_yaml(text: str) -> list[dict[str, Any]]:
    """The flows of a YAML document (`flows: [...]`, a list, or one flow), each checked;
    FlowFileError names the first problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        raise FlowFileError(f"not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if isinstance(data, dict) and "flows" in data:
        data = data["flows"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise FlowFileError("expected a list of flows (a top-level 'flows:' list)")
    names: set[str] = set()
    for i, raw in enumerate(data):
        try:
            parsed = flow_spec.parse(raw)
        except flow_spec.FlowSpecError as exc:
            raise FlowFileError(f"flow {i + 1}: {exc}") from None
        if parsed.name in names:
            raise FlowFileError(f"flow {i + 1}: the name {parsed.name!r} appears twice")
        names.add(parsed.name)
    return data


@transaction.atomic
def flows_import(*, text: str, user=None, approve: bool = False, note: str = "imported") -> list[FlowVersion]:
    """Every flow in the file becomes a new draft version (approved at once with `approve`).
    A flow whose latest version already says the same is left alone, so importing a file twice
    changes nothing. All or nothing: one bad flow imports none."""
    created = []
    for raw in read_yaml(text):
        parsed = flow_spec.parse(raw)
        latest = FlowVersion.objects.filter(flow__name=parsed.name).order_by("-number").first()
        if latest is not None and latest.definition == parsed.as_dict():
            if approve and latest.status != FlowVersion.Status.APPROVED:
                flow_version_approve(version=latest, user=user)
            continue
        version = flow_version_create(definition=raw, user=user, note=note)
        if approve:
            version = flow_version_approve(version=version, user=user)
        created.append(version)
    return created


def flows_export(*, versions: list[FlowVersion]) -> str:
    """The versions as one YAML document that `flows_import` reads back."""
    data = {"flows": [flow_spec.parse(v.definition).as_dict() for v in versions]}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def flow_yaml(version: FlowVersion) -> str:
    """One version as YAML, as a curator edits it."""
    return yaml.safe_dump(flow_spec.parse(version.definition).as_dict(), sort_keys=False, allow_unicode=True, width=110)
