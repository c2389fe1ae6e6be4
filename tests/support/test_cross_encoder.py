"""The cross-encoder: how its judgement enters the ranker's order, its export, and its limit."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest

from support.pipeline import read
from support.reader import cross_encoder
from support.reader import model as reader_model
from tests.support.test_pipeline_stages import PAYMENT, PAYMENT_PARTS, _hit


def test_blend_adds_the_cross_encoders_judgement_relative_to_its_best():
    ranker = np.array([3.0, 2.0, 1.0])
    assert np.argsort(-reader_model.blend(ranker, np.array([0.0, 5.0, 0.0]), weight=1.0)).tolist() == [1, 0, 2]
    assert np.argsort(-reader_model.blend(ranker, np.array([0.0, 5.0, 0.0]), weight=0.0)).tolist() == [0, 1, 2]
    # only differences count: the same logits shifted give the same order
    assert np.allclose(
        reader_model.blend(ranker, np.array([1.0, 2.0, 3.0]), 1.0),
        reader_model.blend(ranker, np.array([11.0, 12.0, 13.0]), 1.0),
    )


class _Prefers:
    """A stand-in cross-encoder that likes one sentence and records what it was asked."""

    weight = 1.0

    def __init__(self, liked: str) -> None:
        self.liked = liked
        self.asked: list[list[str]] = []

    def score(self, question, texts):
        self.asked.append(texts)
        return np.array([10.0 if text.endswith(self.liked) else 0.0 for text in texts])


def _two_articles():
    from support.pipeline.read import Candidate

    first = _hit(PAYMENT, PAYMENT_PARTS)
    second = dataclasses.replace(_hit(PAYMENT, PAYMENT_PARTS, heading="Gift cards"), document_id=2)
    candidates = [
        Candidate(0, 2, "PayPal", 0.4, True),
        Candidate(0, 4, "Gift cards are sold online.", 0.2, False),
        Candidate(0, 6, "The sky is blue.", 0.1, False),
        Candidate(1, 4, "Gift cards are sold online.", 0.2, False),
    ]
    return [first, second], candidates


@pytest.fixture
def sky(monkeypatch) -> _Prefers:
    encoder = _Prefers("The sky is blue.")
    monkeypatch.setattr(cross_encoder, "load", lambda: encoder)
    return encoder


def test_reread_reorders_within_the_chosen_article_only(settings, sky):
    settings.READER_CROSS_ENCODER_CANDIDATES = 12
    hits, candidates = _two_articles()
    out = read.reread("Can I pay with PayPal?", candidates, hits)
    assert [(c.hit, c.index) for c in out] == [(0, 6), (0, 2), (0, 4), (1, 4)]
    assert sky.asked == [["Payment methods — PayPal", "Payment methods — Gift cards are sold online.",
                              "Payment methods — The sky is blue."]]  # fmt: skip
    assert [c.p for c in out] == [0.1, 0.4, 0.2, 0.2]  # the ranker's p, which P(answerable) was judged on


def test_reread_reads_at_most_its_candidates(settings, sky):
    settings.READER_CROSS_ENCODER_CANDIDATES = 2
    hits, candidates = _two_articles()
    out = read.reread("Can I pay with PayPal?", candidates, hits)
    assert len(sky.asked[0]) == 2
    assert out == candidates  # the liked sentence was not among the two reread: nothing moves


def test_no_cross_encoder_when_its_candidates_are_zero(settings, monkeypatch):
    settings.READER_CROSS_ENCODER_CANDIDATES = 0
    monkeypatch.setattr(cross_encoder, "load", lambda: pytest.fail("loaded although switched off"))
    hits, candidates = _two_articles()
    assert read.reread("Can I pay with PayPal?", candidates, hits) == candidates


def test_missing_updates_mean_no_cross_encoder(settings, tmp_path):
    settings.READER_CROSS_ENCODER_PATH = str(tmp_path / "absent.npz")
    cross_encoder.load.cache_clear()
    try:
        assert cross_encoder.load() is None
        assert cross_encoder.digest() == ""
    finally:
        cross_encoder.load.cache_clear()


@pytest.mark.slow
def test_export_of_trained_updates_scores_like_the_torch_network(tmp_path, monkeypatch):
    """Random (untrained) updates, so the check is about the export, not about the training."""
    import torch

    from core import embeddings

    model_dir = Path(embeddings.model_path())
    torch.manual_seed(0)
    net = cross_encoder.network(model_dir, rank=2, alpha=4.0)
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            if name.endswith(".B"):
                parameter.normal_(std=0.02)
    delta = cross_encoder.delta_of(net)
    assert len([k for k in delta if k.endswith(".A")]) == 6 * len(cross_encoder.TARGETS)
    path = tmp_path / "delta.npz"
    np.savez(path, **delta, blend=np.array(0.5))
    target = cross_encoder.ensure_exported(model_dir, cross_encoder.default_path(model_dir, tmp_path, path), path)
    scorer = cross_encoder.CrossEncoder(model_dir, target)
    pairs = [
        ("Can I pay with PayPal?", "Payment — PayPal"),
        ("Do you ship abroad?", "Delivery — We ship to 12 countries."),
    ]
    got = scorer.score(pairs[0][0], [pairs[0][1]])
    batch = cross_encoder.encode_pairs(cross_encoder.tokenizer(model_dir), [pairs[0][0]], [pairs[0][1]])
    merged = cross_encoder.network(model_dir, delta={k: v for k, v in np.load(path).items()}).eval()
    with torch.no_grad():
        expected = merged(*(torch.from_numpy(batch[n]) for n in ("input_ids", "attention_mask", "token_type_ids")))
    assert abs(float(got[0]) - float(expected[0])) < cross_encoder.EXPORT_MAX_ABS_DIFF
    assert scorer.score("anything", []).shape == (0,)
    # the updates themselves change the scores: the same network without them differs
    base = cross_encoder.network(model_dir, delta={**delta, **{k: v * 0 for k, v in delta.items() if k.endswith(".B")}})
    with torch.no_grad():
        plain = base.eval()(*(torch.from_numpy(batch[n]) for n in ("input_ids", "attention_mask", "token_type_ids")))
    assert abs(float(plain[0]) - float(expected[0])) > 1e-3

    # a second call finds the export instead of redoing it
    def export_again(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(cross_encoder, "_export", export_again)
    assert cross_encoder.ensure_exported(model_dir, target, path) == target


def test_a_cross_encoder_that_cannot_be_built_leaves_the_ranker_order_and_is_not_retried(settings, monkeypatch, caplog):
    settings.READER_CROSS_ENCODER_CANDIDATES = 12
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("the reader's cross-encoder cannot be built from x.npz (read-only folder)")

    monkeypatch.setattr(cross_encoder, "load", broken)
    monkeypatch.setattr(read, "_cross_encoder_failed", threading.Event())
    hits, candidates = _two_articles()
    assert read.reread("Can I pay with PayPal?", candidates, hits) == candidates
    assert read.reread("Can I pay with PayPal?", candidates, hits) == candidates
    assert calls == [1]
    assert "cannot be built" in caplog.text


def test_switched_on_without_updates_the_process_does_not_start(settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    from support.apps import _warm_cross_encoder

    settings.READER_CROSS_ENCODER_CANDIDATES = 12
    settings.READER_CROSS_ENCODER_PATH = str(tmp_path / "absent.npz")
    cross_encoder.load.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="no trained updates"):
            _warm_cross_encoder()
        settings.READER_CROSS_ENCODER_CANDIDATES = 0
        _warm_cross_encoder()  # off: nothing to check
    finally:
        cross_encoder.load.cache_clear()


def test_the_reply_fingerprint_names_the_updates_only_when_they_are_read(settings, tmp_path):
    from support.pipeline import run

    updates = tmp_path / "delta.npz"
    np.savez(updates, scale=np.array(1.0))
    settings.READER_CROSS_ENCODER_CANDIDATES = 0
    off = run.config_fingerprint()
    settings.READER_CROSS_ENCODER_PATH = str(updates)
    assert run.config_fingerprint() == off
    settings.READER_CROSS_ENCODER_CANDIDATES = 12
    on = run.config_fingerprint()
    np.savez(updates, scale=np.array(2.0), blend=np.array(0.5))  # other updates (and another size)
    assert on != off and run.config_fingerprint() != on
