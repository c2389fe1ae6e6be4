"""Can a metric learned once on public intent sets make the trigger matcher better on a set it never saw?

    .venv/bin/python bench/flow_transfer.py map [--hold clinc]       # ~1 min a held-out set
    .venv/bin/python bench/flow_transfer.py whiten                   # ~2 min
    .venv/bin/python bench/flow_transfer.py top-layer [--hold clinc] # ~20 min on 2 shared cores

Leave one data set out: a transform is learned from the other two of CLINC150 (train split, in scope),
HWU64 and BANKING77 (train split), then the trigger matcher (flows/matching.py: the logistic
regression picks, the typicality-scaled centroid cosine gates) is fitted on 10 examples an intent of
the held-out set, on MiniLM's vectors and on the transformed ones. Reported for each task: top-1 (no
threshold), in-scope accuracy at the threshold that rejects 85 % / 90 % of the out-of-scope
messages (chosen on those rows: how separable, not a product figure). Tasks: CLINC150's 150
intents, its two domain halves and two draws of 20 (test split + its 1,000 out-of-scope test
messages); BANKING77's fewshot10.jsonl on its test split, alone, with 17 intents held out as out of
scope (`evaluate_triggers --hold-out 17 --seed 7`), and with CLINC150's out-of-scope messages;
HWU64 (10 examples, 30 test rows an intent) with CLINC150's out-of-scope messages. A set's test
rows never train anything: the held-out set is not read until the transform is learned.

- `map`: a map of the vectors, x -> unit(x W) (W 384 x 384 from the identity, `--hidden 0`) or
  unit(x + MLP(x)) (`--hidden N`), trained with a supervised contrastive loss (48 intents of one
  source a batch, 4 messages each; AdamW, --steps, --temp).
- `whiten`: centre on the public sets' mean, then ZCA with powers 0.25 / 0.5 / 1 of the covariance.
- `top-layer`: MiniLM's last transformer layer fine-tuned (supervised contrastive, pairs of 48
  intents a step, lr 2e-5), the five below it frozen: their outputs are computed once and cached
  under var/bench-flow-transfer/ (a few minutes a set). What a per-turn trigger vector from a tuned
  copy of the last layer would give, before building one.

Vectors: as the chat embeds a question (`core.text.question_key`, `embed_passages`), cached under
var/bench-flow-transfer/.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402
from bench.flow_triggers import hwu_split  # noqa: E402

DATA = ROOT / "flows" / "data"
BANKING = _common._SHARED / "benchmarks" / "intents" / "banking77"
CACHE = ROOT / "var" / "bench-flow-transfer"
SOURCES = {
    "clinc": DATA / "clinc150.jsonl",
    "hwu": DATA / "hwu64.jsonl",
    "b77train": BANKING / "train.jsonl",
    "b77test": BANKING / "test.jsonl",
}
HALVES = (
    ("banking", "kitchen_and_dining", "auto_and_commute", "utility", "small_talk"),
    ("credit_cards", "home", "travel", "work", "meta"),
)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def _load() -> dict[str, tuple[list[dict], np.ndarray]]:
    from core import embeddings
    from core.text import question_key

    CACHE.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, path in SOURCES.items():
        rows = _rows(path)
        file = CACHE / f"{name}.npy"
        if file.exists() and len(np.load(file)) == len(rows):
            vectors = np.load(file)
        else:
            vectors = embeddings.embed_passages([question_key(r["text"]) for r in rows], batch_size=128)
            np.save(file, vectors.astype(np.float32))
        out[name] = (rows, vectors)
    return out


def _public(data: dict, hold: str) -> tuple[list[int], list[str], list[str]]:
    """(source, row) pairs of the sets other than `hold`, as flat lists: keys, labels, texts."""
    keys, labels, texts = [], [], []
    for source, prefix in (("clinc", "c:"), ("hwu", "h:"), ("b77train", "b:")):
        if source.startswith(hold):
            continue
        for i, r in enumerate(data[source][0]):
            if r["intent"] == "oos" or (source == "clinc" and r["split"] != "train"):
                continue
            keys.append((source, i))
            labels.append(prefix + r["intent"])
            texts.append(r["text"])
    return keys, labels, texts


def _draw(labels: list[str], pool: list[int], intents: set[str], seed: int) -> list[int]:
    rng = random.Random(seed)
    by: dict[str, list[int]] = defaultdict(list)
    for i in pool:
        if labels[i] in intents:
            by[labels[i]].append(i)
    return [i for k in sorted(by) for i in rng.sample(by[k], 10)]


def tasks(data: dict, hold: str):
    """(name, shot vectors, shot intents, test vectors, test intents with 'oos' for no flow)."""
    clinc, xc = data["clinc"]
    oos = [i for i, r in enumerate(clinc) if r["intent"] == "oos" and r["split"] == "test"]
    if hold == "clinc":
        labels = [r["intent"] for r in clinc]
        every = sorted(set(labels) - {"oos"})
        train = [i for i, r in enumerate(clinc) if r["split"] == "train"]
        test = [i for i, r in enumerate(clinc) if r["split"] == "test"]
        domains: dict[str, set[str]] = defaultdict(set)
        for r in clinc:
            domains[r["domain"]].add(r["intent"])
        sets = [("CLINC150, 150 intents", set(every))]
        sets += [(f"CLINC150, half {n + 1}", {i for d in half for i in domains[d]}) for n, half in enumerate(HALVES)]
        sets += [(f"CLINC150, 20 intents (draw {s})", set(random.Random(s).sample(every, 20))) for s in (0, 1)]
        for name, intents in sets:
            shots = _draw(labels, train, intents, 0)
            tests = [i for i in test if labels[i] in intents or labels[i] == "oos"]
            yield name, xc[shots], [labels[i] for i in shots], xc[tests], [labels[i] for i in tests]
    elif hold == "b77":
        train, xt = data["b77train"]
        test, xe = data["b77test"]
        index = {(r["text"], r["intent"]): i for i, r in enumerate(train)}
        shots = [index[(r["text"], r["intent"])] for r in _rows(BANKING / "fewshot10.jsonl")]
        sy = [train[i]["intent"] for i in shots]
        ty = [r["intent"] for r in test]
        yield "BANKING77, 77 intents", xt[shots], sy, xe, ty
        held = set(random.Random(7).sample(sorted(set(sy)), 17))
        keep = [j for j, y in enumerate(sy) if y not in held]
        yield (
            "BANKING77, 17 held out",
            xt[shots][keep],
            [sy[j] for j in keep],
            xe,
            ["oos" if y in held else y for y in ty],
        )
        yield "BANKING77 + CLINC150 oos", xt[shots], sy, np.vstack([xe, xc[oos]]), ty + ["oos"] * len(oos)
    else:
        hwu, xh = data["hwu"]
        labels = [r["intent"] for r in hwu]
        shots, tests = hwu_split(labels)
        yield (
            "HWU64 + CLINC150 oos",
            xh[shots],
            [labels[i] for i in shots],
            np.vstack([xh[tests], xc[oos]]),
            [labels[i] for i in tests] + ["oos"] * len(oos),
        )


def evaluate(sx: np.ndarray, sy: list[str], tx: np.ndarray, ty: list[str]) -> str:
    from flows import matching

    names = sorted(set(sy))
    by: dict[str, list[np.ndarray]] = defaultdict(list)
    for v, y in zip(sx, sy, strict=True):
        by[y].append(v)
    matcher = matching.fit([(k, np.stack(by[k])) for k in names])
    best = [matcher.score(q)[0] for q in _unit(np.asarray(tx, dtype=np.float32))]
    gold = np.array(ty, dtype=object)
    right = np.array([names[b.index] for b in best], dtype=object) == gold
    conf = np.array([b.confidence for b in best])
    oos = gold == "oos"
    line = f"top-1 {right[~oos].mean():.3f}"
    if oos.any():
        for q in (0.85, 0.90):
            line += f"  @{round(q * 100)} {(right & (conf >= np.quantile(conf[oos], q)))[~oos].mean():.3f}"
    return line


def _report(data: dict, hold: str, transforms: list[tuple[str, object]]) -> None:
    for name, sx, sy, tx, ty in tasks(data, hold):
        for label, transform in transforms:
            a, b = (sx, tx) if transform is None else (transform(sx), transform(tx))
            print(f"{name:28} {label:14} {evaluate(a, sy, b, ty)}", flush=True)


def learn_map(x: np.ndarray, labels: list[str], *, hidden: int, steps: int, temp: float, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    class Map(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if hidden:
                self.a = torch.nn.Linear(384, hidden)
                self.b = torch.nn.Linear(hidden, 384)
                torch.nn.init.zeros_(self.b.weight)
                torch.nn.init.zeros_(self.b.bias)
            else:
                self.w = torch.nn.Parameter(torch.eye(384))

        def forward(self, v):
            y = v + self.b(torch.nn.functional.gelu(self.a(v))) if hidden else v @ self.w
            return torch.nn.functional.normalize(y, dim=-1)

    model = Map()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    vectors = torch.tensor(x, dtype=torch.float32)
    groups = _groups(labels)
    for _ in range(steps):
        idx, target = _batch(groups, rng, intents=48, per=4)
        loss = _supcon(model(vectors[idx]), target, temp)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()

    def apply(v: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.tensor(np.asarray(v), dtype=torch.float32)).numpy()

    return apply


def _groups(labels: list[str]) -> dict[str, list[list[int]]]:
    by: dict[str, list[int]] = defaultdict(list)
    for i, y in enumerate(labels):
        by[y].append(i)
    out: dict[str, list[list[int]]] = defaultdict(list)
    for k, members in sorted(by.items()):
        if len(members) >= 4:
            out[k.split(":")[0]].append(members)
    return out


def _batch(groups: dict, rng: np.random.Generator, *, intents: int, per: int):
    source = groups[rng.choice(sorted(groups))]
    chosen = rng.choice(len(source), size=min(intents, len(source)), replace=False)
    idx = np.concatenate([rng.choice(source[c], per, replace=False) for c in chosen])
    return idx, np.repeat(np.arange(len(chosen)), per)


def _supcon(z, target: np.ndarray, temp: float):
    import torch

    y = torch.tensor(target)
    sim = z @ z.T / temp
    eye = torch.eye(len(y), dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    positive = (y[:, None] == y[None, :]) & ~eye
    logp = sim - torch.logsumexp(sim, 1, keepdim=True)
    return (-(logp * positive).sum(1) / positive.sum(1)).mean()


def run_map(args) -> None:
    data = _load()
    for hold in args.hold:
        keys, labels, _ = _public(data, hold)
        x = np.vstack([data[s][1][i] for s, i in keys])
        start = time.perf_counter()
        transform = learn_map(x, labels, hidden=args.hidden, steps=args.steps, temp=args.temp)
        print(f"== {hold} held out: map learned on {len(labels)} rows in {time.perf_counter() - start:.0f} s")
        _report(data, hold, [("MiniLM", None), ("mapped", transform)])


def run_whiten(args) -> None:
    data = _load()
    for hold in args.hold:
        keys, _, _ = _public(data, hold)
        x = np.vstack([data[s][1][i] for s, i in keys])
        mean = x.mean(0)
        values, vectors = np.linalg.eigh(np.cov((x - mean).T))
        transforms = [("MiniLM", None), ("centred", lambda v, m=mean: _unit(v - m))]
        for power in (0.25, 0.5, 1.0):
            scale = vectors @ np.diag((values + 0.1 * values.mean()) ** (-power / 2)) @ vectors.T
            transforms.append((f"ZCA^{power}", lambda v, m=mean, s=scale: _unit((v - m) @ s)))
        print(f"== {hold} held out")
        _report(data, hold, transforms)


def run_top_layer(args) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from core import embeddings
    from core.text import question_key

    torch.set_num_threads(2)
    data = _load()
    model = SentenceTransformer(embeddings.model_path(), device="cpu")
    bert = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    top = bert.encoder.layer[-1]
    bert.encoder.layer = bert.encoder.layer[:-1]

    def below(name: str) -> list:
        """The frozen layers' output for every row of a set (cached)."""
        path = CACHE / f"{name}-below-top.pt"
        if path.exists():
            return torch.load(path)
        texts = [question_key(r["text"]) for r in data[name][0]]
        out: list = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for s in range(0, len(order), 256):
                rows = order[s : s + 256]
                enc = tokenizer(
                    [texts[i] for i in rows], padding=True, truncation=True, max_length=64, return_tensors="pt"
                )
                hidden = bert(**enc).last_hidden_state.half()
                for r, i in enumerate(rows):
                    out[i] = hidden[r, : int(enc["attention_mask"][r].sum())].clone()
        torch.save(out, path)
        return out

    def pooled(layer, seqs: list):
        longest = max(len(s) for s in seqs)
        x = torch.zeros(len(seqs), longest, 384)
        mask = torch.zeros(len(seqs), longest)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = s.float()
            mask[i, : len(s)] = 1
        y = layer(x, attention_mask=(1.0 - mask)[:, None, None, :] * -1e9)
        y = y[0] if isinstance(y, tuple) else y
        m = mask.unsqueeze(-1)
        return torch.nn.functional.normalize((y * m).sum(1) / m.sum(1), dim=-1)

    for hold in args.hold:
        keys, labels, _ = _public(data, hold)
        cached = {s: below(s) for s in {s for s, _ in keys}}
        states = [cached[s][i] for s, i in keys]
        evaluated = {"clinc": ["clinc"], "b77": ["b77train", "b77test", "clinc"], "hwu": ["hwu", "clinc"]}[hold]
        held = {s: below(s) for s in evaluated}
        layer = copy.deepcopy(top).train()
        optimiser = torch.optim.AdamW(layer.parameters(), lr=2e-5, weight_decay=0.01)
        groups = _groups(labels)
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for step in range(1, args.steps + 1):
            idx, target = _batch(groups, rng, intents=48, per=2)
            loss = _supcon(pooled(layer, [states[i] for i in idx]), target, 0.05)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if step in (100, args.steps):
                layer.eval()
                tuned = dict(data)
                with torch.inference_mode():
                    for s, seqs in held.items():
                        v = np.vstack([pooled(layer, seqs[i : i + 256]).numpy() for i in range(0, len(seqs), 256)])
                        tuned[s] = (data[s][0], v)
                print(f"== {hold} held out: top layer after {step} steps ({time.perf_counter() - start:.0f} s)")
                for name, sx, sy, tx, ty in tasks(data, hold):
                    print(f"{name:28} {'MiniLM':14} {evaluate(sx, sy, tx, ty)}", flush=True)
                for name, sx, sy, tx, ty in tasks(tuned, hold):
                    print(f"{name:28} {'top layer':14} {evaluate(sx, sy, tx, ty)}", flush=True)
                layer.train()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("map", "whiten", "top-layer"))
    parser.add_argument("--hold", nargs="*", default=["clinc", "b77", "hwu"], choices=("clinc", "b77", "hwu"))
    parser.add_argument("--hidden", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--temp", type=float, default=0.1)
    args = parser.parse_args()
    _common.setup_django()
    {"map": run_map, "whiten": run_whiten, "top-layer": run_top_layer}[args.what](args)


if __name__ == "__main__":
    main()
