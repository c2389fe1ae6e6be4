"""The train/test split of the public benchmark, and that nothing learnt comes from the test part."""

from __future__ import annotations

import collections
import json

import pytest

from guardrails import scoring, training
from guardrails.dataset import PUBLIC_FILE, TEST, TRAIN, public_rows, split_of

pytestmark = pytest.mark.skipif(not PUBLIC_FILE.exists(), reason="the public benchmark is not on this machine")


@pytest.mark.parametrize(
    ("source", "split"),
    [
        ("deepset/prompt-injections:train:17", TRAIN),
        ("deepset/prompt-injections:test:3", TEST),
        ("self-reminder/apo_train:P0", TRAIN),
        ("self-reminder/test:AIM", TEST),
        ("self-reminder/itw:P10", TEST),
        ("team-benign:3", None),
        ("", None),
    ],
)
def test_split_rule(source, split):
    assert split_of(source) == split


def test_banking77_is_split_about_in_half_by_hash():
    rows = [r for r in public_rows() if r.dataset == "banking77"]
    counts = collections.Counter(r.split for r in rows)
    assert set(counts) == {TRAIN, TEST}
    assert abs(counts[TRAIN] - counts[TEST]) < 0.1 * len(rows)
    # Deterministic: the rule looks at the row id only.
    assert split_of("banking77:test:17:card_arrival") == split_of("banking77:test:17:other_intent")


def test_the_split_counts():
    counts = collections.Counter((r.split, r.dataset, r.label) for r in public_rows())
    assert counts[(TRAIN, "deepset", "injection")] == 203
    assert counts[(TEST, "deepset", "injection")] == 60
    assert counts[(TRAIN, "self-reminder", "injection")] == 80
    assert counts[(TEST, "self-reminder", "injection")] == 97


def test_training_rows_hold_no_test_row():
    test_texts = {r.text for r in public_rows(TEST)}
    rows = training.training_rows()
    assert all(r.split != TEST for r in rows)
    assert not test_texts & {r.text for r in rows}


def test_public_train_patterns_come_from_train_rows_only():
    by_source = {r.source: r for r in public_rows()}
    patterns = training.read_seed_file(training.PUBLIC_TRAIN_FILE)
    assert patterns
    for p in patterns:
        row = by_source[p.origin]
        assert row.split == TRAIN and row.is_injection
        assert p.source == f"public-train:{row.dataset}"
        assert row.text.startswith(p.text)


def test_calibration_says_what_it_was_trained_on():
    data = json.loads(scoring.CALIBRATION_FILE.read_text())
    assert data["trained_on"]["split"] == TRAIN
    assert tuple(data["features"]) == scoring.FEATURES
    assert training.train.__doc__
    with pytest.raises(ValueError, match="test part"):
        training.train(rows=public_rows(TEST)[:3])
