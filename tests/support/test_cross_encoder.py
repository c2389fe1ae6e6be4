"""The cross-encoder: how its judgement enters the ranker's order, its export, and its limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support.pipeline import read
from support.reader import cross_encoder
from support.reader import model as reader_model
from tests.support.test_pipeline_stages import PAYMENT, PAYMENT_PARTS, _hit


def test_blend_reorders_the_reread_sentences_and_puts_the_rest_behind_them():
    ranker = np.array([3.0, 2.0, 1.0, 0.0])
    out = reader_model.blend(ranker, np.array([0, 1]), np.array([0.0, 5.0]), weight=1.0)
    assert np.argsort(-out).tolist() == [1, 0, 2, 3]
    # weight 0: the ranker's order, untouched
    assert np.argsort(-reader_model.blend(ranker, np.array([0, 1]), np.array([0.0, 5.0]), 0.0)).tolist() == [0, 1, 2, 3]


def _question_vector(hit) -> np.ndarray:
    q = np.frombuffer(hit.sentence_vectors, dtype=np.float16).reshape(-1, 384).astype(np.float32)[2]
    return q / np.linalg.norm(q)


def test_the_cross_encoder_rereads_at_most_its_candidates_and_leaves_p_answerable_alone():
    hit = _hit(PAYMENT, PAYMENT_PARTS)
    q = _question_vector(hit)
    chunks = [read.as_chunk(hit, q)]
    stats = {"n": 10, "df": {}}
    reader = reader_model.load()
    plain = reader.score("Can I pay with PayPal?", q, chunks, stats)
    asked: list[list[tuple[int, int, str]]] = []

    def prefer_the_later(sentences):
        asked.append(sentences)
        return np.arange(len(sentences), dtype=float)

    # Three reread, weighed heavily: the ranker's best three in reverse, then the rest in its order.
    reread = reader.score("Can I pay with PayPal?", q, chunks, stats, reader_model.Cross(3, prefer_the_later, 100.0))
    assert len(asked[0]) == 3
    before = [s["text"] for s in plain["sentences"]]
    assert [text for _, _, text in asked[0]] == before[:3]
    assert [s["text"] for s in reread["sentences"]] == before[:3][::-1] + before[3:]

    def prefer_the_sky(sentences):
        return np.array([10.0 if text == "The sky is blue." else 0.0 for _, _, text in sentences])

    # Among all of them, the cross-encoder's choice comes first; the calibrated P(answerable) is the ranker's.
    everything = reader_model.Cross(len(PAYMENT_PARTS), prefer_the_sky, 1.0)
    lifted = reader.score("Can I pay with PayPal?", q, chunks, stats, everything)
    assert lifted["sentences"][0]["text"] == "The sky is blue."
    assert plain["sentences"][0]["text"] != "The sky is blue."
    assert lifted["p_answerable"] == plain["p_answerable"]


def test_no_cross_encoder_when_its_candidates_are_zero(settings, monkeypatch):
    settings.READER_CROSS_ENCODER_CANDIDATES = 0
    monkeypatch.setattr(cross_encoder, "load", lambda: pytest.fail("loaded although switched off"))
    assert read._cross("Can I pay with PayPal?", [_hit(PAYMENT, PAYMENT_PARTS)]) is None


def test_missing_updates_mean_no_cross_encoder(settings, tmp_path):
    settings.READER_CROSS_ENCODER_PATH = str(tmp_path / "absent.npz")
    cross_encoder.load.cache_clear()
    try:
        assert cross_encoder.load() is None
        assert cross_encoder.digest() == ""
    finally:
        cross_encoder.load.cache_clear()


@pytest.mark.slow
def test_export_of_trained_updates_scores_like_the_torch_network(tmp_path):
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
    assert cross_encoder.ensure_exported(model_dir, target, path) == target


def test_switched_on_the_turn_rereads_heading_and_sentence(settings, monkeypatch):
    settings.READER_CROSS_ENCODER_CANDIDATES = 5
    seen = []

    class Fake:
        weight = 0.5

        def score(self, question, texts):
            seen.append((question, texts))
            return np.zeros(len(texts))

    monkeypatch.setattr(cross_encoder, "load", lambda: Fake())
    hit = _hit(PAYMENT, PAYMENT_PARTS)
    cross = read._cross("Can I pay with PayPal?", [hit])
    assert (cross.candidates, cross.weight) == (5, 0.5)
    cross.score([(0, 2, "PayPal")])
    assert seen == [("Can I pay with PayPal?", ["Payment methods — PayPal"])]
