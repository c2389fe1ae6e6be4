"""Escalation triggers, stage 3: the customer asks for a person, or the message
is about a critical topic (legal threats, injuries and safety, fraud and
chargebacks, deleting an account or personal data). Intent rules, checked
before retrieval: such messages look just like ordinary questions to
similarity search, so similarity must not decide them.

A pattern finds a word; the word may be used in another sense ("does it hurt
my credit score?", "how do I bleed my brakes?"). A topic that says what it
means in example sentences counts a hit only when the message is near one of
them in meaning (CRITICAL_TOPIC_MIN_SIMILARITY, low: it only rules out a
message about something else, it never finds a topic on its own)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models.signals import post_delete, post_save

from core import embeddings
from core.choices import Priority, Reason
from core.choices import ReplyKind as Kind
from core.text import question_key
from support.pipeline.types import Reply

_WHO = r"(?:human|person|people|agent|someone|somebody|representative|operator|staff|manager|team member)"
HANDOFF = re.compile(
    rf"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:(?:a|an|some|the|your|real|live|actual)\s+)*{_WHO}\b"
    rf"|^\W*(?:(?:a|an|real|live)\s+)?(?:human|agent|person|operator|representative)\b(?:\s+(?:please|pls|now))?\W*$"
    rf"|\b(?:want|need|get me|give me|can i (?:have|get)|connect me (?:to|with)|transfer me to)\s+(?:to\s+)?"
    rf"(?:(?:a|an|real|live|actual)\s+)*(?:human|real person|person|agent|representative)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    name: str
    priority: int
    patterns: tuple[re.Pattern, ...]
    reply: str
    examples: np.ndarray | None = None  # one unit vector a row; None: the patterns alone decide

    def means(self, vector: np.ndarray | None) -> bool:
        """Whether a message with this vector is about this topic, as far as meaning can tell."""
        if self.examples is None or vector is None:
            return True
        return float(np.max(self.examples @ vector)) >= settings.CRITICAL_TOPIC_MIN_SIMILARITY


_rules_lock = threading.Lock()
_rules: list[Rule] | None = None
_loaded_at = 0.0
# Edits in this process invalidate at once (signals); other processes pick them up within this.
RULES_TTL_SECONDS = 30


def _load_rules() -> list[Rule]:
    from support.models import CriticalTopic

    rules = []
    for topic in CriticalTopic.objects.filter(active=True):
        compiled = []
        for line in topic.patterns.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                compiled.append(re.compile(line, re.IGNORECASE))
            except re.error:
                continue  # the admin form refuses these; an old bad row must not break chat
        examples = [line.strip() for line in topic.examples.splitlines() if line.strip()]
        vectors = np.stack([embeddings.embed_query(question_key(e)) for e in examples]) if examples else None
        rules.append(Rule(topic.name, topic.priority, tuple(compiled), topic.reply, vectors))
    return rules


def rules() -> list[Rule]:
    global _rules, _loaded_at
    if _rules is None or time.monotonic() - _loaded_at > RULES_TTL_SECONDS:
        with _rules_lock:
            if _rules is None or time.monotonic() - _loaded_at > RULES_TTL_SECONDS:
                _rules = _load_rules()
                _loaded_at = time.monotonic()
    return _rules


def invalidate_rules(**_: object) -> None:
    global _rules
    _rules = None


def connect_signals() -> None:
    from support.models import CriticalTopic

    post_save.connect(invalidate_rules, sender=CriticalTopic, dispatch_uid="critical_topic_saved")
    post_delete.connect(invalidate_rules, sender=CriticalTopic, dispatch_uid="critical_topic_deleted")


def check(text: str, *, handover: str, vector: np.ndarray | None = None) -> Reply | None:
    """A hand-over when the message is about a critical topic or asks for a person. `vector` is
    the message's (question_key) vector; without it, a topic's patterns alone decide."""
    for rule in rules():
        if any(p.search(text) for p in rule.patterns) and rule.means(vector):
            return Reply(
                kind=Kind.ESCALATED,
                text=rule.reply or handover,
                reason=Reason.CRITICAL,
                escalate=True,
                priority=rule.priority,
                detail=rule.name,
            )
    if HANDOFF.search(text):
        return Reply(
            kind=Kind.ESCALATED,
            text=handover,
            reason=Reason.CUSTOMER_ASKED,
            escalate=True,
            priority=Priority.CUSTOMER_ASKED,
        )
    return None
