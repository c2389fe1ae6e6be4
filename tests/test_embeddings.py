"""The two embedding backends give the same vectors and token counts, and the
ONNX export refuses to cache a graph that disagrees with the torch model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import embeddings, onnx_model

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "hi",
    "",
    "How long do I have to return an e-bike?",
    "Wie lange dauert die Lieferung nach Österreich? Grüße, Jürgen",
    "Can I claim Carer's Allowance if I work 20 hours a week and my partner gets Universal Credit?",
    "émoji 🚲 and 中文 characters, tabs\tand  double  spaces",
    "warranty " * 400,  # far past the 256-token limit: both backends truncate the same way
]


@pytest.fixture(scope="module")
def torch_model():
    return embeddings.get_model()


def _torch_vectors(model, texts: list[str]) -> np.ndarray:
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def test_onnx_vectors_match_sentence_transformers(torch_model):
    got = embeddings.get_encoder().encode(TEXTS, batch_size=4)  # mixed lengths in one batch: padding
    alone = np.vstack([embeddings.get_encoder().encode([t], batch_size=1) for t in TEXTS])
    expected = _torch_vectors(torch_model, TEXTS)
    assert got.shape == (len(TEXTS), 384)
    assert np.abs(got - expected).max() < 1e-5
    assert np.abs(alone - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_onnx_matches_torch_on_any_text(torch_model, texts):
    got = embeddings.get_encoder().encode(texts, batch_size=3)
    assert np.abs(got - _torch_vectors(torch_model, texts)).max() < 1e-5


def test_token_counts_are_the_models_own(torch_model):
    hf = torch_model.tokenizer
    assert embeddings.count_tokens(TEXTS) == [len(hf.tokenize(t)) for t in TEXTS]
    assert embeddings.tokenizer_count(TEXTS[4]) == len(hf.tokenize(TEXTS[4]))


def test_backend_setting_selects_the_path(settings, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(embeddings, "_query_cache", type(embeddings._query_cache)())
    real_encoder = embeddings.get_encoder()
    monkeypatch.setattr(
        real_encoder.__class__, "encode", lambda self, texts, **kw: calls.append("onnx") or np.ones((len(texts), 384))
    )
    settings.EMBEDDING_BACKEND = "onnx"
    embeddings.embed_passages(["a"])
    assert calls == ["onnx"]
    settings.EMBEDDING_BACKEND = "torch"
    vector = embeddings.embed_passages(["a"])  # sentence-transformers: not the patched encoder
    assert calls == ["onnx"] and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_export_that_disagrees_with_torch_is_not_kept(tmp_path, monkeypatch):
    # A tolerance no export can meet stands in for a broken graph.
    monkeypatch.setattr(onnx_model, "EXPORT_MAX_ABS_DIFF", -1.0)
    target = tmp_path / "bad.onnx"
    with pytest.raises(RuntimeError, match="differs from the torch model"):
        onnx_model.ensure_exported(Path(embeddings.model_path()), target)
    assert not target.exists()
    assert not list(tmp_path.glob("*.tmp"))


def _model_copy(tmp_path: Path) -> Path:
    """The package's model directory with linked weights, its small files copied."""
    source = Path(embeddings.model_path())
    copy = tmp_path / "model"
    copy.mkdir()
    for item in source.iterdir():
        if item.is_dir():
            (copy / item.name).mkdir()
            for inner in item.iterdir():
                (copy / item.name / inner.name).write_bytes(inner.read_bytes())
        elif item.suffix == ".safetensors":
            os.symlink(item, copy / item.name)
        else:
            (copy / item.name).write_bytes(item.read_bytes())
    return copy


def test_a_changed_model_gets_a_new_export_path(tmp_path):
    copy = _model_copy(tmp_path)
    before = onnx_model.default_path(copy, tmp_path / "cache")
    config = json.loads((copy / "sentence_bert_config.json").read_text())
    config["max_seq_length"] = 128
    (copy / "sentence_bert_config.json").write_text(json.dumps(config))
    assert onnx_model.default_path(copy, tmp_path / "cache") != before
    assert onnx_model.model_facts(copy)[0] == 128


def test_only_mean_pooling_is_accepted(tmp_path):
    copy = _model_copy(tmp_path)
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match="only mean pooling"):
        onnx_model.model_facts(copy)


def test_question_path_does_not_import_torch():
    """A web process embeds questions without torch: smaller and quicker to start."""
    embeddings.get_encoder()  # the export exists before the child looks for it
    code = (
        "import sys, django; django.setup(); from core import embeddings; "
        "v = embeddings.embed_query('How long is the warranty?'); "
        "print(len(v), 'torch' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings_test", EMBEDDING_BACKEND="onnx", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["384", "False"]


def test_export_command_prints_the_graph_and_rejects_a_bad_dir(tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("export_onnx", stdout=out)
    assert Path(out.getvalue().strip()) == embeddings.onnx_path() and embeddings.onnx_path().is_file()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CommandError, match="EMBEDDING_ONNX_DIR is writable"):
        call_command("export_onnx", dir=blocker / "models")


def test_same_size_and_date_but_other_weights_get_another_export(tmp_path):
    """A fine-tuned copy keeps the file size, and `cp -a` keeps the date: only the bytes differ."""
    copy = _model_copy(tmp_path)
    before = onnx_model.default_path(copy, tmp_path / "cache")
    weights = copy / "model.safetensors"
    original = Path(os.readlink(weights))
    weights.unlink()
    data = bytearray(original.read_bytes())
    data[-100] ^= 0x01
    weights.write_bytes(bytes(data))
    stat = original.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_size == stat.st_size
    assert onnx_model.default_path(copy, tmp_path / "cache") != before


def test_a_folder_without_tokenizer_json_says_what_to_do(tmp_path):
    copy = _model_copy(tmp_path)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(RuntimeError, match=r"lacks tokenizer\.json.*EMBEDDING_BACKEND=torch"):
        onnx_model.model_facts(copy)


def test_a_missing_export_in_a_read_only_place_says_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    target = onnx_model.default_path(Path(embeddings.model_path()), blocker / "models")
    with pytest.raises(RuntimeError, match=r"run `manage\.py export_onnx`"):
        onnx_model.ensure_exported(Path(embeddings.model_path()), target)


def test_an_interrupted_export_leaves_no_garbage(tmp_path, monkeypatch):
    stale = tmp_path / "tmpkilled.onnx.tmp"
    stale.write_bytes(b"half an export")
    exported: list[Path] = []
    monkeypatch.setattr(onnx_model, "_export", lambda model_dir, target: exported.append(target))
    onnx_model.ensure_exported(Path(embeddings.model_path()), tmp_path / "model-x.onnx")
    assert exported == [tmp_path / "model-x.onnx"]
    assert not stale.exists()


def test_backend_is_part_of_the_recorded_settings_fingerprint(settings):
    from support.pipeline.run import config_fingerprint

    settings.EMBEDDING_BACKEND = "onnx"
    onnx = config_fingerprint()
    settings.EMBEDDING_BACKEND = "torch"
    assert config_fingerprint() != onnx


def test_vector_literal_is_remembered_but_bounded():
    rng = np.random.default_rng(1)
    first = rng.random(384).astype(np.float32)
    text = embeddings.vector_literal(first)
    assert text == "[" + ",".join(f"{x:.7g}" for x in first) + "]"
    assert embeddings.vector_literal(first.astype(np.float64)) == text  # same float32 values, same text
    for _ in range(embeddings._LITERAL_CACHE_SIZE + 10):
        embeddings.vector_literal(rng.random(384))
    assert len(embeddings._literal_cache) == embeddings._LITERAL_CACHE_SIZE
    assert embeddings.vector_literal(first) == text  # evicted, formatted again, same answer
