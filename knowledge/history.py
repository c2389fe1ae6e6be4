"""An approved answer's history in words, from the audit log.

The log stores version ids; people know versions by number ("v2"), so the
numbers are looked up here rather than shown as ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import AuditEvent
from knowledge.models import ApprovedAnswer, ApprovedAnswerVersion


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    actor: str
    text: str


def _describe(event: AuditEvent, numbers: dict[str, int]) -> str:
    after = numbers.get(event.after_id)
    before = numbers.get(event.before_id)
    if event.action == "approved_answer.draft":
        return f"saved draft v{after}"
    if event.action == "approved_answer.approve":
        if before is None:
            return f"approved v{after}"
        verb = "rolled back to" if after is not None and after < before else "approved"
        return f"{verb} v{after}, retiring v{before}"
    if event.action == "approved_answer.retire":
        return f"retired v{before}"
    return event.action.rsplit(".", 1)[-1].replace("_", " ")


def approved_answer_history(*, answer: ApprovedAnswer) -> list[HistoryLine]:
    """Newest first: who saved, approved, rolled back or retired which version, and when."""
    numbers = {
        str(pk): number
        for pk, number in ApprovedAnswerVersion.objects.filter(answer=answer).values_list("pk", "number")
    }
    events = AuditEvent.objects.filter(object_type="knowledge.approvedanswer", object_id=str(answer.pk)).select_related(
        "actor"
    )
    return [HistoryLine(e.at, e.actor.get_username() if e.actor else "system", _describe(e, numbers)) for e in events]
