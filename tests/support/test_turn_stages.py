"""The turn's stages are written down once (support.pipeline.run.STAGES), documented in that
order (docs/architecture.md) and run in that order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import services
from support.pipeline import run

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def documented_stages() -> list[str]:
    """The first column of the architecture page's stage table (the table whose header starts `| stage |`)."""
    lines = ARCHITECTURE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\|\s*stage\s*\|", line))
    names = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        names.append(re.match(r"\|\s*`([a-z_]+)`", line).group(1))
    return names


def test_the_architecture_page_lists_the_stages_in_the_order_they_run():
    assert documented_stages() == list(run.STAGES)


@pytest.mark.django_db
@pytest.mark.usefixtures("answer_freely")
def test_a_grounded_turn_runs_every_stage_in_order(demo_kb):
    conversation = services.conversation_create().conversation
    result = services.message_post(conversation=conversation, text="How many days do I have to return an e-bike?")
    assert result.reply.kind == "grounded"
    assert list(result.stage_ms) == list(run.STAGES)
    # what is recorded with the reply: every stage up to the record itself
    assert list(result.reply.stage_ms) == list(run.STAGES[:-1])
