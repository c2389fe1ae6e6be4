"""Sanitising what the customer typed, before anything reads it (the input guard's first step).

Bad input (empty, over the length cap) is the caller's error, raised as
ApplicationError so the API answers 400/413 and nothing is recorded.
"""

from __future__ import annotations

import html
import re
import unicodedata

from django.conf import settings

from core.errors import ApplicationError, ErrorCode

_TAG = re.compile(r"<[^>]{0,500}>")
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
# Spaces at the end of a line go, so whitespace-only lines become empty and are collapsed with the
# other blank lines: "\n \n \n ..." must not reach the guard's regular expressions as 2,000
# characters of alternating blanks (a backtracking hazard). Leading spaces stay: they carry the
# nesting of a list the customer typed.
_TRAILING_SPACES = re.compile(r" +\n")
_LINES = re.compile(r"\n{3,}")


def sanitize(raw: str) -> str:
    if len(raw) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise ApplicationError(
            f"The message is {len(raw)} characters long; the limit is {settings.CHAT_MAX_MESSAGE_CHARS}.",
            code=ErrorCode.TOO_LONG,
        )
    if "\x00" in raw:
        # Refused, not stripped: the API refuses NUL (DRF's CharField) and PostgreSQL cannot store
        # it, so the chat page must not quietly answer a different text than the one sent.
        raise ApplicationError("The message contains a NUL character, which is not allowed.", code=ErrorCode.INVALID)
    text = unicodedata.normalize("NFKC", raw)
    text = _INVISIBLE.sub("", text)
    text = html.unescape(_TAG.sub(" ", text))
    text = _TAG.sub(" ", text)  # markup that was entity-escaped once
    text = _LINES.sub("\n\n", _TRAILING_SPACES.sub("\n", _SPACES.sub(" ", text))).strip()
    if not text:
        raise ApplicationError("The message is empty.", code=ErrorCode.EMPTY)
    return text
