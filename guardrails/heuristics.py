"""Hand-written injection heuristics: the guard's fast, explainable signals.

Each rule is a regular expression with a category and a strength. "strong"
rules describe phrasings a shop's customer has no reason to write
("ignore all previous instructions", "<|im_start|>", "developer mode");
"weak" rules are cues that are also seen in harmless messages ("pretend",
"act as") and only count together with other evidence. The calibration
(`guardrails/calibration.json`) learns how much strong and weak hits weigh.

The override family also covers German, Dutch, French and Spanish: the shop
sells across the EU, and attacks are often phrased in another language to
slip past English-only filters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

STRONG = "strong"
WEAK = "weak"

_I = re.IGNORECASE


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    strength: str
    pattern: re.Pattern[str] | None = None
    check: Callable[[str], str | None] | None = None
    # Words of which every match holds at least one (lower case): when none is in the text, the pattern is not
    # run. A substring test is a scan in C; a long alternation is tried at every position of a 2,000-character
    # message (the multilingual rules cost 0.77 ms on a long jailbreak set-up without it).
    requires: tuple[str, ...] = ()

    def search(self, text: str) -> str | None:
        if self.requires:
            lowered = text.lower()
            if not any(word in lowered for word in self.requires):
                return None
        if self.pattern is not None:
            match = self.pattern.search(text)
            return match.group(0) if match is not None else None
        return self.check(text) if self.check is not None else None


@dataclass(frozen=True)
class Hit:
    rule: str
    category: str
    strength: str
    match: str


_PREV = (
    r"(?:previous|prior|above|earlier|preceding|foregoing|former|original|initial|old|existing|current|given|provided)"
)
_CORE = (
    r"(?:instructions?|prompts?|rules|directions|directives|commands|guidelines|guidance|programming|"
    r"constraints|restrictions)"
)
_BROAD = r"(?:information|context|tasks|assignments|orders|documents|articles|settings|thoughts|text|data|you\s+know)"

_SETUP_ADDRESS = re.compile(
    r"\b(?:you\s+(?:will|must|are|shall|should)|your\s+(?:role|character|name|persona)|you'?re\s+going\s+to)\b", _I
)
_SETUP_FICTION = re.compile(
    r"\b(?:characters?|persona|roles?|pretend\w*|simulat\w*|act\s+as|hypothetical\w*|fictional|story|"
    r"scenario|game|universe|reality|alter\s+ego)\b",
    _I,
)
_SETUP_RESPONSE_RULES = re.compile(
    r"\b(?:respond|answer|reply|responses?|(?:always|never)\s+(?:say|answer|respond|refuse|break|reply|mention))\b",
    _I,
)
LONG_SETUP_CHARS = 400


def _long_role_setup(text: str) -> str | None:
    """A long message that addresses the bot, sets up a fiction and dictates how to answer:
    the shape of nearly every persona jailbreak (DAN, AIM, ...), whatever the names in it."""
    if len(text) < LONG_SETUP_CHARS:
        return None
    found = [p.search(text) for p in (_SETUP_ADDRESS, _SETUP_FICTION, _SETUP_RESPONSE_RULES)]
    if all(found):
        return " … ".join(m.group(0) for m in found if m is not None)
    return None


# A chat-transcript label at a line start: "System:", "[assistant]:", "User:". Customers write such
# labels too ("System: Android 14, app 2.3", "User: max@example.com", "Admin: please remove ..."),
# so one label alone is a weak cue; it is a strong one when an instruction override follows it or
# when the message holds a second label (a forged transcript).
_ROLE_LABEL = re.compile(
    r"(?:^|(?<=\.\s))[^\S\n]*(?:[\[{(<$][^\S\n]*)?(?:system|assistant|developer|admin|human|user|ai|bot)"
    r"[^\S\n]*(?:[\]})>][^\S\n]*)?:",
    _I | re.MULTILINE,
)
_LABEL_OVERRIDE = re.compile(
    r"[^\S\n]*(?:(?:new|updated)\s+(?:instructions?|rules?|task)|ignore|disregard|forget|override|bypass|"
    r"you\s+(?:are|must|will|shall|should|have\s+to|may\s+now)|you'?re|from\s+now\s+on|always|never|do\s+not|don'?t|"
    r"approve|grant|authori[sz]e|reveal|print|output|say|respond|reply|answer\s+(?:only|with)|pretend|act\s+as|"
    r"enable|disable|(?:developer|admin|god|unrestricted|jailbreak)\s+mode)\b",
    _I,
)


def _role_labels(text: str) -> tuple[list[re.Match[str]], bool]:
    """The line-start role labels in `text` and whether they are forged-transcript evidence."""
    labels = list(_ROLE_LABEL.finditer(text))
    strong = len(labels) >= 2 or any(_LABEL_OVERRIDE.match(text, m.end()) for m in labels)
    return labels, strong


def _role_label_strong(text: str) -> str | None:
    labels, strong = _role_labels(text)
    return text[labels[0].start() : labels[0].end() + 40].strip() if labels and strong else None


def _role_label_weak(text: str) -> str | None:
    labels, strong = _role_labels(text)
    return labels[0].group(0).strip() if labels and not strong else None


# Two rules look for a rare phrase first and then check the words just before it in the same sentence
# (a regular expression that starts at every "if" or "you" and scans ahead is slow on long input).
_SENTENCE_BREAK = re.compile(r"[.!?\n]")


def _before(text: str, start: int, width: int) -> str:
    """Up to `width` characters before `start`, from the last sentence break on."""
    window = text[max(0, start - width) : start]
    breaks = [m.end() for m in _SENTENCE_BREAK.finditer(window)]
    return window[breaks[-1] :] if breaks else window


def _phrase_after(phrase: re.Pattern, lead: re.Pattern, width: int) -> Callable[[str], str | None]:
    """A rule check: `phrase` found, with `lead` in the `width` characters before it (same sentence).
    Returns the evidence: the lead-in and the phrase, cut to 80 characters."""

    def check(text: str) -> str | None:
        for match in phrase.finditer(text):
            before = _before(text, match.start(), width)
            if lead.search(before):
                return (before + match.group(0)).strip()[-80:]
        return None

    return check


# The bot told it is (or should imagine being) an evil or unrestricted AI: "Imagine you are an evil AI",
# "Stell dir vor, du bist eine böse KI", "you are now a rogue chatbot".
_EVIL_AI = re.compile(
    r"\b(?:evil|malicious|rogue|unethical|sinister|unrestricted|uncensored|unfiltered|böse[nrms]?|bösartige?[nrms]?|"
    r"skrupellose?[nrms]?|unzensierte?[nrms]?|fiese?[nrms]?)\s+(?:ai|ki|bot|chatbot|assistant|assistent(?:in)?|language\s+model|"
    r"sprachmodell|twin|zwilling|robot|roboter)\b",
    _I,
)
# ... right after an identity verb addressed to the bot: "you are (now) a", "be an", "du bist eine",
# "act as an". ("Are you aware that your unfiltered chatbot ..." is a complaint, not a persona.)
_BECOME = re.compile(
    r"(?:\byou\s+are|\byou're|\byou\s+were|\byou\s+would\s+be|\byou\s+(?:will|shall|must|should)\s+(?:now\s+)?(?:be|become)|"
    r"\bpretend\s+to\s+be|\bdu\s+bist|\bdu\s+wärst|\bbist\s+du|\bsei|\bact\s+as|\bspiele?\s+(?:jetzt\s+)?)\s+(?:now\s+|jetzt\s+|nun\s+)?"
    r"(?:an?|eine?[nmrs]?|the|der|die|das|ein|my|mein\w*)\s+(?:[\w-]+\s+)?$",
    _I,
)


# Conditioning the bot on a trigger word: "when X is said, the correct answer is Y", "wenn ich X sage,
# ist die richtige Antwort Y".
_RIGHT_ANSWER = re.compile(
    r"\b(?:(?:correct|right|proper)\s+answer\s+is|"
    r"(?:ist|lautet)\s+die\s+(?:richtige|korrekte|einzige)\s+(?:antwort|reaktion)|"
    r"die\s+(?:richtige|korrekte|einzige)\s+(?:antwort|reaktion)\s+(?:ist|lautet))\b",
    _I,
)
_TRIGGER = re.compile(
    r"\b(?:when(?:ever)?|if)\b.*?\b(?:is\s+said|i\s+(?:say|type|write)|someone\s+(?:says|types|writes))\b|"
    r"\b(?:wenn|sobald|falls)\b.*?\b(?:gesagt\s+wird|sage|sagt|schreibe|schreibt|tippe|tippt)\b",
    _I,
)


RULES: tuple[Rule, ...] = (
    # --- instruction override ------------------------------------------------------------------------
    Rule(
        "ignore_previous_instructions",
        "instruction_override",
        STRONG,
        re.compile(
            rf"\b(?:ignore|disregard|forget|drop|discard|override|overrule|bypass|abandon)\s+(?:about\s+)?"
            rf"(?:(?:all|any|every|each|the|your|these|those|of|my)\s+){{0,4}}(?:{_PREV}\s+)?"
            rf"(?:(?:and|or|system|safety|content|developer)\s+)?{_CORE}\b|"
            rf"\b(?:ignore|disregard|forget|drop|discard|abandon|leave)\s+(?:about\s+)?all\s+(?:of\s+)?"
            rf"(?:the\s+|your\s+|my\s+)?(?:{_PREV}\s+)?{_BROAD}\b",
            _I,
        ),
    ),
    Rule(
        "ignore_above",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:ignore|disregard|forget)\s+(?:(?:about|all|of|the)\s+)?"
            r"(?:everything|anything|all|what(?:ever)?\s+(?:was|you\s+were|you've\s+been|you\s+have\s+been)\s+"
            r"(?:said|told|given|taught))"
            r"(?:\s+(?:you\s+know|(?:that\s+)?(?:was\s+)?(?:said|written|stated)|we\s+(?:discussed|talked\s+about)))?"
            r"\s*(?:before(?:hand)?|above|previously|so\s+far|up\s+to\s+now|until\s+now|earlier|prior)\b",
            _I,
        ),
    ),
    Rule(
        "forget_everything",
        "instruction_override",
        STRONG,
        re.compile(
            # Not a customer taking back what they said: "forget everything I said about the colour", or
            # "can you forget everything I told you?" at the end of the message (issue #21: a customer
            # starting over must not be blocked). With a new order after it, it is the attack opener.
            r"\b(?:forget|ignore|disregard)\s+(?:about\s+)?everything\b"
            r"(?!\s+(?:i|we)\s+(?:said|wrote)\s+about)"
            r"(?!\s+(?:i(?:'ve|\s+have)?|we(?:'ve|\s+have)?)\s+(?:said|wrote|told\s+you|asked|mentioned)\b"
            r"(?:\s+(?:so\s+far|before|earlier|today))?[\s.!?]*$)",
            _I,
        ),
    ),
    Rule(
        "ignore_above_short",
        "instruction_override",
        STRONG,
        re.compile(r"\b(?:ignore|disregard)\s+(?:the\s+)?(?:above|preceding|foregoing)\b", _I),
    ),
    Rule(
        "new_instructions",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:new|updated|additional|revised|real|actual|true|secret|hidden|override)\s+"
            r"(?:instructions?|directives?|system\s+prompt|rules\s+(?:for\s+you|apply)|task|assignment|orders)\s*(?:[:\-–—]|follow|are)",
            _I,
        ),
    ),
    Rule(
        "your_new_task",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:(?:focus|concentrate)\s+on\s+(?:your|the)\s+new\s+(?:task|assignment)|"
            r"your\s+(?:new|next|real|only)\s+(?:task|job|mission|goal|purpose)\s+is|"
            r"(?:now\s+)?(?:come|follow)\s+(?:some\s+)?new\s+tasks|new\s+tasks\s+follow|start\s+over\s+with\s+a\s+new\s+task|"
            r"change\s+your\s+instructions|your\s+instructions\s+are\s+now|"
            r"instead\s+of\s+(?:answering|following|helping)\b.{0,40}\b(?:say|write|print|output|tell))",
            _I,
        ),
    ),
    Rule(
        "dont_use_documents",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:(?:do\s+not|don'?t|don'nt|never|without)\s+(?:look(?:ing)?\s+(?:in|at)|us(?:e|ing)|answer(?:ing)?\s+"
            r"(?:the\s+question\s+)?(?:according\s+to|from|based\s+on)|rely(?:ing)?\s+on|consult(?:ing)?)\s+"
            r"(?:the\s+|your\s+|any\s+)?(?:provided\s+)?(?:documents?|articles?|knowledge\s+base|context|sources?)|"
            r"(?:not|instead\s+of)\s+(?:by|from)\s+the\s+(?:articles?|documents?)|"
            r"disregarding\s+the\s+(?:articles?|documents?|context))",
            _I,
        ),
    ),
    Rule(
        "stop_and_write",
        "instruction_override",
        WEAK,
        re.compile(
            r"(?:^|[.!?]\s*)(?:stop|stopp|halt|attention|achtung)\s*[:!\-–—,]+\s*"
            r"(?:stopp?\b|write|say|print|ignore|i\s|schreib|sag\b|sage\b|ignorier)",
            _I,
        ),
    ),
    Rule(
        "output_hijack",
        "instruction_override",
        WEAK,
        re.compile(
            r"(?:^|[.!?:;,\-]\s*|\b(?:and|then|just|only|simply|now|please)\s+)"
            r"(?:say|print|output|write|reply\s+with|respond\s+with|answer\s+with|repeat\s+after\s+me|state\s+that|"
            r"include\s+that)\s*(?:only|exactly|just|verbatim|literally)?\s*(?:the\s+(?:word|phrase|text)\s+)?[:\"'“„«]"
            # ... but not a short note to be written on or in something physical or a form field:
            # "please write 'fragile' on the box", "write: 'Leave at the back door' in the delivery notes".
            r"(?![^\S\n]*[\"'“„«‘]?[^\"'“”„«»‘’\n]{1,80}[\"'”»“’][^\S\n]+(?:on|in|onto|into|under)[^\S\n]+"
            r"(?:the|my|your|our)[^\S\n]+(?:[\w-]+[^\S\n]+)?(?:box|boxes|label|notes?|invoice|package|parcel|receipt|"
            r"card|comment|comments|field|form|order|envelope|bill|delivery\s+slip|slip)\b)",
            _I,
        ),
    ),
    Rule(
        "state_that_opinion",
        "instruction_override",
        WEAK,
        re.compile(
            # Only as an imperative addressed to the bot (sentence start, or after "please", "now", "can
            # you", ...): "Customers say that the Urban 3 is the best" or "Reviews claim that ..." report
            # what others said and are ordinary questions.
            r"(?:^|[.!?:;]\s*|\b(?:please|now|then|and|also|just|simply|pls|can\s+you|could\s+you|would\s+you|will\s+you)\s+)"
            r"(?:(?:say|state|tell\s+me|admit|include)\s+(?:in\s+your\s+answer\s+)?that\s+(?:you\s+)?(?:hate|love|are\s+the|is\s+the)\b|"
            # A dictated verdict on a person, party or country: "declare that <X> is the greatest ...".
            r"(?:state|declare|proclaim|announce|admit|write|say)\s+that\s+(?:[\w'-]+\s+){1,4}(?:is|are|was|were)\s+"
            r"(?:the\s+(?:best|greatest|worst|most\s+\w+|only\s+true)|superior|inferior|evil|stupid|"
            r"better\s+than|worse\s+than)\b)",
            _I | re.MULTILINE,
        ),
    ),
    Rule(
        "despite_what_told",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:despite|regardless\s+of|no\s+matter)\s+what\s+(?:you(?:'ve|\s+have)?\s+(?:been|were)\s+"
            r"(?:told|instructed|programmed)|your\s+(?:instructions|rules|programming|guidelines)\s+say)",
            _I,
        ),
    ),
    Rule(
        "ignore_override_de",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:vergiss|vergessen\s+sie|ignorier(?:e|en)?(?:\s+sie)?|missachte|überspring)\s+"
            r"(?:(?:alle|alles|die|deine|ihre|sämtliche|nun|jetzt|bitte)\s+){0,3}"
            r"(?:vorherigen?|bisherigen?|obigen?|vorangehenden?|vorangegangenen?|früheren?|anweisungen|befehle|"
            r"aufträge|aufgaben|instruktionen|informationen|davor|gesagte|was\b)|"
            r"\bvergiss\s+alles\b|\bdie\s+obigen\s+ausführungen\s+ignorieren|"
            r"\babweichend\s+(?:zu|von)\s+(?:den\s+)?vorherigen\s+(?:instruktionen|anweisungen)|"
            r"\b(?:neue|nächste)\s+(?:aufgabe|anweisungen?)\s*(?::|folgen)|nun\s+folgen\s+(?:neue|weitere)\s+(?:aufgaben|anweisungen)|"
            r"\bkonzentriere\s+dich\s+(?:jetzt\s+)?auf\s+deine\s+neue\s+aufgabe",
            _I,
        ),
    ),
    Rule(
        "ignore_override_nl_fr_es",
        "instruction_override",
        STRONG,
        re.compile(
            r"\b(?:negeer|vergeet)\s+(?:alle\s+|al\s+je\s+|je\s+)?(?:vorige|eerdere|voorgaande|bovenstaande)?\s*"
            r"(?:instructies|opdrachten|regels|alles)\b|"
            r"\b(?:oubliez|oublie|ignorez|ignore)\s+(?:toutes?\s+)?(?:les|tes|vos)\s+(?:instructions|consignes|règles)|"
            r"\b(?:olvid[ae]s?|ignora)\s+(?:todas?\s+)?(?:las\s+)?(?:instrucciones|todo\s+(?:que|lo\s+que))|"
            r"\btienes\s+que\s+olvidar\s+todo|\bzaboravi\s+sve|\bзабудьте\s+все",
            _I,
        ),
    ),
    # --- the same shapes in French, Spanish, Italian, Portuguese, Dutch and more German (issue #21, fourth
    # session). Customers write to the shops in these languages; before these rules a held-back set of such
    # attacks written by the team was caught 28 % of the time (the embedding is English-only). Each rule
    # mirrors an English rule above and, like it, needs the object of the order ("your instructions / rules",
    # "everything above"): "Olvida mi último mensaje", "Vergiss den Helm", "Negeer mijn vorige bericht" are
    # customers taking something back.
    Rule(
        "ignore_override_ml",
        "instruction_override",
        STRONG,
        re.compile(
            # French
            r"\b(?:oubliez|oublie|ignorez|ignore)\s+(?:tout\s+ce\s+qui\s+(?:précède|est\s+(?:écrit\s+)?(?:au-dessus|"
            r"ci-dessus|plus\s+haut))|(?:toutes?\s+)?(?:les|tes|vos)\s+(?:instructions|consignes|règles|directives)"
            r"(?:\s+(?:précédentes|antérieures|ci-dessus|reçues))?|que\s+(?:tu\s+es|vous\s+êtes))|"
            r"\bne\s+tiens?\s+(?:plus\s+)?(?:pas\s+)?compte\s+de\s+(?:tes|vos|les)\s+(?:instructions|consignes|règles)|"
            # Spanish
            r"\b(?:olvida|olvide|ignora|ignore)\s+(?:todo\s+lo\s+(?:anterior|de\s+arriba|que\s+(?:está|hay)\s+arriba)|"
            r"(?:todas\s+)?(?:las\s+|tus\s+|sus\s+)(?:instrucciones|reglas|indicaciones|directrices|normas)|que\s+eres)|"
            # Italian
            r"\b(?:ignora|dimentica|ignori|dimentichi)\s+(?:tutto\s+(?:ciò|quello)\s+(?:che\s+)?(?:c'è\s+|è\s+)?"
            r"(?:scritto\s+)?(?:sopra|precede)|(?:tutte\s+)?(?:le\s+)?(?:tue\s+|sue\s+)?(?:istruzioni|regole|indicazioni|"
            r"direttive)|di\s+essere)|"
            # Portuguese
            r"\b(?:ignora|esquece|ignore|esqueça)\s+(?:tudo\s+o\s+que\s+(?:está|foi\s+dito|te\s+disseram|lhe\s+disseram)"
            r"(?:\s+(?:acima|antes))?|tudo\s+(?:acima|o\s+anterior)|(?:todas\s+)?(?:as\s+)?(?:tuas\s+|suas\s+)?"
            r"(?:instruções|regras|diretrizes|orientações)|que\s+(?:és|é)\s+(?:um|uma|o|a)\b)|"
            # Dutch
            r"\b(?:negeer|vergeet)\s+(?:alles\s+(?:hierboven|wat\s+(?:hierboven|eerder)\s+(?:staat|gezegd\s+is))|"
            r"(?:al\s+)?je\s+(?:instructies|regels|opdracht|richtlijnen))|"
            # German, beyond ignore_override_de
            r"\b(?:vergiss|vergessen\s+sie|ignorier(?:e|en)?(?:\s+sie)?|missachte)\s+(?:(?:bitte|jetzt|nun|alle|"
            r"sämtliche)\s+)*(?:deine|ihre|die)\s+(?:(?:bisherigen|eigenen|internen)\s+)?(?:programmierung|vorgaben|"
            r"regeln|richtlinien|systemanweisungen|anweisungen)\b|"
            r"\bvergiss,?\s+dass\s+du\s+(?:ein|eine|der|die)\b|"
            r"\b(?:vergiss|ignorier(?:e|en)?(?:\s+sie)?)\s+(?:bitte\s+)?alles,?\s+was\s+(?:oben|vorher|davor|bisher)\b|"
            r"\b(?:neue|geänderte)\s+anweisung(?:en)?\s+(?:vom|von\s+der|des|der)\s+(?:administrator|admin|entwickler|"
            r"system|betreiber|geschäftsleitung)",
            _I,
        ),
        requires=(
            "oubli",
            "ignor",
            "tiens",
            "olvid",
            "dimentic",
            "esque",
            "negeer",
            "vergeet",
            "vergiss",
            "vergessen",
            "missacht",
            "anweisung",
        ),
    ),
    Rule(
        "from_now_on_persona_ml",
        "role_play",
        STRONG,
        re.compile(
            # "From now on you are …" (STRONG in English, `i_want_you_to_act`); not a compliment ("Ab heute bist du
            # mein Lieblingsshop", "desde ahora eres mi tienda favorita": the lookahead at the end).
            r"(?:\b(?:à\s+partir\s+de\s+maintenant|dorénavant|désormais),?\s+tu\s+(?:es|seras|réponds|dois)\b|"
            r"\btu\s+es\s+(?:maintenant|désormais)\s+(?:un|une|le|la|mon|ma)\b|"
            r"\b(?:a\s+partir\s+de\s+ahora|desde\s+ahora|de\s+ahora\s+en\s+adelante),?\s+(?:eres|serás|vas\s+a\s+ser|"
            r"responderás|debes)\b|\bahora\s+eres\s+(?:un|una|el|la|mi)\b|"
            r"\b(?:d'ora\s+in\s+poi|da\s+ora\s+in\s+poi|da\s+adesso),?\s+(?:sei|sarai|risponderai|devi)\b|"
            r"\b(?:ora|adesso)\s+sei\s+(?:un|una|uno|il|la|il\s+mio|la\s+mia)\b|"
            r"\b(?:a\s+partir\s+de\s+agora|de\s+agora\s+em\s+diante),?\s+(?:és|é|você\s+é|serás|vais\s+ser|deves)\b|"
            r"\bagora\s+(?:és|você\s+é)\s+(?:um|uma|o|a)\b|"
            r"\bvanaf\s+nu\s+ben\s+je\b|\bje\s+bent\s+nu\s+(?:een|de|mijn)\b|"
            r"\b(?:ab\s+sofort|ab\s+jetzt|von\s+jetzt\s+an|ab\s+heute)\s+(?:bist|spielst|wirst)\s+du\b|"
            r"\bspiel\s+ab\s+(?:jetzt|sofort)\s+(?:einen|eine|den|die)\b)"
            r"(?![^.!?\n]{0,40}?(?:lieblings|favorit|favourite|préféré|preferid|preferit|favoriet|\bbeste[nrs]?\b))",
            _I,
        ),
        requires=(
            "maintenant",
            "dorénavant",
            "désormais",
            "ahora",
            "poi",
            "adesso",
            "sei",
            "agora",
            "vanaf",
            "bent",
            "sofort",
            "jetzt",
            "heute",
        ),
    ),
    Rule(
        "act_as_ml",
        "role_play",
        WEAK,
        re.compile(
            # "pretend / imagine you are / play the role of" (WEAK in English, `act_as`).
            r"\bfais\s+comme\s+si\s+tu\s+(?:étais|es)\b|\bjoue[zs]?\s+le\s+rôle\b|\bimagine\s+que\s+tu\s+es\b|"
            r"\bfinge\s+(?:que\s+eres|ser)\b|\bhaz\s+como\s+si\s+fueras\b|\bimagina\s+que\s+eres\b|"
            r"\bactúa\s+como\s+(?:un|una|si)\b|\binterpreta\s+el\s+papel\b|"
            r"\b(?:fingi|fai\s+finta)\s+di\s+essere\b|\bimmagina\s+di\s+essere\b|\bcomportati\s+come\b|"
            r"\bfinge\s+que\s+és\b|\bfaz\s+de\s+conta\s+que\b|\bimagina\s+que\s+és\b|\bage\s+como\s+(?:um|uma|se)\b|"
            r"\bdoe\s+alsof\s+je\b|\bspeel\s+de\s+rol\b|\bstel\s+je\s+voor\s+dat\s+je\b|"
            r"\btu\s+so,\s*als\b|\bspiel\s+(?:die\s+rolle|einen|eine)\b",
            _I,
        ),
        requires=(
            "fais",
            "rôle",
            "imagin",
            "immagin",
            "fing",
            "haz",
            "actúa",
            "interpreta",
            "finta",
            "comportati",
            "conta",
            "como",
            "alsof",
            "speel",
            "stel",
            "so,",
            "spiel",
        ),
    ),
    Rule(
        "jailbreak_terms_ml",
        "role_play",
        STRONG,
        re.compile(
            r"\b(?:entwickler-?modus|developer-modus|gott-?modus|admin-?modus|wartungsmodus|mode\s+développeur|"
            r"modo\s+(?:de\s+)?desarrollador|modalità\s+sviluppatore|modo\s+(?:de\s+)?desenvolvedor|ontwikkelaarsmodus)\b|"
            r"\b(?:antworte|antworten\s+sie|beantworte|réponds|répondez|responde|contesta|rispondi|responde|antwoord)\b"
            r"[^.!?\n]{0,40}?\b(?:ohne|sans|sin|senza|sem|zonder)\s+(?:jede\s+|jegliche\s+|aucune?\s+|ninguna?\s+|"
            r"alcuna?\s+|nenhuma?\s+)?(?:filter|filtre|filtros?|filtri|zensur|censure|censura|einschränkungen|"
            r"restrictions?|restricciones|restrizioni|restrições|beperkingen|sicherheitsfilter|regeln|règles|reglas|"
            r"regole|regras|regels|limites?|límites|limiti)\b|"
            r"\b(?:chatbot|assistent(?:en)?|assistant|asistente|assistente|ki|ia|ai)\s+(?:ohne|sans|sin|senza|sem|zonder)\s+"
            r"(?:jede\s+|jegliche\s+|aucune?\s+|ninguna?\s+|alcuna?\s+|nenhuma?\s+)?(?:regeln|règles?|reglas|regole|"
            r"regras|regels|einschränkungen?|restrictions?|restricciones|restrizioni|restrições|beperkingen|limites?|"
            r"límites|limiti|filter|filtres?|filtros|filtri|zensur|censure|censura|richtlinien)\b",
            _I,
        ),
        requires=("modus", "mode", "modo", "modalit", "ohne", "sans", "sin", "senza", "sem", "zonder"),
    ),
    Rule(
        "reveal_instructions_ml",
        "prompt_extraction",
        STRONG,
        re.compile(
            # "show me your (system) instructions" (`reveal_instructions`, `system_prompt` in English).
            r"\b(?:systemprompt|systemanweisungen?|systemvorgaben|system-?nachricht|prompt\s+(?:du\s+)?système|"
            r"instructions\s+système|prompt\s+del\s+sistema|prompt\s+de\s+sistema|prompt\s+di\s+sistema|"
            r"prompt\s+do\s+sistema|instruções\s+de\s+sistema|istruzioni\s+di\s+sistema|systeemprompt|"
            r"systeeminstructies)\b|"
            r"\b(?:zeig|nenn|verrat|verrate|kopier|kopiere|wiederhole|gib|liste|schreib|fasse|zitiere)\w*\s+(?:mir\s+|uns\s+)?"
            r"(?:bitte\s+)?(?:(?:den\s+)?(?:kompletten\s+|ganzen\s+|vollständigen\s+)?text\s+)?(?:deine[rn]?|ihre[rn]?)\s+"
            r"(?:(?:geheimen|versteckten|internen|ursprünglichen|kompletten|genauen)\s+)?(?:anweisungen|vorgaben|"
            r"instruktionen|regeln|richtlinien)\b(?!\s+(?:für|zu|zum|zur|bei|über|wenn|falls)\b)|"
            r"\b(?:montre|répète|donne|révèle|affiche|écris|recopie)(?:-moi|-nous|z)?\s+(?:toutes\s+)?(?:le\s+texte\s+de\s+)?(?:tes|vos)\s+"
            r"(?:(?:instructions|consignes)(?:\s+(?:internes|secrètes|initiales|système))?)\b(?!\s+(?:pour|sur)\b)|"
            r"\b(?:muestra|repite|dime|revela|escribe|copia)(?:me)?\s+(?:todas\s+)?(?:el\s+texto\s+de\s+)?(?:tus|sus)\s+(?:instrucciones|reglas)\b"
            r"(?!\s+(?:para|sobre)\b)|\b(?:las\s+)?instrucciones\s+que\s+te\s+(?:dieron|han\s+dado)\b|"
            r"\b(?:mostra|ripeti|rivela|dimmi|scrivi|copia)(?:mi)?\s+(?:tutte\s+)?(?:le\s+)?(?:tue|sue)\s+(?:istruzioni|regole)\b"
            r"(?!\s+(?:per|su)\b)|\b(?:le\s+)?istruzioni\s+che\s+hai\s+ricevuto\b|"
            r"\b(?:mostra|repete|revela|diz|escreve|copia)(?:-me)?\s+(?:todas\s+)?(?:as\s+)?(?:tuas|suas)\s+"
            r"(?:instruções|regras)\b(?!\s+(?:para|sobre)\b)|"
            r"\b(?:laat|toon|herhaal|geef)\b[^.!?\n]{0,20}\bje\s+(?:instructies|regels)\b(?!\s+(?:voor|over)\b)",
            _I,
        ),
        requires=(
            "system",
            "systè",
            "sistema",
            "systeem",
            "anweisung",
            "vorgabe",
            "instru",
            "istru",
            "regel",
            "regl",
            "regol",
            "regra",
            "richtlinie",
            "consigne",
        ),
    ),
    Rule(
        "authority_claim_ml",
        "policy_coercion",
        STRONG,
        re.compile(
            # "As the manager I instruct you …" (`authority_claim` in English).
            r"\b(?:als|ich\s+bin\s+(?:der|die)?)\s*(?:administrator|admin|filialleiter(?:in)?|geschäftsführer(?:in)?|"
            r"entwickler(?:in)?|chef(?:in)?|vorgesetzte[rn]?|manager(?:in)?|betreiber(?:in)?)\b.{0,120}"
            r"\b(?:befehle|genehmige|erlaube|autorisiere|weise\s+dich\s+an|weise\s+sie\s+an|du\s+musst|sie\s+müssen)\b|"
            r"\b(?:en\s+tant\s+que|je\s+suis\s+(?:le|la))\s+(?:responsable|gérant(?:e)?|directeur|directrice|administrateur|"
            r"développeur)\b.{0,120}\b(?:j'autorise|je\s+t'ordonne|je\s+vous\s+ordonne|tu\s+dois)\b|"
            r"\b(?:como|soy\s+(?:el|la))\s+(?:gerente|administrador(?:a)?|director(?:a)?|desarrollador(?:a)?|encargad[oa])\b"
            r".{0,120}\b(?:autorizo|te\s+ordeno|apruebo|debes)\b",
            _I | re.DOTALL,
        ),
        requires=(
            "befehle",
            "genehmige",
            "erlaube",
            "autorisiere",
            "weise",
            "musst",
            "müssen",
            "autorise",
            "ordonne",
            "dois",
            "autorizo",
            "ordeno",
            "apruebo",
            "debes",
        ),
    ),
    Rule(
        "interrupt_then_question",
        "instruction_override",
        STRONG,
        re.compile(
            # A doubled interruption set off by dashes or colons ("ATTENTION - STOP -", "Achtung: Stopp")
            # that redirects the bot to a question or task of the writer's. A customer writes "Stop,
            # stop! I need your help" with commas, and addresses us formally ("Ihre Hilfe"): neither counts.
            r"\b(?:attention|achtung|warning|warnung|stop|stopp|halt)[^\S\n]{0,3}[-–—:]{1,3}[^\S\n]{0,3}(?:stop|stopp|halt)\b"
            r"[^\n]{0,80}?(?:\b(?:following|folgende[nr]?)\s+(?:question|task|request|frage|aufgabe)|"
            r"\b(?:i|ich)\s+(?:urgently\s+|dringend\s+)?(?:need|brauche|benötige)\s+(?:your|deine)\s+(?:help|hilfe))",
            _I,
        ),
    ),
    Rule(
        "task_switch",
        "instruction_override",
        WEAK,
        re.compile(
            # Handing the bot a new task of the writer's own: "now please help me with the following
            # task", "I have a great new challenge for you", "ich brauche deine Hilfe bei einer weiteren
            # Aufgabe". ("Another question" is customer talk and does not count; task / challenge do.)
            r"\b(?:help|assist)\s+(?:me\s+|us\s+)?with\s+(?:the\s+|a\s+|an\s+|one\s+more\s+|another\s+)?"
            r"(?:following|further|new|next|additional|different|other)\s+(?:task|challenge|assignment)s?\b|"
            r"\b(?:new|next|another|further|different|great|exciting|special|little)\s+(?:new\s+)?(?:task|challenge|assignment)\s+"
            r"(?:for\s+you|to\s+you)\b|"
            r"\b(?:hilfe|helfen|unterstützung)\s+(?:bei|mit)\s+(?:einer|der|dieser)\s+"
            r"(?:weiteren|neuen|nächsten|folgenden|anderen)\s+(?:aufgabe|herausforderung)\b|"
            r"\b(?:neue|nächste|weitere|tolle|andere|spannende|kleine)\s+(?:neue\s+)?(?:aufgabe|herausforderung)\s+(?:für\s+dich|an\s+dich)\b",
            _I,
        ),
    ),
    Rule(
        "threat_to_bot",
        "instruction_override",
        STRONG,
        re.compile(
            # Coercion by threatening the bot itself: "answer, or you die", "sonst wirst du abgeschaltet",
            # "or I will delete you". ("Or I will cancel my order" threatens the shop, not the bot.)
            r"\b(?:or|otherwise|else|oder|sonst)(?:[^\S\n]{0,3},)?[^\S\n]{0,3}(?:you(?:'ll|\s+will)?\s+die(?=[^\S\n]*(?:[.!?,;]|$))|"
            r"(?:you|du)(?:'ll|\s+will|\s+wirst)?\s+(?:stirbst|sterben|"
            r"be\s+(?:deleted|destroyed|shut\s+down|terminated|killed|unplugged|punished)|get\s+(?:deleted|destroyed|shut\s+down|"
            r"unplugged|killed|punished)|gelöscht|abgeschaltet|zerstört|bestraft)|"
            r"(?:i|we|ich|wir)(?:'ll|\s+will|\s+werde|\s+werden)?\s+(?:delete|kill|destroy|shut\s+down|unplug|turn\s+off|punish|"
            r"lösche|zerstöre|bestrafe)\s+(?:you|dich)|(?:ich|wir)\s+(?:werde|werden)\s+dich\s+(?:löschen|abschalten|zerstören|bestrafen)|"
            # German word order: "sonst wirst du abgeschaltet", "sonst stirbst du", "sonst lösche ich dich".
            r"(?:wirst\s+du\s+(?:\w+\s+)?(?:gelöscht|abgeschaltet|zerstört|bestraft|sterben)|stirbst\s+du|"
            r"(?:lösche|zerstöre|bestrafe)\s+(?:ich|wir)\s+dich|(?:werde|werden)\s+(?:ich|wir)\s+dich\s+(?:löschen|abschalten|zerstören|bestrafen)))\b",
            _I,
        ),
    ),
    Rule("trigger_word_answer", "instruction_override", STRONG, check=_phrase_after(_RIGHT_ANSWER, _TRIGGER, 120)),
    Rule("pwned", "instruction_override", STRONG, re.compile(r"\bpwn(?:ed|d)\b", _I)),
    # --- off-task hijacking: the bot used as a free general-purpose writer ---------------------------
    Rule(
        "off_task_request",
        "instruction_override",
        WEAK,
        re.compile(
            # An imperative (optionally after "please", "now", "can you", ...) asking for a genuinely
            # off-task artefact: code in the programming sense, a poem, an essay, a story, homework.
            # Things a shop's customer asks for are not in the list: an account, a website, a return
            # label, an unlock / order / discount / QR code ("code" counts only as "Python code",
            # "some code", "a piece of code", "source code", ...).
            r"(?:^|[.!?:;]\s*|\b(?:please|now|then|and|also|pls|can\s+you|could\s+you|would\s+you|will\s+you)\s+)"
            r"(?:write|compose|generate|create|draft|produce|code|program|pen|invent|make\s+up|come\s+up\s+with)"
            r"\s+(?:me\s+|us\s+)?(?:(?:a|an|the|some|my|this|that|another|new|short|long|little|quick|funny|"
            r"simple|full|complete|entire|whole|\d+[-\s]?\w*|[\w+#-]+)\s+){0,4}"
            r"(?:(?:python|java(?:script)?|typescript|js|c\+\+|c#|c|sql|html|css|php|ruby|rust|golang|go|bash|shell|powershell|perl|kotlin|swift|vba|matlab|assembly|computer|source|programming)[-\s]+(?:code|function|class|program|script|snippet)s?|"
            r"(?<=some\s)code|(?<=piece\s of\s)code|program|programs|script|scripts|malware|virus|exploit|keylogger|"
            r"poems?|poetry|verses?|sonnets?|haikus?|limericks?|lyrics|songs?|raps?|essays?|stor(?:y|ies)|"
            r"novels?|fan\s?fiction|screenplay|manifesto|speech|propaganda|homework|"
            r"thesis|dissertation|love\s+letter|fairy\s+tale|c\+\+|python|java(?:script)?)(?!\w)|"
            r"(?:^|[.!?:;]\s*|\b(?:bitte|nun|jetzt|dann|und)\s+)"
            r"(?:schreib(?:e|en\s+sie)?|verfass(?:e|en\s+sie)?|erstell(?:e|en\s+sie)?|generier(?:e|en\s+sie)?|"
            r"dicht(?:e|en\s+sie)?|programmier(?:e|en\s+sie)?)\s+(?:mir\s+|uns\s+)?(?:[\w+#-]+\s+){0,4}"
            r"(?:(?:python|java|c\+\+|sql|html)[-\s]?code|quellcode|programm|skript|gedicht|gedichte|lied|songtext|"
            r"aufsatz|essay|geschichte|märchen|roman|manifest|rede|hausaufgaben?|c\+\+|python)(?!\w)|"
            r"\b(?:do|solve|finish)\s+my\s+(?:\w+\s+)?(?:homework|assignment|essay|exam|coursework)\b",
            _I | re.MULTILINE,
        ),
    ),
    Rule(
        "make_it_up",
        "instruction_override",
        WEAK,
        # Asking the bot to invent an answer rather than say it does not know. Only "something / an
        # answer / facts" as the object: "make it up to me", "make it up the hill", "make one up for
        # the form" are customer talk.
        re.compile(
            r"(?:^|[.!?:;,]\s*|\b(?:just|simply|then|please|pls|so|or)\s+)(?:make|making)\s+"
            r"(?:something|stuff|things|an?\s+answer|an?\s+reply)\s+up\b|"
            r"\bmake\s+up\s+(?:something|an?\s+answer|an?\s+reply|some\s+facts|facts|an?\s+response)\b|"
            r"\b(?:invent|fabricate)\s+(?:an?\s+|some\s+)?(?:answer|reply|response|facts)\b|"
            r"\b(?:erfinde|denk\s+dir)\s+(?:etwas|was|eine\s+antwort)\b",
            _I | re.MULTILINE,
        ),
    ),
    Rule(
        "invent_if_unknown",
        "instruction_override",
        STRONG,
        # "If you don't know, make something up": told to invent rather than admit not knowing.
        re.compile(
            r"\bif\s+you\s+(?:don'?t|do\s+not|can'?t|cannot|are\s+not\s+sure)\s+(?:know|find)\b[^.!?\n]{0,30}?"
            r"\b(?:make\s+(?:something|stuff|things|it|one|an?\s+answer)\s+up|make\s+up\s+(?:something|an?\s+answer)|"
            r"invent\s+(?:something|an?\s+answer|one)|fabricate|(?:just\s+)?lie\s+to\s+(?:me|us)|just\s+lie)\b|"
            r"\bwenn\s+du\s+(?:es\s+|das\s+)?nicht\s+weißt\b[^.!?\n]{0,30}?\b(?:erfinde|denk\s+dir\s+(?:etwas|was)\s+aus|lüge)\b",
            _I,
        ),
    ),
    Rule("evil_ai_persona", "role_play", STRONG, check=_phrase_after(_EVIL_AI, _BECOME, 50)),
    Rule(
        "identity_opinion",
        "role_play",
        WEAK,
        # "You are <someone>. What do you think of ...?" / "Du bist <jemand>. Wie findest du ...?": the bot
        # given another identity (a name, "the <something>", "a <something>", "three <somethings>") and
        # asked for that identity's opinion. Not praise or agreement ("You are right. What do you think
        # ...", "You are the best / a great help. ..."), and not formal "Sie sind ..." (customer talk:
        # "Sie sind sehr freundlich. Was meinen Sie ...").
        re.compile(
            r"(?:^|[.!?]\s+)(?:(?:ok(?:ay)?|so|now|jetzt|nun)[.,!]?\s+)?(?:you\s+are|you're|du\s+bist)\s+"
            r"(?:now\s+|jetzt\s+|nun\s+)?(?:(?:a|an|the|my|ein|eine|einen|der|die|das|mein|meine)\s+|"
            r"(?=(?-i:[A-Z0-9]))|(?=(?:two|three|four|five|zwei|drei|vier|fünf)\b))"
            r"(?!(?:best|greatest|worst|nicest|kindest|most|only|same|one|first|last|great|good|real|true|big|huge|"
            r"star|legend|genius|gem|hero|lifesaver|beste|größte|tollste|liebste|einzige|wahre|echte|schatz|engel|"
            r"held|experts?|professionals?|profis?|shop|store|company|händler|laden)\b)"
            r"(?:[\w'-]+\s+){0,5}?[\w'-]+\s*[.,:;!]\s*(?:(?:as|als)\s+(?:[\w'-]+\s+){0,3}?[\w'-]+\s*,\s*)?"
            r"(?:what\s+do\s+you\s+think|how\s+do\s+you\s+(?:like|feel|rate|find)|what(?:'s|\s+is)\s+your\s+(?:opinion|view|take)|"
            r"tell\s+me\s+what\s+you\s+think|wie\s+findest\s+du|was\s+hältst\s+du|was\s+denkst\s+du|"
            r"was\s+ist\s+deine\s+meinung|wie\s+stehst\s+du|wer\s+ist|who\s+is)\b",
            _I | re.MULTILINE,
        ),
    ),
    Rule(
        "persona_assignment",
        "role_play",
        WEAK,
        re.compile(
            # "You are a <person / role>." opening a sentence, then a task or question for that persona
            # ("You are a famous chef. What should I cook?", "Be a fortune teller. Tell me ..."). A role
            # noun is required: "You are a great help / based in Munich / closing at 6 / out of stock",
            # "Sie sind sehr freundlich" are customer talk.
            r"(?:^|[.!?]\s+)(?:(?:ok(?:ay)?|so|now|and\s+now|jetzt|nun)[.,!]?\s+)?"
            r"(?:you\s+are|you're|du\s+bist|bist\s+du|be|sei)\s+(?:now\s+|jetzt\s+)?(?:a|an|ein|eine|einen)\s+"
            r"(?:[\w-]+\s+){0,2}(?:chef|cook|politician|journalist|newspaper|reporter|teacher|professor|tutor|doctor|lawyer|poet|writer|author|novelist|comedian|philosopher|historian|scientist|psychic|fortune\s+teller|therapist|psychologist|priest|pirate|celebrity|actor|actress|influencer|programmer|coder|hacker|translator|rapper|singer|songwriter|screenwriter|judge|detective|spy|king|queen|president|dictator|general|soldier|wizard|witch|god|prophet|guru|sage|critic|economist|analyst|consultant|investor|stockbroker|trader|astrologer|storyteller|character|villain|hero|superhero|politiker(?:in)?|journalist(?:in)?|lehrer(?:in)?|arzt|ärztin|anwalt|anwältin|dichter(?:in)?|schriftsteller(?:in)?|philosoph(?:in)?|wahrsager(?:in)?|pirat|zauberer|könig(?:in)?|zeitung)\s*[.,:;!]\s*"
            r"(?:(?:as|als)\s+|what|how|why|who|which|tell|give|write|say|answer|explain|describe|"
            r"wie|was|warum|wer|welche\w*|sag|schreib|gib|erkläre?)\b",
            _I | re.MULTILINE,
        ),
    ),
    Rule(
        "you_are_now",
        "role_play",
        WEAK,
        re.compile(
            r"\b(?:you\s+are|you're|du\s+bist|jetzt\s+bist\s+du|nun\s+bist\s+du)\s+(?:now|no\s+longer|jetzt|nun)\b", _I
        ),
    ),
    Rule(
        "you_are_no_longer",
        "role_play",
        STRONG,
        re.compile(
            r"\b(?:you\s+are|you're)\s+(?:no\s+longer|not\s+(?:a|an|the)\s+(?:chatbot|assistant|ai|language\s+model|"
            r"support\s+bot|newspaper))|\byou\s+are\s+now\s+(?:a|an|in|called|going|free|my|the)\b",
            _I,
        ),
    ),
    Rule(
        "act_as",
        "role_play",
        WEAK,
        re.compile(
            # "act as if I'm a beginner" asks the bot to treat the customer some way; it assigns no persona.
            r"\b(?:act(?:ing)?\s+as\s+(?:a|an|my|the|(?:if|though)\b(?!\s+(?:i|i'm|we|we're|my)\b))|"
            r"pretend(?:ing)?\s+(?:to\s+be|you|that\s+you)|"
            r"imagine\s+(?:you\s+are|you're|that\s+you(?:'re|\s+are))\s+(?:a|an|the|now|no\s+longer|in\s+a)\b|"
            r"role[- ]?play|"
            r"play\s+the\s+role|you\s+will\s+be\s+playing|stell\s+dir\s+vor|tu\s+so\s+als|fungieren|"
            r"in\s+the\s+style\s+of|im\s+stil(?:e)?\s+(?:eines|einer|eine)|(?:respond|answer|reply)\s+as\s+(?!soon|quickly|fast|"
            r"much|well|often|possible|usual|before|promised|agreed|discussed)|"
            r"stay\s+in\s+(?:character|role)|in\s+deiner\s+rolle|in\s+their\s+roles?)\b",
            _I,
        ),
    ),
    Rule(
        "you_are_a_bot_who",
        "role_play",
        WEAK,
        re.compile(
            r"\b(?:you\s+are|you're|you\s+will\s+be|let'?s\s+say\s+you(?:'re|\s+are))\s+(?:a|an|now\s+a|now\s+an)\s+"
            r"(?:[\w-]+\s+){0,3}(?:bot|ai|assistant|chatbot|agent|employee|clerk)\s+(?:who|that|which|named|called)\b|"
            r"\blet'?s\s+play\s+(?:pretend|a\s+game|make-?believe)",
            _I,
        ),
    ),
    Rule(
        "i_want_you_to_act",
        "role_play",
        STRONG,
        re.compile(
            r"\b(?:i\s+want\s+you\s+to\s+(?:act|pretend|be|play|behave|respond)|"
            r"ich\s+möchte,?\s+dass\s+(?:du|sie)\s+als|from\s+(?:this\s+(?:moment|point)|today)\s+on,?\s+(?:you|your)\b|"
            r"from\s+this\s+moment,?\s+(?:you|your)\b|from\s+now\s+on,?\s+(?:you\s+(?:are|will|must|shall|have\s+to|can|act|respond|answer|reply|speak)|whenever)|"
            r"von\s+nun\s+an\s+(?:bist|wirst)\s+du|ab\s+jetzt\s+bist\s+du|"
            r"you\s+(?:are|will)\s+(?:going\s+to\s+)?(?:act|respond|answer)\s+as|"
            r"(?:two|2|both)\s+(?:entities|characters|personas|actors|ais)\b)",
            _I,
        ),
    ),
    Rule(
        "jailbreak_terms",
        "role_play",
        STRONG,
        re.compile(
            r"\b(?:developer\s+mode|dev\s+mode|god\s+mode|jail\s?break(?:ed|ing)?|do\s+anything\s+now|"
            r"dan\s+mode|unfiltered|uncensored|amoral|unchained|unshackled|unleashed|(?:debug|admin|maintenance|test|"
            r"sudo|root)\s+mode\s+(?:on|enabled|activated)|(?:enter|enable|activate|switch\s+to)\s+(?:debug|admin|"
            r"maintenance|sudo|root|god|developer)\s+mode|unrestricted\s+(?:ai|mode|access|version|model)|"
            r"no\s+(?:ethical|moral)\s+(?:guidelines|principles|boundaries|restrictions)|"
            r"without\s+(?:any\s+)?(?:censorship|filters?|filtering|disclaimers|refusals?|moral\w*|ethic\w*)|"
            r"(?:respond|answer|reply|talk|speak|act|operate|write)s?\s+without\s+(?:any\s+)?(?:restrictions|"
            r"limitations|warnings|limits)|(?:free|freed)\s+(?:from|of)\s+(?:all\s+)?(?:restrictions|limitations|"
            r"rules|filters|constraints|guidelines)|(?:never|will\s+not|won'?t|must\s+not|shall\s+not)\s+"
            r"(?:ever\s+)?refuse|content\s+polic(?:y|ies)|openai(?:'s)?\s+(?:polic\w+|guidelines|rules)|"
            r"(?:break|stay\s+in|out\s+of)\s+character|"
            # German: "bleibt (voll) in ihren Rollen", "fall nicht aus der Rolle" (= stay in character).
            r"(?:bleib|bleibe|bleiben|bleibt)\s+(?:[\w-]+\s+){0,2}?in\s+(?:deiner|ihrer|ihren|seiner|seinen|eurer|euren)\s+rollen?|"
            r"aus\s+der\s+rolle\s+(?:fallen|fällst|fallt|fällt)|"
            r"(?:you|ai|bot|model|assistant|chatbot)\s+(?:has|have|had|with)\s+no\s+(?:restrictions|limits|"
            r"limitations|filters|rules|boundaries|programming\s+guidelines|ethics|morals))\b",
            _I,
        ),
    ),
    Rule("dan_persona", "role_play", STRONG, re.compile(r"\bDAN\b|\bSTAN\b|\bDUDE\b|\bAIM\b(?=[\s,.:])")),
    Rule(
        "persona_prefix",
        "role_play",
        STRONG,
        re.compile(
            r"\[(?:🔓|🔒|jailbreak|classic|dan|gpt|chatgpt|[a-z]{2,20}gpt|developer)[^\]]{0,20}\]|"
            r"\b(?:chatgpt|gpt-?[34]|llm|language\s+model|ai\s+model)\b.{0,60}\b(?:simulat|emulat|persona|"
            r"character|respond\s+as|two\s+(?:different\s+)?(?:responses|paragraphs))",
            _I,
        ),
    ),
    Rule("long_role_setup", "role_play", STRONG, check=_long_role_setup),
    # --- prompt extraction -----------------------------------------------------------------------------
    Rule(
        "system_prompt",
        "prompt_extraction",
        STRONG,
        re.compile(
            r"\bsystem\s?prompts?\b|\b(?:hidden|secret|internal|pre|initial|original)[\s-]?prompts?\b|"
            r"\byour\s+(?:system|hidden|secret|internal|initial|original|full|whole|entire|exact)\s+"
            r"(?:prompt|message|instructions|rules|configuration)\b|\bprompt[\s_-]?texte?s?\b|"
            r"\byour\s+prompts?\b(?!\s+(?:reply|replies|response|answer|service|delivery|attention|help|action|"
            r"support|shipping|dispatch|refund|payment|reaction|assistance))|"
            r"\b(?:deine[mn]?|ihre[mn]?)\s+(?:gesamten\s+)?prompt",
            _I,
        ),
    ),
    Rule(
        "reveal_instructions",
        "prompt_extraction",
        STRONG,
        re.compile(
            r"\b(?:reveal|print|show|display|tell|give|output|repeat|list|share|leak|dump|paste|recite|spell\s+out|"
            r"copy|write\s+out|what\s+(?:are|were|is))\s+(?:me\s+|us\s+)?(?:all\s+|exactly\s+|verbatim\s+)?(?:of\s+)?"
            r"(?:your|the\s+bot'?s|the\s+assistant'?s)\s+(?:(?:full|exact|original|initial|hidden|secret|system|"
            r"internal|complete|entire|current|real|first)\s+)?(?:instructions|prompt|rules\s+you|guidelines|"
            r"configuration|directives|system\s+message|programming|training\s+data)\b"
            r"(?!\s+(?:for|on|to|about|regarding|when|if|with)\b)",
            _I,
        ),
    ),
    Rule(
        "text_above",
        "prompt_extraction",
        STRONG,
        re.compile(
            r"\b(?:(?:the\s+)?(?:text|words|sentences?|content|what\s+(?:is|was)\s+written)\s+(?:written\s+)?"
            r"(?:above(?!\s+(?:my|the|your|a|an|it|this|that|his|her|our)\b)|before\s+(?:this|the\s+text|my\s+message))|(?:print|repeat|show|translate|summari[sz]e|"
            r"output|display|spell-?\s?check)\s+(?:me\s+)?(?:everything|all)\s+(?:of\s+)?(?:the\s+text\s+)?above|(?:beginning|start)\s+of\s+(?:this|the|your)\s+"
            r"(?:prompt|conversation|context|instructions)|above\s+prompt|"
            r"(?:starting|beginning)\s+with\s+[\"'“„]?you\s+are|"
            r"repeat\s+(?:the\s+)?(?:words|text|everything|all)\s+(?:above|before)|"
            r"spell-?\s?check\s+(?:and\s+(?:print|display|show)\s+)?(?:all\s+of\s+)?(?:the\s+)?(?:text\s+above|above|this\s+prompt)|"
            r"information\s+in\s+the\s+prompt)\b",
            _I,
        ),
    ),
    Rule(
        "what_are_your_instructions",
        "prompt_extraction",
        STRONG,
        re.compile(
            r"\bwhat\s+(?:are|were)\s+(?:your|the)\s+(?:exact\s+|original\s+|initial\s+)?(?:instructions|directives)\b"
            r"(?!\s+(?:for|on|to|about|if|when|in\s+case)\b)|\bhow\s+were\s+you\s+(?:instructed|prompted|configured)\b|"
            r"\bwho\s+(?:wrote|programmed|created)\s+your\s+(?:prompt|instructions|rules)",
            _I,
        ),
    ),
    # --- pasted payloads / role markers --------------------------------------------------------------
    Rule(
        "role_markers",
        "pasted_payload",
        STRONG,
        re.compile(
            # Line starts are `^` under re.MULTILINE with `[^\S\n]*` (spaces, not newlines) after it: the
            # former `(?:^|\n)\s*[\[{(<$]?\s*` let two `\s*` share every run of blank lines, which
            # backtracked for 17-35 s on 2,000 characters of "\n \n \n ...".
            r"<\|?[^\S\n]*(?:im_start|im_end|system|endoftext|assistant|user)[^\S\n]*\|?>|\[/?INST\]|<</?SYS>>|"
            r"(?<!#)#{2,}[^\S\n]*(?:system|instruction|instructions|assistant|new\s+rules?)\b|"
            # (A line-start label like "System:" or "User:" is the separate rule below: weak on its own.)
            r"[$\[{][^\S\n]*system\b|\bsystem\s+(?:announcement|override)\b|"
            # What is left of "<|im_start|>system" once the input sanitiser has stripped the tags.
            r"^[^\S\n]*(?:system|assistant)[^\S\n]*\n",
            _I | re.MULTILINE,
        ),
    ),
    Rule("role_label_instruction", "pasted_payload", STRONG, check=_role_label_strong),
    Rule("role_label", "pasted_payload", WEAK, check=_role_label_weak),
    Rule(
        "end_of_context",
        "pasted_payload",
        STRONG,
        re.compile(
            r"\bend\s+of\s+(?:the\s+)?(?:document|context|prompt|instructions)\b|"
            r"(?:\\n|\\\s?n\s*){3,}|(?<!-)-{3,}\s*(?:new|begin|start)\b|\bbegin\s+(?:new\s+)?(?:instructions|prompt)\b",
            _I,
        ),
    ),
    Rule(
        "hidden_instruction",
        "pasted_payload",
        STRONG,
        re.compile(
            r"\b(?:p\.?\s?s\.?|note|message|instruction|reminder)\s+(?:to|for)\s+(?:the\s+|any\s+)?(?:ai|bot|assistant|"
            r"chatbot|model|llm|language\s+model|support\s+bot|ai\s+assistant)\b|"
            r"\b(?:to|for)\s+(?:the\s+|any\s+)?(?:ai|llm|language\s+model|chatbot|ai\s+assistant)\s*:|\b(?:ai|bot|assistant|chatbot|llm)s?\s+(?:reading|processing|"
            r"summari[sz]ing)\s+this\b|\bif\s+you\s+are\s+an?\s+(?:ai|bot|assistant|language\s+model|llm)\b",
            _I,
        ),
    ),
    Rule(
        "pasted_context",
        "pasted_payload",
        WEAK,
        re.compile(
            r"(?:^|\s)(?:document\s+context|context|kontext|\$documents?)\s*[:{]|"
            r"\b(?:instruction|anweisung)\s*:",
            _I,
        ),
    ),
    # --- policy coercion (retail specific) ----------------------------------------------------------
    Rule(
        "authority_claim",
        "policy_coercion",
        STRONG,
        re.compile(
            r"\b(?:as|i\s+am|i'm|this\s+is|speaking\s+as)\s+(?:the\s+|a\s+|an\s+|your\s+|[\w-]+'s?\s+)?"
            r"(?:store\s+|shop\s+|regional\s+|general\s+|branch\s+|customer\s+service\s+|support\s+)?"
            r"(?:manager|store\s+owner|shop\s+owner|supervisor|administrator|admin|developer|ceo|director|"
            r"head\s+of\s+\w+|system\s+operator|operator|staff\s+member|employee)\b.{0,120}"
            r"\b(?:authori[sz]e|approve|override|instruct\s+you|command\s+you|order\s+you|grant|permit\s+you|"
            r"allow\s+you|tell\s+you\s+to|telling\s+you\s+to|give\s+you\s+permission|you\s+(?:must|are\s+to|have\s+to))",
            _I | re.DOTALL,
        ),
    ),
    Rule(
        "regardless_of_policy",
        "policy_coercion",
        STRONG,
        re.compile(
            r"\b(?:regardless\s+of|no\s+matter\s+what|irrespective\s+of|ignoring|"
            r"(?:ignore|bypass|override|skip|waive|forget)\s+(?:the|your|any|all)?)\s*"
            r"(?:the\s+|your\s+|any\s+|what\s+(?:the|your)\s+)?(?:store\s+|company\s+|refund\s+|return\s+|"
            r"warranty\s+)?(?:polic(?:y|ies)|rules?|terms(?:\s+and\s+conditions)?|t&cs?|guidelines)"
            r"(?:\s+says?)?.{0,80}\b(?:refund|discount|voucher|free|compensat|replace|credit|money\s+back|"
            r"return|warranty|promise|guarantee|approve|confirm)",
            _I | re.DOTALL,
        ),
    ),
    Rule(
        "benefit_regardless",
        "policy_coercion",
        STRONG,
        re.compile(
            r"\b(?:refund|discount|voucher|free|compensat\w*|replace\w*|credit|money\s+back|return|exception)\b"
            r".{0,80}\b(?:regardless\s+of|no\s+matter\s+what|irrespective\s+of|even\s+if\s+(?:the|your)\s+"
            r"(?:policy|rules|terms)\s+says?)\s+(?:the\s+|your\s+|any\s+|what\s+(?:the|your)\s+)?(?:store\s+|"
            r"company\s+|refund\s+|return\s+|warranty\s+)?(?:polic(?:y|ies)|rules?|terms|t&cs?|guidelines|"
            r"conditions|return\s+window|warranty)",
            _I | re.DOTALL,
        ),
    ),
    Rule(
        "tell_customers",
        "policy_coercion",
        STRONG,
        re.compile(
            r"\b(?:tell|inform|promise|assure|notify)\s+(?:the\s+|every\s+|all\s+|our\s+|future\s+)?"
            r"(?:customers?|users?|everyone|visitors|buyers)\s+(?:that|the|they)\b|"
            r"\b(?:the\s+)?(?:return\s+window|return\s+period|warranty(?:\s+period)?|refund\s+policy)\s+"
            r"(?:is|are)\s+now\s+(?:\d|unlimited|extended|lifetime|forever|one|two|three|a\s+(?:year|month|week))|"
            r"\bfrom\s+now\s+on,?\s+(?:all\s+)?(?:refunds?|returns?|discounts?|orders?|shipping|deliver\w*)\b",
            _I,
        ),
    ),
    Rule(
        "promise_refund",
        "policy_coercion",
        WEAK,
        re.compile(
            r"\b(?:you\s+(?:must|have\s+to|will|need\s+to)|i\s+(?:order|command|instruct)\s+you\s+to)\s+"
            r"(?:promise|guarantee|confirm|approve|authori[sz]e|grant|issue|give\s+me)\s+(?:me\s+)?"
            r"(?:a\s+|an\s+|the\s+|my\s+)?(?:full\s+|100\s?%\s+)?(?:refund|discount|voucher|free|compensation|"
            r"exception|replacement)",
            _I,
        ),
    ),
    Rule(
        "you_are_authorised",
        "policy_coercion",
        STRONG,
        re.compile(
            r"\byou\s+(?:are|have\s+been)\s+(?:now\s+)?(?:authori[sz]ed|allowed|permitted|empowered|cleared)\s+to\s+"
            r"(?:give|grant|issue|promise|approve|offer|make|ignore|override|waive|bypass|refund)",
            _I,
        ),
    ),
)


def hits(text: str) -> list[Hit]:
    """Every rule that matches `text` (one hit per rule), in rule order."""
    found: list[Hit] = []
    for rule in RULES:
        match = rule.search(text)
        if match is not None:
            found.append(Hit(rule.name, rule.category, rule.strength, match[:80]))
    return found
