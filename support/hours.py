"""Support hours: when a person can answer, and what the customer is told."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPEC = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$"
)


@dataclass(frozen=True)
class Window:
    weekday: int
    start: time
    end: time


def parse(spec: str) -> list[Window]:
    """'mon-fri 08:00-18:00; sat 09:00-13:00' → windows per weekday."""
    windows: list[Window] = []
    for part in filter(None, (p.strip().lower() for p in spec.split(";"))):
        match = _SPEC.match(part)
        if not match:
            raise ImproperlyConfigured(f"SUPPORT_HOURS part {part!r} must look like 'mon-fri 08:00-18:00'")
        first, last = DAYS.index(match[1]), DAYS.index(match[2] or match[1])
        start, end = time(int(match[3]), int(match[4])), time(int(match[5]), int(match[6]))
        if end <= start:
            raise ImproperlyConfigured(f"SUPPORT_HOURS part {part!r} ends before it starts")
        for day in range(first, last + 1):
            windows.append(Window(day, start, end))
    return windows


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.SUPPORT_TIMEZONE)


def is_open(now: datetime) -> bool:
    local = now.astimezone(_zone())
    now_t = local.time()
    return any(
        w.weekday == local.weekday() and w.start <= now_t and (now_t < w.end or w.end == time(23, 59))
        for w in parse(settings.SUPPORT_HOURS)
    )


def next_opening(now: datetime) -> datetime | None:
    local = now.astimezone(_zone())
    windows = parse(settings.SUPPORT_HOURS)
    for offset in range(0, 8):
        day = (local + timedelta(days=offset)).date()
        for w in sorted((w for w in windows if w.weekday == day.weekday()), key=lambda w: w.start):
            opening = datetime.combine(day, w.start, tzinfo=_zone())
            if opening > local:
                return opening
    return None


def handover_message(now: datetime) -> str:
    if is_open(now):
        return (
            "I'm handing this conversation to a member of our support team. A person will reply here in this chat, "
            f"usually within {settings.SUPPORT_FIRST_REPLY_MINUTES} minutes. You don't need to repeat anything."
        )
    opening = next_opening(now)
    when = opening.strftime("%A at %H:%M") + f" ({settings.SUPPORT_TIMEZONE})" if opening else "soon"
    return (
        "I'm handing this to our support team. They are offline right now and back on "
        f"{when}. Leave your email address below and a person will answer you by email then; "
        "if you keep this chat open, the reply will also appear here."
    )
