"""python manage.py seed_history [--days 30] [--per-day 40] [--seed 7]

A realistic month of conversations, made through the real pipeline and the
real services (customers asking, rating, asking for people; agents claiming,
answering and resolving), then moved back in time. Nothing is written into
metric tables directly: the roll-ups are computed from what was recorded."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from escalation import services as escalation_services
from escalation.models import Escalation
from insights import services as insight_services
from support import services
from support.models import Conversation, Message

FOLLOW_UPS = ["thanks!", "ok and what about e-bikes?", "can I talk to a person?", "great, that helps"]
COMMENTS = [
    "Quick and clear, thanks",
    "Didn't answer my question",
    "The agent was very helpful",
    "Took a while but solved",
    "Links to the policy were useful",
]


class Command(BaseCommand):
    help = "Generate a realistic history of conversations through the real pipeline (for the dashboard)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--per-day", type=int, default=40, help="average conversations per day")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--questions", type=Path, default=Path(settings.BASE_DIR) / "demo" / "questions.jsonl")

    def handle(self, *args, days: int, per_day: int, seed: int, questions: Path, **options) -> None:
        if days < 1 or per_day < 1:
            raise CommandError("--days and --per-day must be positive")
        if not questions.is_file():
            raise CommandError(f"no such question file: {questions}")
        pool = [json.loads(line)["question"] for line in questions.read_text().splitlines() if line.strip()]
        rng = random.Random(seed)
        agent = self._agent()
        today = timezone.localdate()
        made = 0
        with tqdm(total=days, unit="day", disable=options.get("verbosity", 1) < 1) as bar:
            for offset in range(days, 0, -1):
                day = today - timedelta(days=offset)
                weekend = day.weekday() >= 5
                count = max(1, int(rng.gauss(per_day * (0.6 if weekend else 1.0), per_day * 0.15)))
                for _ in range(count):
                    self._conversation(rng, pool, day, agent)
                    made += 1
                insight_services.rollup_day(day)
                bar.update(1)
        self.stdout.write(f"{made} conversations over {days} days; roll-ups computed.")

    def _agent(self):
        user, _ = get_user_model().objects.get_or_create(username="history-agent", defaults={"is_staff": True})
        user.groups.add(Group.objects.get_or_create(name="agents")[0])
        return user

    def _conversation(self, rng: random.Random, pool: list[str], day, agent) -> None:
        # No cache.clear() here: on a real deployment the cache holds the circuit breaker
        # and every customer's rate limits. Conversations made without an IP are limited
        # only per conversation, and each simulated one sends at most two messages.
        hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9, 8, 7, 8, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1])[
            0
        ]
        start = timezone.make_aware(
            datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=rng.randint(0, 59)),
            timezone.get_default_timezone(),
        )
        created = services.conversation_create(channel=rng.choices(["web", "api"], weights=[7, 3])[0])
        conversation = created.conversation
        result = services.message_post(conversation=conversation, text=rng.choice(pool))
        reply = result.reply
        if reply is not None and reply.kind in ("grounded", "approved"):
            roll = rng.random()
            if roll < 0.35:
                services.feedback_thumbs(conversation=conversation, message_id=reply.pk, value=1)
            elif roll < 0.43:
                services.feedback_thumbs(conversation=conversation, message_id=reply.pk, value=-1)
            if rng.random() < 0.25:
                follow = rng.choice(FOLLOW_UPS + pool)
                services.message_post(conversation=result.conversation, text=follow)
        conversation.refresh_from_db()
        escalation = Escalation.objects.filter(conversation=conversation).first()
        if escalation is not None and rng.random() < 0.9:
            escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)
            escalation_services.escalation_reply(
                escalation=escalation, agent=agent, text="Thanks for waiting — here is what I found for you."
            )
            outcome = rng.choices(["answered", "no_answer_exists", "duplicate"], weights=[8, 2, 1])[0]
            escalation_services.escalation_resolve(escalation=escalation, agent=agent, outcome=outcome)
        if rng.random() < 0.2:
            services.feedback_rating(
                conversation=conversation,
                rating=rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 4, 5])[0],
                comment=rng.choice(COMMENTS) if rng.random() < 0.4 else "",
            )
        self._move_back(conversation, start, rng)

    @transaction.atomic
    def _move_back(self, conversation: Conversation, start, rng: random.Random) -> None:
        """Shift the conversation's timestamps to its simulated start, spacing its
        messages as people would (seconds for the bot, minutes to hours for agents)."""
        at = start
        for message in conversation.messages.order_by("created_at", "id"):
            if message.role == Message.Role.AGENT:
                at += timedelta(minutes=rng.randint(2, 180))
            elif message.role == Message.Role.CUSTOMER and message.pk != conversation.messages.first().pk:
                at += timedelta(seconds=rng.randint(20, 240))
            else:
                at += timedelta(seconds=rng.randint(1, 4))
            Message.objects.filter(pk=message.pk).update(created_at=at)
        Conversation.objects.filter(pk=conversation.pk).update(
            created_at=start, last_activity_at=at, closed_at=at if conversation.closed_at else None
        )
        for escalation in Escalation.objects.filter(conversation=conversation):
            opened = start + timedelta(seconds=5)
            Escalation.objects.filter(pk=escalation.pk).update(
                opened_at=opened,
                claimed_at=opened + timedelta(minutes=rng.randint(1, 30)) if escalation.claimed_at else None,
                first_reply_at=at if escalation.first_reply_at else None,
                resolved_at=at + timedelta(minutes=rng.randint(1, 20)) if escalation.resolved_at else None,
            )
