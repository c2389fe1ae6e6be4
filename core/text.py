"""Text keys and estimates every app shares, each written once."""

from __future__ import annotations

CHARS_PER_TOKEN = 4  # a budget estimate for English prose; exact counts need the tokenizer


def collapse(text: str) -> str:
    """Runs of whitespace as one space, ends trimmed."""
    return " ".join(text.split())


def normalize_question(text: str) -> str:
    """'The same question': spacing and end punctuation do not matter.

    Case is kept: it tells where a run-on message's question starts. Every
    stage that compares words is case-blind anyway (the embedding model is
    uncased, full-text search and the lexicon lower-case)."""
    return collapse(text).rstrip("?!. ")


def question_key(text: str) -> str:
    """What is embedded for a question. Every place that embeds a question (the
    chat turn, approved-answer variants, the curators' try box, the injection
    guard) uses this, so the same question always gets the same vector. A
    message of punctuation alone keeps its punctuation."""
    return (normalize_question(text) or collapse(text)).lower()


def estimate_tokens(text: str) -> int:
    """Tokens of a text for budgets and cost figures: characters / 4."""
    return len(text) // CHARS_PER_TOKEN
