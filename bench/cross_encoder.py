"""The cross-encoder of the reader (#17), trained here: reading question and sentence together to choose
the answer sentence of a help centre among the feature ranker's best (support/reader/cross_encoder.py).

Four steps, each writing under var/cross-encoder/:
  data   the training pairs: every train-split turn of the reader's own simulation (doc2dial's train documents
         plus the training help centres, support/reader/data/shops/), its gold sentences (at most two) and the
         committed ranker's seven best non-gold sentences as hard negatives (with the ranker's logits); the calib
         split likewise.
  train  LoRA updates (rank --rank) of the linear layers of MiniLM's top --layers blocks (the embedding model's own
         weights; the blocks below frozen, run once per pair) and a linear head on the mean of its token states,
         trained listwise (softmax over a turn's candidates) for --epochs; 4 turns a step, AdamW 3e-4 (head 1e-3),
         inputs "question" / "heading — sentence" cut to 128 tokens. Writes delta.npz (about 1.3 MB) and a
         checkpoint after each whole epoch. Use OMP_NUM_THREADS=1 on a shared machine.
  fit    the blend weight of its logits against the ranker's, chosen on the calib split; written into delta.npz.
  eval   calib top-1 among each turn's candidates; then the development shops (bench/shops/hallby-home and the
         demo, loaded as bench/shops.py loads them): which sentence of the retrieved chunks comes first, for the
         cross-encoder and for the reader, counted as "the article is right", "the sentence holding the fact
         comes first within the right article" and "first overall".
The committed updates are support/reader/cross_encoder.npz: copy delta.npz there after fit.

Run from the project root:
  .venv/bin/python bench/cross_encoder.py data
  .venv/bin/python bench/cross_encoder.py train --epochs 2
  .venv/bin/python bench/cross_encoder.py fit
  .venv/bin/python bench/cross_encoder.py eval
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from support.reader import cross_encoder

OUT = _common.ROOT / "var" / "cross-encoder"
NEGATIVES = 7
TURNS_PER_STEP = 4


def make_data() -> None:
    """Candidates per simulated turn, from the same simulation train_reader fits the ranker on."""
    from support.reader import model as reader_model
    from support.reader import training

    ranker = reader_model.Reader.load(reader_model.MODEL_PATH)
    corpus, split_of, group_of, _, _ = training.load_corpus(
        cache_dir=_common.ROOT / "var/cache/reader", shops=training.SHOPS
    )
    sim = training.Simulator(corpus, split_of, group_of)
    out = {}
    for split in ("train", "calib"):
        turns = []
        for t in sim.turns(split, "full"):
            if not t.y.sum():
                continue
            texts = []
            for ci, j in t.keys:
                chunk = t.chunks[ci]
                a, b = chunk["sentence_spans"][j]
                texts.append(cross_encoder.pair_text(chunk["heading_path"], chunk["text"][a:b]))
            logits = ranker.sent.logit(t.X)
            gold = [i for i in range(len(texts)) if t.y[i]][:2]
            hard = [int(i) for i in np.argsort(-logits) if not t.y[i]][:NEGATIVES]
            qid = corpus.questions[t.qi]["qid"]
            turns.append(
                {
                    "question": corpus.questions[t.qi]["question"],
                    "source": "shop" if qid.startswith("shop:") else "doc2dial",
                    "candidates": [texts[i] for i in gold + hard],
                    "gold": [1] * len(gold) + [0] * len(hard),
                    "ranker_top1": int(t.y[int(np.argmax(logits))]),
                    "ranker": [round(float(logits[i]), 4) for i in gold + hard],
                }
            )
        out[split] = turns
        print(f"{split}: {len(turns)} turns ({sum(t['source'] == 'shop' for t in turns)} from training shops)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pairs.json").write_text(json.dumps(out))


def _lower_states(net, tok, data: list[dict], first: int) -> list:
    """Every pair's hidden states entering block `first`, computed once: the blocks below are frozen,
    so each training step runs only the blocks that learn (float16, each cut to its real tokens)."""
    import torch

    pairs = [(t["question"], c) for t in data for c in t["candidates"]]
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    states: list = [None] * len(pairs)
    start = time.perf_counter()
    with torch.no_grad():
        for at in range(0, len(order), 64):
            rows = order[at : at + 64]
            batch = cross_encoder.encode_pairs(tok, [pairs[i][0] for i in rows], [pairs[i][1] for i in rows])
            out = net.encoder(**{k: torch.from_numpy(v) for k, v in batch.items()}, output_hidden_states=True)
            lengths = batch["attention_mask"].sum(1)
            for k, i in enumerate(rows):
                states[i] = out.hidden_states[first][k, : lengths[k]].to(torch.float16).clone()
    print(f"{len(pairs)} pairs through the {first} frozen blocks in {time.perf_counter() - start:.0f} s", flush=True)
    return states


def train(epochs: float, rank: int, layers: int, sources: set[str], pointwise: float, target: Path) -> None:
    """LoRA updates of the linear layers of the top `layers` blocks plus the head; only those are
    saved (`target`). `sources`: which turns train ("doc2dial", "shop"); `pointwise`: the weight of a
    per-sentence logistic loss (gold or not) beside the listwise one, so that a logit also says how
    likely one sentence answers on its own (a turn's softmax leaves its level free)."""
    import torch

    from core import embeddings

    torch.manual_seed(13)
    random.seed(13)
    data = [t for t in json.loads((OUT / "pairs.json").read_text())["train"] if t["source"] in sources]
    print(f"{len(data)} train turns from {', '.join(sorted(sources))}", flush=True)
    model_dir = Path(embeddings.model_path())
    tok = cross_encoder.tokenizer(model_dir)
    net = cross_encoder.network(model_dir, rank=rank, alpha=2.0 * rank, layers=layers)
    first = net.encoder.config.num_hidden_layers - layers
    states = _lower_states(net, tok, data, first)
    offsets = np.cumsum([0] + [len(t["candidates"]) for t in data])
    net.train()
    adapters = [p for p in net.encoder.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [{"params": adapters, "lr": 3e-4}, {"params": net.head.parameters(), "lr": 1e-3}], weight_decay=0.01
    )
    order = list(range(len(data)))
    random.shuffle(order)
    steps = int(len(data) / TURNS_PER_STEP * epochs)
    per_epoch = len(data) // TURNS_PER_STEP
    start = time.perf_counter()
    for step in range(steps):
        turns = [order[(step * TURNS_PER_STEP + k) % len(data)] for k in range(TURNS_PER_STEP)]
        rows = [states[i] for t in turns for i in range(offsets[t], offsets[t + 1])]
        width = max(len(r) for r in rows)
        hidden = torch.zeros(len(rows), width, rows[0].shape[1])
        mask = torch.zeros(len(rows), width)
        for k, r in enumerate(rows):
            hidden[k, : len(r)] = r.float()
            mask[k, : len(r)] = 1.0
        additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for block in net.encoder.encoder.layer[first:]:
            out = block(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        scores = net.head(pooled).squeeze(-1)
        loss = scores.new_zeros(())
        offset = 0
        for t in turns:
            n = int(offsets[t + 1] - offsets[t])
            s = scores[offset : offset + n]
            offset += n
            gold = torch.tensor(data[t]["gold"], dtype=torch.bool)
            loss = loss + torch.logsumexp(s, 0) - torch.logsumexp(s[gold], 0)
            if pointwise:
                loss = loss + pointwise * torch.nn.functional.binary_cross_entropy_with_logits(s, gold.float())
        optimiser.zero_grad()
        (loss / len(turns)).backward()
        optimiser.step()
        if step % 100 == 0:
            elapsed = time.perf_counter() - start
            print(f"step {step}/{steps}: loss {float(loss.detach()) / len(turns):.3f}, {elapsed:.0f} s", flush=True)
        if (step + 1) % per_epoch == 0 and step + 1 < steps:  # a checkpoint a whole epoch
            checkpoint = target.with_name(f"{target.stem}-epoch{(step + 1) // per_epoch}.npz")
            np.savez(checkpoint, **cross_encoder.delta_of(net))
    np.savez(target, **cross_encoder.delta_of(net))
    print(f"wrote {target} after {time.perf_counter() - start:.0f} s")


def _scorer(delta: Path, threads: int | None = None):
    """The ONNX cross-encoder built from `delta`, exactly as the turn would load it."""
    from core import embeddings

    model_dir = Path(embeddings.model_path())
    target = cross_encoder.ensure_exported(model_dir, cross_encoder.default_path(model_dir, OUT, delta), delta)
    return cross_encoder.CrossEncoder(model_dir, target, threads=threads or int(os.environ.get("OMP_NUM_THREADS", "2")))


def fit(weights: Path) -> None:
    """The blend weight: how much the cross-encoder's logits count against the ranker's, chosen on the
    calib split (top-1 among each turn's gold and hard negatives), stored in the updates' file."""
    model = _scorer(weights)
    calib = [t for t in json.loads((OUT / "pairs.json").read_text())["calib"] if "ranker" in t]
    reread = [model.score(t["question"], t["candidates"]) for t in calib]
    rows = []
    for w in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 1e3):
        hits = {"doc2dial": 0, "shop": 0}
        for t, ce in zip(calib, reread, strict=True):
            z = np.array(t["ranker"]) + w * (ce - ce.max())
            hits[t["source"]] += t["gold"][int(np.argmax(z))]
        rows.append((hits["doc2dial"] + hits["shop"], w, hits))
        print(f"blend {w:g}: top-1 doc2dial {hits['doc2dial']}, shops {hits['shop']}", flush=True)
    best = max(rows, key=lambda r: (r[0], -r[1]))[1]
    with np.load(weights) as data:
        saved = {key: data[key] for key in data.files}
    np.savez(weights, **{**saved, "blend": np.array(best, dtype=np.float32)})
    print(f"blend {best:g} written to {weights} ({len(calib)} calib turns)")


def evaluate(weights: Path) -> None:
    os.environ["EMBEDDED_PGDATA"] = str(_common.ROOT / "var" / "bench-shops-pgdata")
    _common.setup_django()
    model = _scorer(weights)
    calib = json.loads((OUT / "pairs.json").read_text())["calib"]
    top1: dict[str, list[int]] = {}
    for t in calib:
        scores = model.score(t["question"], t["candidates"])
        row = top1.setdefault(t["source"], [0, 0, 0])
        row[0] += t["gold"][int(np.argmax(scores))]
        row[1] += t["ranker_top1"]
        row[2] += 1
    # What a turn pays: the ranker's best 12 sentences of a calib turn reread at once, one thread.
    timer = _scorer(weights, threads=1)
    spent = []
    for t in calib[:120]:
        texts = (t["candidates"] * 2)[:12]
        begin = time.perf_counter()
        timer.score(t["question"], texts)
        spent.append((time.perf_counter() - begin) * 1000)
    print(f"12 sentences reread: p50 {np.percentile(spent, 50):.1f} ms, p95 {np.percentile(spent, 95):.1f} ms")
    for source, (ce, ranker, n) in top1.items():
        print(f"calib {source}: top-1 cross-encoder {ce} of {n} (among gold + {NEGATIVES} hard negatives), "
              f"ranker {ranker} of {n} (among all its candidates)")  # fmt: skip
    try:
        for name in ("hallby-home", "demo"):
            print(name, shop_figures(model, name))
    finally:
        _common.stop_server()


def shop_figures(model, name: str) -> dict:
    from django.conf import settings

    from bench import shops
    from core import embeddings
    from knowledge import selectors
    from knowledge.models import KnowledgeState
    from support import evaluation
    from support.pipeline import read

    kb, path = shops.shops_available()[name]
    shops.load_kb(kb)
    facts = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    generation = KnowledgeState.current()
    counts = {"questions": 0, "article_ce": 0, "article_reader": 0, "fact_in_article_ce": 0,
              "fact_in_article_reader": 0, "fact_first_ce": 0, "fact_first_reader": 0}  # fmt: skip
    for row, raw in zip(evaluation.load_rows(path), facts, strict=True):
        if row.expected_kind != "grounded" or not raw.get("must_contain"):
            continue
        vector = embeddings.embed_query(row.question)
        hits = selectors.chunk_search(
            query=row.question, vector=vector, k=settings.CHAT_RETRIEVAL_K, generation=generation
        )
        sentences = [
            (i, j, h.source_key, cross_encoder.pair_text(h.heading_path, h.text[a:b]), h.text[a:b])
            for i, h in enumerate(hits)
            for j, (a, b) in enumerate(h.sentence_spans)
        ]
        if not sentences:
            continue
        ce = model.score(row.question, [s[3] for s in sentences])
        reading = read.read(row.question, vector, hits, generation)
        p = {(c.hit, c.index): c.p for c in reading.candidates}
        reader = np.array([p.get((s[0], s[1]), -1.0) for s in sentences])
        fact = raw["must_contain"][0].lower()
        article = [k for k, s in enumerate(sentences) if s[2] == row.expected_document]
        counts["questions"] += 1
        for label, scores in (("ce", ce), ("reader", reader)):
            first = int(np.argmax(scores))
            right_article = sentences[first][2] == row.expected_document
            counts[f"article_{label}"] += right_article
            counts[f"fact_first_{label}"] += right_article and fact in sentences[first][4].lower()
            if article:
                best = max(article, key=lambda k: scores[k])
                counts[f"fact_in_article_{label}"] += fact in sentences[best][4].lower()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["data", "train", "fit", "eval"])
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--rank", type=int, default=32, help="the LoRA updates' rank")
    parser.add_argument("--layers", type=int, default=2, help="how many of the top blocks learn")
    parser.add_argument("--weights", type=Path, default=OUT / "delta.npz", help="the updates (train: written there)")
    parser.add_argument(
        "--sources", default="doc2dial,shop", help="train: turns that learn: doc2dial, shop (training help centres)"
    )
    parser.add_argument("--pointwise", type=float, default=0.0, help="train: weight of a per-sentence logistic loss")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.step == "eval":
        evaluate(args.weights)
        return
    # data and train read no database: Django's settings only (the embedding model's path, the parsers)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    if args.step == "data":
        make_data()
    elif args.step == "fit":
        fit(args.weights)
    else:
        train(args.epochs, args.rank, args.layers, set(args.sources.split(",")), args.pointwise, args.weights)


if __name__ == "__main__":
    main()
