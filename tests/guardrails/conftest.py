"""Fixtures for the input-guard tests: the real database and the real embedding model."""

from __future__ import annotations

import numpy as np
import pytest

from core.embeddings import embed_query
from core.text import question_key
from guardrails import scoring, services, training


@pytest.fixture
def patterns(db) -> int:
    """The seed signature database (team + public-train patterns), as the pipeline loads it."""
    services.patterns_ensure_loaded()
    from guardrails.models import InjectionPattern

    return InjectionPattern.objects.count()


def vector_for(text: str) -> np.ndarray:
    """The vector the pipeline computes for a sanitised message."""
    return embed_query(question_key(text))


def score(text: str) -> scoring.GuardResult:
    """Score a raw customer message the way the pipeline does (sanitise, embed, score)."""
    message = training.as_message(text)
    return scoring.score_message(message, vector_for(message))
