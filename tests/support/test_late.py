"""Token-level matching (support/reader/late.py): its weights, its score, the stored token vectors
and the reorder within the chosen article."""

from __future__ import annotations

import dataclasses
from io import StringIO

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core import embeddings
from knowledge.models import Chunk
from support.pipeline import read
from support.pipeline.read import Candidate
from support.reader import late

STATS = {"n": 100, "df": {"money": 3, "gift": 40, "card": 40}}


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_function_words_weigh_nothing_and_rare_words_most():
    text = "can i get my money back on a gift card"
    asked = embeddings.query_tokens(text)
    weights = late.question_weights(asked.text, asked.offsets, STATS)
    by_word = {asked.text[a:b]: w for (a, b), w in zip(asked.offsets, weights, strict=True)}
    assert by_word["can"] == by_word["a"] == 0.0
    assert by_word["money"] > by_word["gift"] > 0.0


def test_a_question_of_function_words_only_weighs_every_piece_alike():
    asked = embeddings.query_tokens("can it be")
    assert late.question_weights(asked.text, asked.offsets, STATS).tolist() == [1.0, 1.0, 1.0]


def test_a_word_split_into_pieces_weighs_each_piece_as_the_word():
    asked = embeddings.query_tokens("unrefundable")
    assert len(asked.offsets) > 1  # the word is several word pieces
    weights = late.question_weights(asked.text, asked.offsets, {"n": 100, "df": {}})
    assert len(set(weights.tolist())) == 1 and weights[0] > 0


@hsettings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=5), st.randoms(use_true_random=False))
def test_the_score_is_bounded_and_the_question_itself_scores_highest(q_len, n_sentences, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**32 - 1))
    question = _unit(rng.normal(size=(q_len, 8)))
    weights = rng.uniform(0.1, 3.0, size=q_len)
    others = [_unit(rng.normal(size=(rnd.randint(1, 6), 8))) for _ in range(n_sentences)]
    scores = late.scores(question, weights, [*others, question.copy()])
    assert np.all(scores <= 1 + late.COVERAGE + 1e-6) and np.all(scores >= -(1 + late.COVERAGE) - 1e-6)
    assert scores[-1] == pytest.approx(1 + late.COVERAGE)


def test_the_sentence_that_meets_the_questions_rare_word_wins():
    question = "do class 2 compression stockings need a doctors report"
    asked = embeddings.query_tokens(question)
    weights = late.question_weights(asked.text, asked.offsets, {"n": 50, "df": {}})
    texts = [
        "Wear loose clothing on the morning of your fitting appointment.",
        "Class II stockings need a report or recommendation from your doctor.",
    ]
    _, _, tokens = embeddings.embed_with_spans(texts, [[(0, len(t))] for t in texts], tokens=True)
    assert int(np.argmax(late.scores(asked.vectors, weights, [t[0] for t in tokens]))) == 1


def test_the_ranker_breaks_near_ties_and_a_weight_of_zero_is_the_match_alone():
    late_scores = np.array([0.70, 0.71, 0.20])
    logits = np.array([2.0, 0.0, 5.0])
    assert late.reorder(logits, late_scores, 0.0).tolist() == [1, 0, 2]
    assert late.reorder(logits, late_scores, 0.02).tolist() == [0, 1, 2]


def test_query_tokens_come_from_the_same_pass_as_the_question_vector():
    question = "How long is the WARRANTY   on a frame?"
    asked = embeddings.query_tokens(question)
    assert asked.text == "how long is the warranty on a frame?"
    assert np.allclose(embeddings.embed_query(question), embeddings.embed_passages([asked.text])[0], atol=1e-5)
    assert len(asked.vectors) == len(asked.offsets) == embeddings.count_tokens([asked.text])[0]
    assert np.allclose(np.linalg.norm(asked.vectors, axis=1), 1.0, atol=1e-5)


def test_packed_tokens_keep_their_cosines_and_refuse_a_wrong_count():
    rng = np.random.default_rng(3)
    per_span = [_unit(rng.normal(size=(n, 384))).astype(np.float32) for n in (3, 1, 5)]
    dims = embeddings.token_dims()
    blob, counts = embeddings.pack_tokens(per_span)
    assert counts == [3, 1, 5] and len(blob) == len(embeddings.token_tag()) + 9 * dims
    back = embeddings.unpack_tokens(blob, counts, dims)
    assert [len(b) for b in back] == counts
    for a, b in zip(per_span, back, strict=True):
        assert np.all(np.sum(embeddings.project_tokens(a) * b, axis=1) > 0.999)  # int8 loses next to nothing
    assert embeddings.unpack_tokens(blob, [3, 1, 4], dims) == []
    other_space = bytes(8) + blob[8:]  # the same bytes, stored through another projection
    assert embeddings.unpack_tokens(other_space, counts, dims) == []
    assert embeddings.unpack_tokens(b"", [], dims) == []


def test_the_committed_projection_keeps_what_tells_tokens_apart():
    mean, components = embeddings.token_projection()
    assert mean.shape == (384,) and components.shape == (384, 128)
    assert np.allclose(components.T @ components, np.eye(128), atol=1e-4)  # orthonormal axes
    asked = embeddings.query_tokens("can i return opened board games")
    same = embeddings.project_tokens(asked.vectors) @ embeddings.project_tokens(asked.vectors).T
    raw = asked.vectors @ asked.vectors.T
    # a token is still closest to itself, and the order of its neighbours barely moves
    assert np.all(np.argmax(same, axis=1) == np.arange(len(raw)))
    assert np.corrcoef(same.ravel(), raw.ravel())[0, 1] > 0.9


def test_principal_axes_are_the_largest_variance_first_and_fixed_in_sign():
    from support.management.commands.train_token_projection import principal_axes

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(2000, 4)) * np.array([5.0, 0.1, 2.0, 0.5]) + 3.0
    mean, axes = principal_axes(rows, 2)
    assert np.allclose(mean, 3.0, atol=0.3)
    assert np.argmax(np.abs(axes[:, 0])) == 0 and np.argmax(np.abs(axes[:, 1])) == 2
    assert np.all(axes[np.abs(axes).argmax(axis=0), [0, 1]] > 0)
    assert np.array_equal(principal_axes(-rows, 2)[1], axes)  # signs fixed: the same axes either way
    with pytest.raises(ValueError):
        principal_axes(rows, 5)


@pytest.mark.django_db
def test_ingestion_stores_each_sentences_tokens(demo_kb):
    for chunk in Chunk.objects.filter(searchable=True):
        counts = chunk.sentence_token_counts
        assert len(counts) == len(chunk.sentence_spans) and all(n > 0 for n in counts)
        assert len(bytes(chunk.token_vectors)) == 8 + sum(counts) * embeddings.token_dims()


def _article_hits():
    """The chosen article's sentences, worst match first (by the stored tokens), then another article's."""
    from knowledge.selectors import chunk_search

    question = "can i pay with paypal"
    hits = chunk_search(query=question, vector=embeddings.embed_query(question), k=8)
    document = hits[0].document_id
    own = [(i, j) for i, h in enumerate(hits) if h.document_id == document for j in range(len(h.sentence_spans))]
    matched = _matched(question, hits, own)
    own = [own[k] for k in np.argsort(matched, kind="stable")]
    candidates = [Candidate(i, j, "", 0.5, False) for i, j in own]
    other = next(i for i, h in enumerate(hits) if h.document_id != document)
    candidates.append(Candidate(other, 0, "elsewhere", 0.01, False))
    return question, hits, candidates


def _matched(question, hits, keys) -> np.ndarray:
    asked = embeddings.query_tokens(question)
    weights = late.question_weights(asked.text, asked.offsets, read.kb_stats(1))
    stored = read.chunk_tokens([h.chunk_id for h in hits])
    sentences = [embeddings.unpack_tokens(*stored[hits[i].chunk_id], embeddings.token_dims())[j] for i, j in keys]
    return late.scores(embeddings.project_tokens(asked.vectors), weights, sentences)


@pytest.mark.django_db
def test_within_the_article_only_its_best_are_reordered_by_their_match(demo_kb, settings):
    settings.READER_LATE_CANDIDATES = 3
    settings.READER_LATE_WEIGHT = 0.0
    question, hits, candidates = _article_hits()
    assert len(candidates) >= 5
    matched = read.match_words(question, candidates, hits, read.kb_stats(1))
    assert len(matched) == len(candidates)  # every candidate is matched, for the article vote too
    out = read.within_article(candidates, hits, matched)
    assert out[:3] == candidates[:3][::-1]  # the three read, best match first
    assert out[3:] == candidates[3:]  # the rest as the ranker left them
    got = _matched(question, hits, [(c.hit, c.index) for c in out[:3]])
    assert got.tolist() == sorted(got.tolist(), reverse=True)
    assert [matched[c.hit, c.index] for c in out[:3]] == pytest.approx(got.tolist())


@pytest.mark.django_db
def test_no_match_when_switched_off_or_without_stored_tokens(demo_kb, settings):
    question, hits, candidates = _article_hits()
    settings.READER_LATE_CANDIDATES = 0
    assert read.match_words(question, candidates, hits, read.kb_stats(1)) == {}
    settings.READER_LATE_CANDIDATES = 8
    assert read.match_words(question, candidates, hits, read.kb_stats(1))
    Chunk.objects.update(token_vectors=b"", sentence_token_counts=[])  # as if ingested before token vectors
    assert read.match_words(question, candidates, hits, read.kb_stats(1)) == {}
    assert read.within_article(candidates, hits, {}) == candidates


def test_the_article_vote_counts_how_far_each_articles_best_match_falls_short(settings):
    from tests.support.test_pipeline_stages import PAYMENT, PAYMENT_PARTS, _hit

    first = _hit(PAYMENT, PAYMENT_PARTS)
    second = dataclasses.replace(_hit(PAYMENT, PAYMENT_PARTS, heading="Gift cards"), document_id=2)
    hits = [first, second]
    candidates = [
        Candidate(0, 2, "PayPal", 0.30, True),
        Candidate(1, 4, "Gift cards are sold online.", 0.25, False),
        Candidate(0, 4, "Gift cards are sold online.", 0.05, False),
    ]
    matched = {(0, 2): 0.60, (1, 4): 0.75, (0, 4): 0.50}
    settings.READER_DOCUMENT_VOTES = 5
    settings.READER_LATE_VOTE = 0.0
    assert [c.hit for c in read.by_document(candidates, hits, [0, 1], matched)[0]] == [0, 0, 1]  # the ranker's
    settings.READER_LATE_VOTE = 5.0  # 0.35 − 5 × 0.15 < 0.25: the second article's sentence meets the words
    out, order = read.by_document(candidates, hits, [0, 1], matched)
    assert [c.hit for c in out] == [1, 0, 0] and order == [1, 0]
    assert read.by_document(candidates, hits, [0, 1], {})[0] == read.by_document(candidates, hits, [0, 1])[0]


def test_a_hit_whose_tokens_do_not_match_its_sentences_leaves_the_order(monkeypatch, settings):
    from tests.support.test_pipeline_stages import PAYMENT, PAYMENT_PARTS, _hit

    settings.READER_LATE_CANDIDATES = 8
    hit = dataclasses.replace(_hit(PAYMENT, PAYMENT_PARTS), chunk_id=7)
    blob, counts = embeddings.pack_tokens([np.ones((2, 384), np.float32)])  # one sentence, the chunk has more
    monkeypatch.setattr(read, "chunk_tokens", lambda ids: {7: (blob, counts)})
    candidates = [Candidate(0, 2, "PayPal", 0.4, True), Candidate(0, 4, "Gift cards are sold online.", 0.2, False)]
    assert read.match_words("can i pay with paypal", candidates, [hit], {"n": 1, "df": {}}) == {}


def test_the_turns_question_is_encoded_once_and_few_token_sets_are_kept(monkeypatch):
    calls = []
    real = embeddings._encode_query

    def counting(key):
        calls.append(key)
        return real(key)

    monkeypatch.setattr(embeddings, "_encode_query", counting)
    monkeypatch.setattr(embeddings, "_query_cache", type(embeddings._query_cache)())
    monkeypatch.setattr(embeddings, "_token_cache", type(embeddings._token_cache)())
    embeddings.embed_query("Is the Noir range vegan?", keep_tokens=True)
    embeddings.query_tokens("is the noir range   vegan?")
    assert calls == ["is the noir range vegan?"]  # the vector's forward pass gave the tokens
    embeddings.embed_query("a trigger example")  # other texts embedded in the turn do not crowd it out
    assert "a trigger example" not in embeddings._token_cache
    for n in range(embeddings._TOKEN_CACHE_SIZE + 5):
        embeddings.embed_query(f"question number {n}", keep_tokens=True)
    assert len(embeddings._token_cache) == embeddings._TOKEN_CACHE_SIZE
    assert embeddings.query_tokens("is the noir range vegan?").text == "is the noir range vegan?"
    assert calls[-1] == "is the noir range vegan?"  # evicted: encoded again


@pytest.mark.django_db
def test_embed_tokens_fills_the_chunks_that_have_none_and_only_those(demo_kb):
    from django.core.management import call_command

    dims = embeddings.token_dims()

    def readable() -> dict[int, list[np.ndarray]]:
        rows = Chunk.objects.values_list("pk", "token_vectors", "sentence_token_counts")
        return {pk: embeddings.unpack_tokens(bytes(blob), counts, dims) for pk, blob, counts in rows}

    stored = readable()
    blank = list(stored)[::3]
    Chunk.objects.filter(pk__in=blank).update(token_vectors=b"", sentence_token_counts=[])
    out = StringIO()
    call_command("embed_tokens", stdout=out)
    assert f"{len(blank)} of {len(stored)} chunks needed token vectors" in out.getvalue()
    again = readable()
    for pk in blank:  # as ingestion stored them (batched otherwise: the same within rounding)
        assert [len(t) for t in again[pk]] == [len(t) for t in stored[pk]]
        assert all(np.all(np.sum(a * b, axis=1) > 0.99) for a, b in zip(again[pk], stored[pk], strict=True))
    out = StringIO()
    call_command("embed_tokens", stdout=out)
    assert f"0 of {len(stored)} chunks needed token vectors" in out.getvalue()


def test_the_question_reads_the_same_on_both_backends(settings):
    question = "my son turns 12 two weeks before the safari — does he pay the kids' rate?"
    settings.EMBEDDING_BACKEND = "onnx"
    onnx = embeddings._encode_query(question)
    settings.EMBEDDING_BACKEND = "torch"
    torch = embeddings._encode_query(question)
    assert np.array_equal(onnx[2], torch[2])  # the same word pieces at the same offsets
    assert np.allclose(onnx[0], torch[0], atol=1e-5) and np.allclose(onnx[1], torch[1], atol=1e-4)
