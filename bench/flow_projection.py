"""The experiment behind "a learned map of the MiniLM vectors was measured and dropped" (docs/flows.md).

    .venv/bin/python bench/flow_projection.py [--threshold T ...]   # ~5 min on 2 shared cores

A 384 x 384 linear map of the MiniLM vectors (started at the identity), learned from public intent
sets so that messages of the same intent sit closer and messages of intents no flow covers sit
further away. Prototypical episodes: 48 intents of one data set, 5 support and 5 query messages
each; a quarter of the intents appear only as queries, whose target is "none" (a column with a
learned fixed score), as do 10 of CLINC150's out-of-scope train messages; cross-entropy over the
cosines to the support means x 16, plus a pull towards the identity; Adam, 600 steps (torch, CPU).

For each half of CLINC150's domains (75 intents), a map is trained on the other half's train rows
and all of HWU64 (kept in var/bench-flow-triggers/), and the trigger matcher (flows/matching.py)
is fitted on 10 examples an intent of the held-out half, on MiniLM's vectors and on the mapped
ones: all 75 intents, and random 10, 20 and 40 of them (two draws). Scored on their test rows plus
CLINC150's 1,000 out-of-scope test messages: top-1, in-scope accuracy at the threshold that rejects
85 % of the out-of-scope messages (chosen on those rows: how separable, not a product figure), and
in scope / no-flow recall at each --threshold.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402
from bench.flow_triggers import CACHE, HALVES, _draw, _rows, _unit, _vectors  # noqa: E402

STEPS = 600
INTENTS_PER_EPISODE = 48
SHOTS = 5
UNKNOWN_SHARE = 0.25
SCALE = 16.0
IDENTITY_PULL = 1e-2
LEARNING_RATE = 1e-3


def train(vectors: np.ndarray, labels: list[str], *, steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """The map (384 x 384, float32) learned from unit vectors and their `source:intent` labels."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.tensor(np.asarray(vectors), dtype=torch.float32)
    dims = x.shape[1]
    intents = sorted({k for k in labels if not k.endswith(":oos")})
    index = {k: j for j, k in enumerate(intents)}
    members: list[list[int]] = [[] for _ in intents]
    unscoped: list[int] = []
    for i, k in enumerate(labels):
        (unscoped if k.endswith(":oos") else members[index[k]]).append(i)
    source = np.array([k.split(":")[0] for k in intents])
    eye = torch.eye(dims)
    weights = torch.nn.Parameter(eye.clone())
    none_score = torch.nn.Parameter(torch.tensor(0.5))
    optimiser = torch.optim.Adam([weights, none_score], lr=LEARNING_RATE)

    def project(rows: list[int] | np.ndarray) -> torch.Tensor:
        return torch.nn.functional.normalize(x[rows] @ weights, dim=1)

    for _ in range(steps):
        pool = np.where(source == rng.choice(np.unique(source)))[0]
        chosen = rng.choice(pool, size=min(INTENTS_PER_EPISODE, len(pool)), replace=False)
        known = chosen[: int(len(chosen) * (1 - UNKNOWN_SHARE))]
        support, query, target = [], [], []
        for j, c in enumerate(known):
            picked = rng.choice(members[c], size=2 * SHOTS, replace=False)
            support.append(picked[:SHOTS])
            query += list(picked[SHOTS:])
            target += [j] * SHOTS
        for c in chosen[len(known) :]:
            query += list(rng.choice(members[c], size=SHOTS, replace=False))
            target += [len(known)] * SHOTS
        if source[chosen[0]] == "c" and unscoped:
            extra = rng.choice(unscoped, size=min(2 * SHOTS, len(unscoped)), replace=False)
            query += list(extra)
            target += [len(known)] * len(extra)
        means = project(np.concatenate(support)).view(len(known), SHOTS, -1).mean(1)
        means = torch.nn.functional.normalize(means, dim=1)
        cosines = project(query) @ means.T
        logits = torch.cat([cosines, none_score.expand(len(query), 1)], 1) * SCALE
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(target))
        loss = loss + IDENTITY_PULL * ((weights - eye) ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weights.detach().numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, nargs="*", default=[0.5, 0.55, 0.6, 0.65])
    args = parser.parse_args()
    _common.setup_django()
    from flows import matching

    clinc = _rows("clinc150.jsonl")
    xc = _vectors("clinc150", clinc)
    hwu = _rows("hwu64.jsonl")
    xh = _vectors("hwu64", hwu)
    domains: dict[str, set[str]] = defaultdict(set)
    for r in clinc:
        domains[r["domain"]].add(r["intent"])
    oos_rows = [i for i, r in enumerate(clinc) if r["split"] == "test" and r["intent"] == "oos"]
    for n, half in enumerate(HALVES):
        held = sorted({i for d in half for i in domains[d]})
        path = CACHE / f"trigger_map_without_half{n + 1}.npy"
        if path.exists():
            projection = np.load(path)
        else:
            train = [i for i, r in enumerate(clinc) if r["split"] == "train" and r["intent"] not in set(held)]
            labels = [f"c:{clinc[i]['intent']}" for i in train] + [f"h:{r['intent']}" for r in hwu]
            projection = train(np.vstack([xc[train], xh]), labels)
            np.save(path, projection)
        tasks = [(f"half {n + 1}, 75 intents", set(held))]
        for k in (10, 20, 40):
            for seed in (0, 1):
                tasks.append((f"half {n + 1}, {k} intents (draw {seed})", set(random.Random(seed).sample(held, k))))
        for label, intents in tasks:
            shots = _draw(clinc, intents, 0)
            tests = [i for i, r in enumerate(clinc) if r["split"] == "test" and r["intent"] in intents] + oos_rows
            gold = np.array([clinc[i]["intent"] for i in tests], dtype=object)
            oos = gold == "oos"
            by: dict[str, list[int]] = defaultdict(list)
            for i in shots:
                by[clinc[i]["intent"]].append(i)
            names = sorted(by)
            line = [f"{label:30}"]
            for name, p in (("MiniLM", None), ("map", projection)):
                x = xc if p is None else _unit(xc @ p)
                matcher = matching.fit([(k, x[by[k]]) for k in names])
                best = [matcher.score(q)[0] for q in _unit(x[tests])]
                right = np.array([names[b.index] for b in best], dtype=object) == gold
                conf = np.array([b.confidence for b in best])
                oracle = (right & (conf >= np.quantile(conf[oos], 0.85)))[~oos].mean()
                fixed = []
                for t in args.threshold:
                    fire = conf >= matcher.threshold(t)
                    fixed.append(f"{t}: {(right & fire)[~oos].mean():.3f}/{(~fire[oos]).mean():.3f}")
                line.append(f"{name} top-1 {right[~oos].mean():.3f} @85% {oracle:.3f} | " + "  ".join(fixed))
            print("  ||  ".join(line), flush=True)


if __name__ == "__main__":
    main()
