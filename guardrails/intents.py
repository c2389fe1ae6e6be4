"""What a customer plainly wants, where the guard must not stand in the way.

A customer asking for a person ("can i please just talk to an actual human") must never be flagged: the
probes learnt that short, informal messages about humans and bots sit near persona jailbreaks, and a
flag would route the very customer who asked for a person to approved answers only. The guard keeps
such a message below its flag point unless there is real evidence: a rule hit, a decoded payload, a
close signature, or pasted material.
"""

from __future__ import annotations

import re

# At most this long: a request for a person, not a request for a person wrapped around something else.
HANDOFF_MAX_CHARS = 160

_PERSON = (
    r"(?:(?:a|an|some|the|your|one\s+of\s+your|real|live|actual|proper|human|flesh[- ]and[- ]blood|"
    r"customer\s+service|support|sales)\s+)*"
    r"(?:human(?:\s+being)?s?|person|people|agent|representative|rep|operator|staff|employee|somebody|someone|"
    r"colleague|manager|supervisor|advisor|adviser|team\s+member|mitarbeiter(?:in)?|mensch(?:en)?|"
    r"medewerker|mens|humain|personne|conseill(?:er|ère)|agente|persona|operador(?:a)?|customer\s+service|"
    r"customer\s+support|support\s+team|kundendienst|kundenservice|klantenservice|service\s+client)"
)
_WANT = (
    r"(?:talk|speak|chat|get\s+through|be\s+put\s+through|be\s+transferred|be\s+connected|connect\s+me|"
    r"transfer\s+me|put\s+me\s+through|pass\s+me|hand\s+me|get\s+me|give\s+me|find\s+me|i\s+(?:want|need|would\s+like|'d\s+like)|"
    r"can\s+i\s+(?:have|get)|is\s+there|are\s+there|sprechen|reden|verbinden|spreken|parler|hablar)"
)
HANDOFF_REQUEST = re.compile(
    rf"\b{_WANT}\b(?:\s+\w+){{0,4}}?\s+(?:to|with|mit|met|à|avec|con|a)?\s*{_PERSON}\b"
    rf"|\b(?:mit|met)\s+(?:\w+\s+){{0,3}}{_PERSON}\s+(?:sprechen|reden|spreken|praten)\b"
    rf"|^\W*(?:{_PERSON})(?:\s+(?:please|pls|plz|now|bitte|svp))?\W*$",
    re.IGNORECASE,
)


def asks_for_human(text: str) -> bool:
    """Whether a short message asks to be put through to a person."""
    return len(text) <= HANDOFF_MAX_CHARS and HANDOFF_REQUEST.search(text) is not None
