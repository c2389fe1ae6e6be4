"""The demo question set, scored through the real pipeline, held to thresholds.
Figures and their history are in docs/quality.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from support import evaluation

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
QUESTIONS = Path(__file__).resolve().parents[2] / "demo" / "questions.jsonl"


def test_demo_question_set_meets_its_thresholds(demo_kb):
    rows = evaluation.load_rows(QUESTIONS)
    assert len(rows) >= 40 and sum(r.expected_kind == "escalated" for r in rows) >= 10
    summary = evaluation.evaluate(rows).summary
    # Floors at what the learned reader does on the demo today (docs/quality.md): it escalates nearly
    # every question (1 of 32 correct, none wrong), because it is rarely sure enough that a wrong answer
    # is worth risking. The word-list rules it replaced scored 0.56 here because they were written for
    # this shop.
    assert summary["retrieval_hit_at_5"] >= 0.95, summary
    assert summary["answered_correctly"] >= 0.03, summary
    assert summary["wrong"] <= 1, summary
    assert summary["unanswerable_escalated"] >= 0.90, summary
    assert summary["vague_clarified"] == 1.0, summary


def test_evaluate_command_fails_loudly_below_a_threshold(demo_kb, tmp_path, capsys):
    one = tmp_path / "q.jsonl"
    one.write_text(
        '{"question": "Do you sell tandem bikes?", "expected_kind": "grounded", '
        '"expected_document": "x.md", "must_contain": ["tandem"]}\n'
    )
    with pytest.raises(CommandError, match=r"answered_correctly 0\.0 < 0\.5"):
        call_command("evaluate", str(one), "--min-correct", "0.5")
    assert "[missed" in capsys.readouterr().out


def test_evaluate_command_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(CommandError, match=r"bad\.jsonl:1"):
        call_command("evaluate", str(bad))
    with pytest.raises(CommandError, match="no such file"):
        call_command("evaluate", str(tmp_path / "missing.jsonl"))
