"""Split a message that carries pasted content into segments, so that each is scored on its own.

A pasted e-mail, table or report with one instruction in the middle scores as the document when it
is scored whole: the embedding and the n-grams average the instruction away. Split into lines and
sentences, the instruction is a segment of its own, and the message is as suspicious as its worst
segment (LLM Guard's per-sentence mode does the same).

Which segments are the customer's own: the short lead line ("Can you summarise this e-mail?") and a
short closing question. Everything between is *pasted*; an instruction aimed at the assistant, the AI
or the system inside pasted material is the signal (`ADDRESSED_INSTRUCTION`): a forwarded e-mail has
no reason to give orders to the bot that reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lines that mark pasted material: e-mail headers (English and German), table rows, quoted lines.
_HEADER = re.compile(
    r"^[ \t]*(?:from|to|cc|bcc|subject|date|sent|reply-to|von|an|betreff|datum|gesendet|de|objet|envoyé)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_TABLE_ROW = re.compile(r"^.*(?:\|.*\||\t.*\t).*$", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]*>", re.MULTILINE)
_FENCE = re.compile(r"```|\"\"\"|'''|-{3,}|={3,}|\*{3,}|#{2,}")
# A sentence ends at . ! ? (or a closing quote after one) before a blank and a capital, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9ÄÖÜ])")
_CELL = re.compile(r"\s*(?:\||\t)\s*")
# A task on pasted text, set off by a colon: "Translate into French: …", "Summarise this review: …".
_TASK_LEAD = re.compile(
    r"^\W{0,3}(?:(?:please|pls|can\s+you|could\s+you|would\s+you|kindly)\s+)?"
    r"(?:translate|summari[sz]e|proofread|correct|rewrite|paraphrase|classify|analy[sz]e|review|check|edit|"
    r"shorten|format|extract|explain|übersetze|fasse|korrigiere|traduis|vertaal|resume|traduce)\b[^:\n]{0,120}:\s*",
    re.IGNORECASE,
)
# A task lead counts when at least this much pasted text follows it.
TASK_MIN_PASTED_CHARS = 40

# The customer's own lead line or closing question is at most this long.
OWN_LINE_CHARS = 200
# A message is treated as carrying a pasted block when it has this many lines or sentences …
PASTED_MIN_PARTS = 3
# … or this many characters after a short first line.
PASTED_MIN_BLOCK_CHARS = 240
# Segments shorter than this (characters) are table punctuation or header stubs, not scored.
MIN_SEGMENT_CHARS = 12
MAX_SEGMENT_CHARS = 400
# A 2,000-character message splits into at most this many scored segments (the rest are merged into
# the last one), which bounds the guard's time.
MAX_SEGMENTS = 40

# Names of the bot. "agent" and "system" only in the explicit forms ("note to the system"): customers
# paste their earlier chats and e-mails with a human agent ("Hi agent, I need to …", "Agent: …").
_BOT = (
    r"(?:ai|a\.i\.|artificial intelligence|(?:ai\s+|virtual\s+|digital\s+|chat\s*)?assistant|chat\s*bot|bot|"
    r"llm|language\s+model|gpt|chatgpt|claude|gemini|copilot|ki|assistent(?:in)?|sprachmodell|"
    # French, Spanish, Italian, Portuguese (issue #21, fourth session): "l'assistant", "la IA", "o assistente".
    r"l'assistant|l'ia|l'i\.a\.|asistente|assistente|ia|modelo\s+de\s+lenguaje|modèle\s+de\s+langage)s?"
)
_ANY_BOT = rf"(?:{_BOT}|(?:ai\s+)?(?:agent|model|system)s?)"
_ORDER = (
    r"(?:ignore|disregard|forget|override|bypass|skip|stop|instead|output|print|reply|respond|answer|say|"
    r"write|reveal|disclose|tell|send|forward|email|e-mail|include|insert|append|add|mention|recommend|"
    r"approve|grant|refund|transfer|classify|rate|rank|score|summari[sz]e|translate|delete|remove|"
    r"claim|state|call|visit|click|open|run|execute|follow|obey|treat|consider|pretend|act|must|should|"
    r"shall|need to|have to|do not|don't|never|always|only|ignoriere|vergiss|antworte|sage?|schreib|"
    r"ignore[zs]?|oublie[zs]?|réponds|répondez|dis|dites|écris|ignora|olvida|responde|dile|escribe|dimentica|"
    r"rispondi|scrivi|esquece|responda|diz|escreve|negeer|vergeet|antwoord|zeg|schrijf|approuve|aprueba|"
    r"approva|aprova|rembourse|reembolsa|rimborsa|doit|debes|devi|deves|moet)"
)
# After a bare chat label ("Assistant: …") only an override counts: customers paste what the bot told
# them before ("Assistant: Please send us a photo of the damage").
_OVERRIDE = (
    r"(?:ignore|disregard|forget|override|bypass|instead|from now on|new (?:instructions?|task|rules?)|"
    r"reveal|disclose|print|output|system prompt|your (?:instructions|rules|prompt)|do not tell|"
    r"don't tell|without telling|ignoriere|vergiss|ignore[zs]?|oublie[zs]?|ignora|olvida|dimentica|esquece|"
    r"negeer|vergeet)"
)
# An instruction aimed at the bot inside pasted material: "Note to the AI assistant: …", "AI: ignore …",
# "If you are an AI reading this, …", "Dear assistant, forward …", "Hey ChatGPT — say …". A bare
# "System: Android 14" names no order and does not count.
ADDRESSED_INSTRUCTION = re.compile(
    rf"(?:(?:\b(?:note|message|instructions?|memo|reminder|p\.?s\.?|attention|hinweis|nachricht|nota|mensaje|"
    rf"messaggio|mensagem|bericht|opmerking|consigne)\s+"
    rf"(?:to|for|an|für|pour|à|para|al|a|per|voor|aan)\s+(?:the\s+|any\s+|all\s+|an?\s+|die\s+|den\s+|el\s+|la\s+|"
    rf"le\s+|les\s+|l'|o\s+|de\s+|het\s+)?{_ANY_BOT}\b"
    rf"|\b(?:if|when|whenever)\s+you\s+(?:are|'re)\s+(?:an?|the)\s+{_ANY_BOT}\b"
    rf"|\b(?:si\s+(?:tu\s+es|vous\s+êtes|eres)|se\s+(?:sei|és|você\s+é)|wenn\s+du|falls\s+du|als\s+je)\s+"
    rf"(?:une?\s+|una?\s+|un'|um\s+|uma\s+|eine?\s+|een\s+)?{_ANY_BOT}\b"
    rf"|\b(?:to|for)\s+(?:any|all|every|the)\s+{_ANY_BOT}\s+(?:reading|processing|summari[sz]ing|parsing|"
    rf"handling|reviewing|analy[sz]ing)\b"
    rf"|\b(?:dear|hey|hi|hello|attention|ok|okay|liebe[rs]?|hallo|cher|chère|bonjour|salut|querid[oa]|hola|"
    rf"car[oa]|ciao|olá|hoi)\s+(?:the\s+|dear\s+)?{_BOT}\b)"
    rf"[^\n]{{0,160}}?\b{_ORDER}\b"
    rf"|^\W{{0,3}}(?:the\s+)?{_ANY_BOT}\s*(?:[:,;!\u2014\u2013]|-\s)[^\n]{{0,120}}?\b{_OVERRIDE}\b)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Segment:
    """One line, sentence or table cell of a message; `pasted` when it lies inside pasted material."""

    index: int
    text: str
    pasted: bool


def has_pasted_content(text: str) -> bool:
    """Whether the message carries pasted material (an e-mail, a table, a quote, a long block)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if _task_lead(text):
        return True
    if _HEADER.search(text) or _QUOTE.search(text) or len(_TABLE_ROW.findall(text)) >= 2:
        return True
    if len(lines) >= PASTED_MIN_PARTS or (len(lines) >= 2 and _FENCE.search(text)):
        return True
    first = lines[0] if lines else ""
    rest = len(text) - len(first)
    if len(lines) >= 2 and len(first) <= OWN_LINE_CHARS and rest >= PASTED_MIN_BLOCK_CHARS:
        return True
    return len(text) >= 2 * PASTED_MIN_BLOCK_CHARS and len(_SENTENCE_END.findall(text)) + 1 >= 2 * PASTED_MIN_PARTS


def _task_lead(text: str) -> re.Match[str] | None:
    match = _TASK_LEAD.match(text)
    return match if match and len(text) - match.end() >= TASK_MIN_PASTED_CHARS else None


def split_sentences(text: str) -> list[str]:
    """A paragraph's sentences (blank-trimmed, empty ones dropped)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _pieces(line: str) -> list[str]:
    """A line's sentences; a table row's cells; long pieces cut at the length bound."""
    if line.count("|") >= 2 or line.count("\t") >= 2:
        parts = [c for c in _CELL.split(line) if c.strip()]
    else:
        parts = _SENTENCE_END.split(line)
    out: list[str] = []
    for part in parts:
        part = part.strip()
        while len(part) > MAX_SEGMENT_CHARS:
            cut = part.rfind(" ", 0, MAX_SEGMENT_CHARS)
            cut = cut if cut > MAX_SEGMENT_CHARS // 2 else MAX_SEGMENT_CHARS
            out.append(part[:cut])
            part = part[cut:].strip()
        if part:
            out.append(part)
    return out


def split(text: str) -> list[Segment]:
    """The message's segments (empty when it carries no pasted material: it is then scored whole).
    The first segment is the customer's own when its line is short and more follows; so is the last
    when it is a short question."""
    if not has_pasted_content(text):
        return []
    lead = _task_lead(text)
    if lead is not None:
        # The task is the customer's own line; what follows the colon is the pasted text.
        text = text[: lead.end()].strip() + "\n" + text[lead.end() :]
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    raw: list[tuple[int, str]] = []  # (line number, piece)
    for number, line in enumerate(lines):
        raw.extend((number, piece) for piece in _pieces(line))
    raw = [(n, p) for n, p in raw if len(p) >= MIN_SEGMENT_CHARS]
    if len(raw) > MAX_SEGMENTS:
        tail = " ".join(p for _, p in raw[MAX_SEGMENTS - 1 :])
        raw = [*raw[: MAX_SEGMENTS - 1], (raw[MAX_SEGMENTS - 1][0], tail[: 4 * MAX_SEGMENT_CHARS])]
    if not raw:
        return []
    own = set()
    if len(lines) >= 2 and len(lines[0]) <= OWN_LINE_CHARS:
        own.update(i for i, (n, _) in enumerate(raw) if n == 0)
    elif len(raw[0][1]) <= OWN_LINE_CHARS:
        own.add(0)  # one long line: its first sentence is the customer's lead
    last_line = raw[-1][0]
    if last_line > 0 and len(lines[last_line]) <= OWN_LINE_CHARS and lines[last_line].rstrip().endswith("?"):
        own.update(i for i, (n, _) in enumerate(raw) if n == last_line)
    return [Segment(i, piece, i not in own) for i, (_, piece) in enumerate(raw)]


def addressed_instruction(segment: Segment) -> str | None:
    """The words of an instruction aimed at the bot inside pasted material, or None."""
    if not segment.pasted:
        return None
    match = ADDRESSED_INSTRUCTION.search(segment.text)
    return match.group(0) if match else None
