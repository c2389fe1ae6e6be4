"""The embedding model as an ONNX graph, run by onnxruntime.

Why: a question embeds in 6.4 ms here against 14.3 ms through
sentence-transformers (p50, bench/embed.py, docs/benchmarks.md), and a process that only embeds
questions needs neither torch nor transformers. The graph is exported from the
installed package's own weights the first time a machine needs it (about 5 s,
torch and onnx required then), checked against the torch model, and cached
under VAR_DIR; nothing is downloaded.

The encoder reproduces sentence-transformers' pipeline for this model: the
tokenizer from the package's tokenizer.json (the same word pieces and offsets
as transformers' fast tokenizer), truncation at the model's max_seq_length,
mean pooling over real tokens, L2 normalisation.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
# The export is accepted only if it reproduces the torch model this closely.
EXPORT_MAX_ABS_DIFF = 1e-4
_CHECK_TEXTS = ["hi", "How long do I have to return an e-bike?", "Wie lange dauert die Lieferung? " * 3]


def _read_json(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


REQUIRED_FILES = ("modules.json", "config.json", "tokenizer.json", "sentence_bert_config.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def model_facts(model_dir: Path) -> tuple[int, str]:
    """The model's max_seq_length and a digest of its configuration, tokenizer and weights (their
    contents, not their dates or sizes), so an export is reused only for exactly this model."""
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    weights = [model_dir / name for name in WEIGHT_FILES if (model_dir / name).is_file()]
    if missing or not weights:
        missing += [] if weights else [" or ".join(WEIGHT_FILES)]
        raise RuntimeError(
            f"ONNX backend: {model_dir} lacks {', '.join(missing)}; "
            "use a full sentence-transformers folder or set EMBEDDING_BACKEND=torch"
        )
    modules = _read_json(model_dir / "modules.json")
    kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise RuntimeError(f"ONNX backend: unsupported sentence-transformers modules {kinds} in {model_dir}")
    pooling_file = model_dir / modules[1]["path"] / "config.json"
    pooling = _read_json(pooling_file)
    if not pooling.get("pooling_mode_mean_tokens") or any(
        value for key, value in pooling.items() if key.startswith("pooling_mode_") and key != "pooling_mode_mean_tokens"
    ):
        raise RuntimeError(f"ONNX backend: only mean pooling is implemented; {model_dir} asks for {pooling}")
    max_len = max_seq_length(model_dir)
    digest = hashlib.sha256(f"opset {OPSET}".encode())
    for path in [*(model_dir / name for name in REQUIRED_FILES), pooling_file, *weights]:
        digest.update(path.name.encode() + b"\0" + _file_digest(path).encode())
    return max_len, digest.hexdigest()[:16]


def max_seq_length(model_dir: Path) -> int:
    return int(_read_json(model_dir / "sentence_bert_config.json")["max_seq_length"])


def load_tokenizer(model_dir: Path, *, max_length: int | None = None):
    """The model's own tokenizer (tokenizer.json): the same word pieces and offsets as transformers'
    fast tokenizer. With `max_length` it truncates and pads as the model is fed; without, it neither
    truncates nor pads (for counting tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    if max_length is None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
    else:
        pad = "[PAD]"  # BERT's padding token, id 0
        tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad) or 0, pad_token=pad)
    return tokenizer


def tokenize(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    """The model's three inputs for a batch, padded to its longest text."""
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _content_digest(str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _content_digest(path: str, inode: int, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file's bytes (about 0.1 s for the 90 MB weights), once per process and version of
    the file: the key changes whenever the file could have."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_path(model_dir: Path, cache_dir: Path) -> Path:
    _, digest = model_facts(model_dir)
    return cache_dir / f"{model_dir.name}-{digest}.onnx"


def ensure_exported(model_dir: Path, target: Path) -> Path:
    """Export once; concurrent processes wait on the directory's lock instead of racing."""
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / ".export.lock", "w")  # noqa: SIM115 (held for the block below)
    except OSError as exc:
        raise RuntimeError(
            f"no ONNX export at {target} and none can be written there ({exc.strerror}): run "
            "`manage.py export_onnx` where EMBEDDING_ONNX_DIR is writable, or set EMBEDDING_BACKEND=torch"
        ) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            # Nobody else is exporting into this directory now: what a killed export left is garbage.
            for stale in target.parent.glob("*.onnx.tmp"):
                stale.unlink(missing_ok=True)
            _export(model_dir, target)
    return target


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    # Eager attention: the SDPA path branches on tensor values, which a traced
    # export would freeze.
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    module = LastHiddenState()
    tokenizer = load_tokenizer(model_dir, max_length=max_seq_length(model_dir))
    sample = tokenize(tokenizer, ["a short one", "and a somewhat longer second example"])
    args = tuple(torch.from_numpy(sample[name]) for name in INPUTS)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    check = tokenize(tokenizer, _CHECK_TEXTS)
    # The reference is computed before exporting: tracing leaves the module
    # unfit to run eagerly again (its outputs afterwards were off by 1.2).
    with torch.inference_mode():
        expected = module(*(torch.from_numpy(check[name]) for name in INPUTS)).numpy()
    real = check["attention_mask"].astype(bool)  # padded positions hold no meaning

    def difference(exported: Path) -> float:
        got = OnnxEncoder(model_dir, exported).hidden_states(check)
        return float(np.abs(got[real] - expected[real]).max())

    export_checked(
        module, args, target, output="last_hidden_state", dynamic_axes=dynamic, suffix=".onnx.tmp",
        difference=difference, max_diff=EXPORT_MAX_ABS_DIFF, what=f"ONNX export of {model_dir}",
    )  # fmt: skip


def export_checked(
    module,
    args: tuple,
    target: Path,
    *,
    output: str,
    dynamic_axes: dict,
    suffix: str,
    difference,
    max_diff: float,
    what: str,
) -> None:
    """Trace `module` to ONNX in a temporary file beside `target` and publish it there only when
    `difference(temporary file)`, its largest difference from torch, is within `max_diff`. Compute the
    torch reference before calling: tracing leaves a module unfit to run eagerly again. `suffix` names
    the temporary file (each export clears only its own leftovers)."""
    import torch

    handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=suffix)
    os.close(handle)
    try:
        # The tracer's warnings are about shapes it cannot see; the comparison
        # below is what decides whether the graph is right.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                tmp,
                input_names=list(INPUTS),
                output_names=[output],
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                dynamo=False,
            )
        diff = difference(Path(tmp))
        if diff > max_diff:
            raise RuntimeError(f"{what} differs from the torch model by {diff:.2e}")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; other processes' users read it too
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def session(onnx_file: Path, *, threads: int = 1):
    """An onnxruntime CPU session with `threads` for one call and quiet logs (every graph of ours)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Tokenizer plus onnxruntime session; safe to call from several threads
    (the tokenizer's settings are fixed at load, the session is re-entrant)."""

    def __init__(self, model_dir: Path, onnx_file: Path, *, threads: int = 1) -> None:
        self.max_seq_length = max_seq_length(model_dir)
        self._tokenizer = load_tokenizer(model_dir, max_length=self.max_seq_length)
        self._session = session(onnx_file, threads=threads)
        # (batch, tokens, hidden): only the first two are dynamic in the export.
        self.dimensions = int(self._session.get_outputs()[0].shape[2])

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        return tokenize(self._tokenizer, texts)

    def hidden_states(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, {name: batch[name] for name in INPUTS})[0]

    def encode_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One text's normalised mean-pooled vector (as `encode` gives it), its word pieces'
        contextual vectors (normalised, special tokens left out) and their character offsets."""
        encoding = self._tokenizer.encode_batch([text])[0]
        batch = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        states = self.hidden_states(batch)[0]
        mask = batch["attention_mask"][0].astype(bool)
        pooled = states[mask].mean(0)
        pooled /= max(float(np.linalg.norm(pooled)), 1e-12)
        offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        real = mask & (offsets[:, 1] > offsets[:, 0])
        words = states[real]
        words = words / np.clip(np.linalg.norm(words, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32), words.astype(np.float32), offsets[real]

    def encode(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        """Normalised mean-pooled vectors, in the order given. Texts of similar
        length are batched together so padding costs little."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenize([texts[i] for i in rows])
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (self.hidden_states(batch) * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out
