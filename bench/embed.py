"""Embedding one question: the ONNX backend against sentence-transformers (torch).

For each backend, every question of the public support sets (ConditionalQA and
doc2dial) is embedded alone, uncached, after a warm-up, in alternating blocks
so that both see the same machine state; reported are p50/p95 milliseconds and
the largest difference between the two backends' vectors. No database.

    .venv/bin/python bench/embed.py [--limit 600]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=600, help="questions to embed per backend")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()
    import numpy as np
    import torch
    from django.conf import settings

    from core import embeddings

    torch.set_num_threads(settings.EMBEDDING_THREADS)
    questions = [" ".join(q.split()).lower() for q in _common.load_questions()][: args.limit]
    encoder = embeddings.get_encoder()
    model = embeddings.get_model()

    def onnx(text: str) -> np.ndarray:
        return encoder.encode([text], batch_size=1)[0]

    def st(text: str) -> np.ndarray:
        return model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[0]

    backends = {"onnx": onnx, "torch (sentence-transformers)": st}
    for fn in backends.values():
        for text in questions[:20]:
            fn(text)
    times: dict[str, list[float]] = {name: [] for name in backends}
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in backends}
    block = 25
    for start in range(0, len(questions), block):
        for name, fn in backends.items():
            for text in questions[start : start + block]:
                began = time.perf_counter()
                vectors[name].append(fn(text))
                times[name].append((time.perf_counter() - began) * 1000)
    diff = float(np.abs(np.array(vectors["onnx"]) - np.array(vectors["torch (sentence-transformers)"])).max())
    facts = _common.machine()
    print(f"command: .venv/bin/python bench/embed.py {' '.join(sys.argv[1:])}".rstrip())
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    print(f"{len(questions)} questions, one at a time, EMBEDDING_THREADS={settings.EMBEDDING_THREADS}")
    rows = [[name, f"{_common.median(t):.2f}", f"{_common.percentile(t, 95):.2f}"] for name, t in times.items()]
    print(_common.table(["backend", "p50 ms", "p95 ms"], rows))
    print(f"largest difference between the backends' vector components: {diff:.2e}")


if __name__ == "__main__":
    main()
