"""The cross-encoder: MiniLM reading the question and one candidate sentence together.

Why: the feature ranker sees the question and a sentence only through their separate vectors and
word overlaps, so between an article's sentences that all resemble the question it cannot tell the
one that answers it (the list of exclusions against what the warranty covers). Reading both at once
can. It is trained by `bench/cross_encoder.py train` (`make cross-encoder`) on the reader's own
simulated turns of doc2dial's train documents (not the training help centres: the reply-confidence
gate is fitted on those, and reads this model's choices).

What it needs is small: the low-rank (LoRA) updates of the linear layers of the embedding model's
top blocks and the scoring head (about 0.9 MB; none is committed, so it is off: docs/quality.md,
reader v8). The full network is the installed embedding model's own weights plus those updates; it is
exported to ONNX the first time a machine needs it (seconds, torch and onnx required then), checked
against the torch network, and cached beside the embedding model's export (EMBEDDING_ONNX_DIR,
default VAR_DIR/models). Nothing is downloaded. The export stays in float32: onnxruntime's dynamic
int8 quantisation moved the logits by up to 2.8 and changed the chosen sentence in 11 to 23 of 60
calib turns (per-tensor, per-channel, trained blocks left in float32).
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from core import embeddings, onnx_model

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

DELTA_PATH = Path(__file__).resolve().parent / "cross_encoder.npz"
MAX_TOKENS = 128
# Every linear layer of a BERT block: attention's four, the feed-forward's two.
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
# The export is accepted only if its scores stay this close to the torch network's.
EXPORT_MAX_ABS_DIFF = 1e-3
_CHECK_PAIRS = [
    ("How long do I have to return a sofa?", "Returns — You can return most items within 30 days of delivery."),
    ("Do you deliver to Belgium?", "Delivery — We deliver to the Netherlands, Belgium and Luxembourg."),
    ("hi", "Contact us — Our team answers within two working days."),
]


def pair_text(heading: str, sentence: str) -> str:
    """What the cross-encoder reads of a candidate: its heading path, then the sentence."""
    return f"{heading} — {sentence}" if heading else sentence


def tokenizer(model_dir: Path) -> Tokenizer:
    return onnx_model.load_tokenizer(model_dir, max_length=MAX_TOKENS)


def encode_pairs(tok, question: str | list[str], texts: list[str]) -> dict[str, np.ndarray]:
    """Question and candidate as BERT's sentence pair, cut together to MAX_TOKENS (longest first)."""
    questions = [question] * len(texts) if isinstance(question, str) else question
    encodings = tok.encode_batch(list(zip(questions, texts, strict=True)))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


# --- torch: training and export -------------------------------------------------------------------


def network(
    model_dir: Path,
    *,
    delta: dict[str, np.ndarray] | None = None,
    rank: int = 0,
    alpha: float = 0.0,
    layers: int | None = None,
) -> torch.nn.Module:
    """The torch network: the embedding model, mean pooling, a linear head. With `delta`, its updates
    are merged into the weights (for export); with `rank`, LoRA adapters are attached to the top
    `layers` blocks (for training; the blocks below stay the embedding model's)."""
    import torch
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")

    class LoRA(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.A = torch.nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
            self.B = torch.nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            return self.head((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).squeeze(-1)

    net = Net()
    first = encoder.config.num_hidden_layers - (encoder.config.num_hidden_layers if layers is None else layers)
    for name, module in list(net.encoder.named_modules()):
        if not name.endswith(TARGETS) or not isinstance(module, torch.nn.Linear):
            continue
        if delta is not None:
            if f"{name}.A" not in delta:
                continue
            scale = float(delta["scale"])
            with torch.no_grad():
                update = torch.from_numpy(delta[f"{name}.B"].astype(np.float32) @ delta[f"{name}.A"].astype(np.float32))
                module.weight += scale * update
        elif rank and int(name.split(".")[2]) >= first:  # encoder.layer.<i>.…
            parent_name, _, child = name.rpartition(".")
            setattr(net.encoder.get_submodule(parent_name), child, LoRA(module))
    if delta is not None:
        with torch.no_grad():
            net.head.weight.copy_(torch.from_numpy(delta["head.weight"]).float())
            net.head.bias.copy_(torch.from_numpy(delta["head.bias"]).float())
    if rank:
        for parameter in net.encoder.parameters():
            parameter.requires_grad = False
        for module in net.encoder.modules():
            if isinstance(module, LoRA):
                module.A.requires_grad = True
                module.B.requires_grad = True
    return net


def delta_of(net: torch.nn.Module) -> dict[str, np.ndarray]:
    """The trained updates of a LoRA network, as saved in cross_encoder.npz (float16: half the size;
    the export is checked against the rounded updates, not against the trained network)."""
    out: dict[str, np.ndarray] = {}
    scale = None
    for name, module in net.encoder.named_modules():
        if hasattr(module, "A") and hasattr(module, "B"):
            out[f"{name}.A"] = module.A.detach().numpy().astype(np.float16)
            out[f"{name}.B"] = module.B.detach().numpy().astype(np.float16)
            scale = module.scale
    if scale is None:
        raise ValueError("the network has no LoRA updates to save")
    out["scale"] = np.array(scale, dtype=np.float32)
    out["head.weight"] = net.head.weight.detach().numpy().astype(np.float32)
    out["head.bias"] = net.head.bias.detach().numpy().astype(np.float32)
    return out


def _digest(model_dir: Path, delta_path: Path) -> str:
    _, base = onnx_model.model_facts(model_dir)
    digest = hashlib.sha256(f"{base} {MAX_TOKENS} opset {onnx_model.OPSET}".encode())
    digest.update(delta_path.read_bytes())
    return digest.hexdigest()[:16]


def default_path(model_dir: Path, cache_dir: Path, delta_path: Path = DELTA_PATH) -> Path:
    return cache_dir / f"cross-encoder-{_digest(model_dir, delta_path)}.onnx"


def ensure_exported(model_dir: Path, target: Path, delta_path: Path = DELTA_PATH) -> Path:
    """Export once; concurrent processes wait on the directory's lock instead of racing."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".cross-encoder.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            for stale in target.parent.glob("*.cross-encoder.tmp"):  # left by a killed export
                stale.unlink(missing_ok=True)
            _export(model_dir, target, delta_path)
    return target


def _export(model_dir: Path, target: Path, delta_path: Path) -> None:
    import torch

    with np.load(delta_path) as data:
        delta = {key: data[key] for key in data.files}
    net = network(model_dir, delta=delta).eval()
    tok = tokenizer(model_dir)
    check = encode_pairs(tok, [q for q, _ in _CHECK_PAIRS], [t for _, t in _CHECK_PAIRS])
    with torch.inference_mode():
        expected = net(*(torch.from_numpy(check[name]) for name in onnx_model.INPUTS)).numpy()
    # Not *.onnx.tmp: the embedding export clears those in the same folder under its own lock.
    onnx_model.export_checked(
        net,
        tuple(torch.from_numpy(check[name]) for name in onnx_model.INPUTS),
        target,
        output="score",
        dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in onnx_model.INPUTS}, "score": {0: "batch"}},
        suffix=".cross-encoder.tmp",
        difference=lambda exported: float(np.abs(CrossEncoder(model_dir, exported).logits(check) - expected).max()),
        max_diff=EXPORT_MAX_ABS_DIFF,
        what="ONNX export of the cross-encoder",
    )


# --- run time ---------------------------------------------------------------------------------------


class CrossEncoder:
    """Tokenizer plus onnxruntime session; re-entrant, like the embedding encoder."""

    def __init__(self, model_dir: Path, onnx_file: Path, *, threads: int = 1, weight: float = 1.0) -> None:
        self.weight = weight  # of its logits against the ranker's, fitted with the updates (blend)
        self._tokenizer = tokenizer(model_dir)
        self._session = onnx_model.session(onnx_file, threads=threads)

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, {name: batch[name] for name in onnx_model.INPUTS})[0]

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """One logit per text: how likely it is the sentence that answers the question."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.logits(encode_pairs(self._tokenizer, question, texts))


def delta_path() -> Path:
    """READER_CROSS_ENCODER_PATH (relative: to the project), default the package's own file."""
    configured = settings.READER_CROSS_ENCODER_PATH
    if not configured:
        return DELTA_PATH
    path = Path(configured)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def digest() -> str:
    """Which updates reread the sentences ("" when none): part of every reply's configuration."""
    path = delta_path()
    if not path.is_file():
        return ""
    stat = path.stat()
    return _file_digest(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _file_digest(path: str, inode: int, size: int, mtime_ns: int) -> str:
    """Once per version of the file: the key changes whenever the file could have."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


_lock = threading.Lock()


@lru_cache(maxsize=1)
def load() -> CrossEncoder | None:
    """The process's cross-encoder, exported on first use; None when there are no trained updates.
    Raises RuntimeError, once per process, when it cannot be built (the failure is remembered:
    no turn pays for a second attempt)."""
    with _lock:
        path = delta_path()
        if not path.is_file():
            return None
        model_dir = Path(embeddings.model_path())
        try:
            target = ensure_exported(model_dir, default_path(model_dir, embeddings.onnx_dir(), path), path)
            with np.load(path) as data:
                weight = float(data["blend"]) if "blend" in data.files else 1.0
            return CrossEncoder(model_dir, target, threads=settings.EMBEDDING_THREADS, weight=weight)
        except (OSError, ImportError, KeyError, RuntimeError) as exc:
            raise RuntimeError(
                f"the reader's cross-encoder cannot be built from {path} ({exc}); "
                "set READER_CROSS_ENCODER_CANDIDATES=0 or make EMBEDDING_ONNX_DIR writable"
            ) from exc
