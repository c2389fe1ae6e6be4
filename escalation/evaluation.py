"""Regressions: every accepted correction whose answer is approved must still be
answered with that approved text (`manage.py evaluate --regressions`)."""

from __future__ import annotations

from dataclasses import dataclass

from core.choices import ReplyKind
from escalation.models import Correction
from knowledge.models import ApprovedAnswerVersion
from support.pipeline import run


@dataclass
class Regression:
    correction_id: int
    question: str
    expected_answer_id: int
    expected_text: str
    got_kind: str
    got_text: str

    @property
    def ok(self) -> bool:
        return self.got_kind == ReplyKind.APPROVED and self.got_text == self.expected_text


def regressions() -> list[Regression]:
    """Replay every accepted correction's question whose answer is approved."""
    results = []
    accepted = Correction.objects.filter(status=Correction.Status.ACCEPTED, approved_version__isnull=False)
    for correction in accepted.select_related("approved_version"):
        current = ApprovedAnswerVersion.objects.filter(
            answer_id=correction.approved_version.answer_id, status=ApprovedAnswerVersion.Status.APPROVED
        ).first()
        if current is None:
            continue  # not approved yet, or retired on purpose: nothing to hold the bot to
        _, reply = run.answer(text=correction.question)
        results.append(
            Regression(correction.pk, correction.question, current.answer_id, current.text, reply.kind, reply.text)
        )
    return results
