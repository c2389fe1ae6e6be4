"""State changes as conditional transitions.

A model that has a life cycle declares it once, as `TRANSITIONS = Transitions(field, {from: {to, ...}})`.
`transition()` is then the only way its services change that field: one
`UPDATE ... WHERE pk = ... AND <field> IN (<states that may become the target>)`,
so a change from the wrong state is refused by the database row itself, even
when two requests race, and never half-applied."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from core.errors import ApplicationError, ErrorCode


@dataclass(frozen=True)
class Transitions:
    field: str
    allowed: dict[str, frozenset[str]]

    def __init__(self, field: str, allowed: dict[str, set[str]]) -> None:
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "allowed", {source: frozenset(targets) for source, targets in allowed.items()})

    def sources(self, target: str) -> list[str]:
        return sorted(source for source, targets in self.allowed.items() if target in targets)


def transition(obj: models.Model, target: str, **fields: object) -> None:
    """Move `obj` to `target` (and set `fields`) if its stored state allows it; refuse otherwise.

    The instance is updated to match the row. Raises ApplicationError(CONFLICT)
    naming the state the row is really in."""
    model = type(obj)
    spec: Transitions = model.TRANSITIONS  # type: ignore[attr-defined]
    changed = model._default_manager.filter(pk=obj.pk, **{f"{spec.field}__in": spec.sources(target)}).update(
        **{spec.field: target}, **fields
    )
    if changed != 1:
        current = model._default_manager.filter(pk=obj.pk).values_list(spec.field, flat=True).first()
        name = model._meta.verbose_name
        raise ApplicationError(
            f"This {name} is {current or 'gone'}; it cannot become {target}.",
            code=ErrorCode.CONFLICT,
            extra={"state": current, "target": target},
        )
    setattr(obj, spec.field, target)
    for name, value in fields.items():
        setattr(obj, name, value)


def approve_replacing(version: models.Model, *, parent: str, **fields: object) -> models.Model | None:
    """Approve a curated version (status "approved"), retiring the one approved before it under the
    same `parent` (an approved answer's versions, a flow's): one approved version per parent, and a
    rollback is approving an older one. Returns the retired version, if any. Call it inside the
    transaction that locked the parent row."""
    model = type(version)
    key = f"{parent}_id"
    previous = model._default_manager.filter(**{key: getattr(version, key), "status": "approved"}).first()
    if previous is not None:
        transition(previous, "retired")
    transition(version, "approved", **fields)
    return previous
