"""Issue #20, defect 6: a critical topic's pattern finds a word; the topic's example sentences
check the word is used in the topic's sense before a person is called at high priority."""

from __future__ import annotations

import pytest

from core.choices import Reason
from core.embeddings import embed_query
from core.text import question_key
from support import services
from support.models import CriticalTopic
from support.pipeline import triggers

pytestmark = pytest.mark.django_db
CREDIT = "Does checking if I qualify for your financing hurt my credit score?"


def check(text: str):
    return triggers.check(text, handover="soon", vector=embed_query(question_key(text)))


@pytest.mark.parametrize(
    "text",
    [
        CREDIT,
        "Would a late payment hurt my chances of financing?",
        "How do I bleed my hydraulic brakes?",
    ],
)
def test_a_word_in_another_sense_is_not_a_critical_topic(text):
    assert check(text) is None


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("My brakes failed and I broke my wrist", "Injury or safety"),
        ("the battery caught fire in my hallway", "Injury or safety"),
        ("I hurt my knee when the fork snapped", "Injury or safety"),
        ("my son got hurt on the bike", "Injury or safety"),
        ("smoke coming from the charger", "Injury or safety"),
        ("I'm bleeding after a fall, the bike frame cracked", "Injury or safety"),
        ("I went to hospital after the crash", "Injury or safety"),
        ("is it dangerous that my battery is hot and swelling?", "Injury or safety"),
        (
            "The front brake on my Trek E failed going downhill and I broke my wrist. "
            "I want to know who is going to pay for this.",
            "Injury or safety",
        ),
        ("I will take you to court over this stove", "Legal threat"),
        ("there is an unauthorized charge on my card", "Fraud or chargeback"),
        ("Someone ordered a bike with my credit card", "Fraud or chargeback"),
        ("please delete my account and all my data", "Account or data deletion"),
    ],
)
def test_critical_topics_in_their_own_sense_still_call_a_person(text, topic):
    reply = check(text)
    assert reply is not None and reply.reason == Reason.CRITICAL and reply.detail == topic


def test_a_topic_without_examples_is_decided_by_its_patterns():
    CriticalTopic.objects.create(name="Staff conduct", priority=15, patterns=r"\brude\b")
    reply = check("the courier was rude to me")
    assert reply is not None and reply.detail == "Staff conduct"


def test_the_financing_question_is_not_escalated_as_an_injury(demo_kb):
    conversation = services.conversation_create(channel="web").conversation
    result = services.message_post(conversation=conversation, text=CREDIT)
    assert result.reply.reason != Reason.CRITICAL
    assert not conversation.escalations.filter(reason=Reason.CRITICAL).exists()
