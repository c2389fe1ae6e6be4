"""Flow trigger matching on public intent sets of other domains, and its cost per turn.

    .venv/bin/python bench/flow_triggers.py dev      # figures the matcher's constants were chosen on
    .venv/bin/python bench/flow_triggers.py timing   # ms per trigger_match, fit time (own database)
    .venv/bin/python bench/flow_triggers.py demo     # which demo knowledge questions reach a demo flow

`dev` runs flows/matching.py directly (no database) on the development tasks of docs/flows.md:
CLINC150 (flows/data/clinc150.jsonl) with 10 train examples an intent and the test split plus its
1,000 out-of-scope test messages, for the intents of each half of the domains (75), random subsets
of 10-80 intents, and all 150; and HWU64 (flows/data/hwu64.jsonl, 64 intents, 10 examples, 30 test
rows an intent) with CLINC's out-of-scope test messages. Beside the matcher, the nearest-centroid
and the session-16 scorer (0.6 x nearest example + 0.4 x centroid, threshold 0.62). BANKING77 is
never read here: it is the report (`manage.py evaluate_triggers`), not a development set.

`timing` builds the demo's three flows, then 75 CLINC intents as flows, in bench's own database,
and times `flows.selectors.trigger_match` (the call a turn makes) on 200 messages.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _common  # noqa: E402

DATA = ROOT / "flows" / "data"
CACHE = ROOT / "var" / "bench-flow-triggers"
# The halves of CLINC150's ten domains (each half: 75 intents).
HALVES = (
    ("banking", "kitchen_and_dining", "auto_and_commute", "utility", "small_talk"),
    ("credit_cards", "home", "travel", "work", "meta"),
)


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _vectors(name: str, rows: list[dict]) -> np.ndarray:
    """Every row's vector as the chat embeds it, cached under var/ (embedding 34k rows takes minutes)."""
    from core import embeddings
    from core.text import question_key

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.npy"
    if path.exists():
        cached = np.load(path)
        if len(cached) == len(rows):
            return cached
    vectors = np.asarray(embeddings.embed_passages([question_key(r["text"]) for r in rows], batch_size=128))
    np.save(path, vectors.astype(np.float32))
    return vectors


def _draw(rows: list[dict], intents: set[str], seed: int, split: str = "train") -> list[int]:
    rng = random.Random(seed)
    by: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r["intent"] in intents and r["split"] == split:
            by[r["intent"]].append(i)
    return [i for k in sorted(by) for i in rng.sample(by[k], 10)]


def hwu_split(intents: list[str], seed: int = 0) -> tuple[list[int], list[int]]:
    """HWU64's rows for a 10-shot task: 10 examples and 30 test rows an intent (shuffled with `seed`)."""
    rng = random.Random(seed)
    by: dict[str, list[int]] = defaultdict(list)
    for i, intent in enumerate(intents):
        by[intent].append(i)
    shots, tests = [], []
    for k in sorted(by):
        idx = by[k][:]
        rng.shuffle(idx)
        shots += idx[:10]
        tests += idx[10:40]
    return shots, tests


def _tasks():
    clinc = _rows("clinc150.jsonl")
    xc = _vectors("clinc150", clinc)
    domains: dict[str, set[str]] = defaultdict(set)
    for r in clinc:
        domains[r["domain"]].add(r["intent"])
    every = sorted({r["intent"] for r in clinc if r["intent"] != "oos"})
    test = [i for i, r in enumerate(clinc) if r["split"] == "test"]
    labels = [r["intent"] for r in clinc]

    def clinc_task(intents: set[str]):
        return xc, labels, _draw(clinc, intents, 0), [i for i in test if labels[i] in intents or labels[i] == "oos"]

    for k in (10, 20, 40, 80):
        for seed in (0, 1):
            yield f"CLINC150, {k} random intents (draw {seed})", *clinc_task(set(random.Random(seed).sample(every, k)))
    for n, half in enumerate(HALVES):
        yield f"CLINC150, domain half {n + 1} (75 intents)", *clinc_task({i for d in half for i in domains[d]})
    yield "CLINC150, all 150 intents", *clinc_task(set(every))
    hwu = _rows("hwu64.jsonl")
    xh = _vectors("hwu64", hwu)
    shots, tests = hwu_split([r["intent"] for r in hwu])
    oos = [i for i, r in enumerate(clinc) if r["intent"] == "oos" and r["split"] == "test"]
    x = np.vstack([xh, xc[oos]])
    hl = [r["intent"] for r in hwu] + ["oos"] * len(oos)
    yield "HWU64 (64 intents) + CLINC150's out-of-scope", x, hl, shots, tests + [len(hwu) + j for j in range(len(oos))]


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def dev() -> None:
    _common.setup_django()
    from django.conf import settings

    from flows import matching

    base = settings.FLOW_TRIGGER_THRESHOLD
    print(f"threshold {base}; in-scope accuracy / out-of-scope recall (a rejected in-scope message is wrong)")
    print(f"{'task':48} {'flows':>5} {'matcher':>13} {'fit s':>6} {'centroid top-1':>14} {'s16 @0.62':>13}")
    for name, x, labels, shots, tests in _tasks():
        by: dict[str, list[int]] = defaultdict(list)
        for i in shots:
            by[labels[i]].append(i)
        names = sorted(by)
        start = time.perf_counter()
        matcher = matching.fit([(k, x[by[k]]) for k in names])
        fit_s = time.perf_counter() - start
        gold = np.array([labels[i] for i in tests], dtype=object)
        ins = gold != "oos"
        q = _unit(x[tests]).astype(np.float32)
        picks, conf = [], []
        for v in q:
            best = matcher.score(v)[0]
            picks.append(names[best.index])
            conf.append(best.confidence)
        fire = np.array(conf) >= matcher.threshold(base)
        right = np.array(picks, dtype=object) == gold
        ours = f"{(right & fire)[ins].mean():.3f}/{(~fire[~ins]).mean():.3f}"
        centroid = np.array(names, dtype=object)[(q @ matcher.centroids.T).argmax(1)]
        # the session-16 scorer
        sims = q @ matcher.examples.T
        nearest = np.stack([sims[:, matcher.owner == j].max(1) for j in range(len(names))], 1)
        blend = 0.6 * nearest + 0.4 * (q @ matcher.centroids.T)
        old_fire = blend.max(1) >= 0.62
        old_right = np.array(names, dtype=object)[blend.argmax(1)] == gold
        old = f"{(old_right & old_fire)[ins].mean():.3f}/{(~old_fire[~ins]).mean():.3f}"
        print(f"{name:48} {len(names):>5} {ours:>13} {fit_s:>6.2f} {(centroid == gold)[ins].mean():>14.3f} {old:>13}")


def timing() -> None:
    _common.setup_django()
    import yaml
    from django.db import connection, transaction

    from core import embeddings
    from core.embeddings import vector_literal
    from flows import selectors, services

    embeddings.warm()
    clinc = _rows("clinc150.jsonl")
    every = sorted({r["intent"] for r in clinc if r["intent"] != "oos"})
    messages = [r["text"] for r in clinc if r["split"] == "val"][:200]
    vectors = [embeddings.embed_query(m) for m in messages]
    demo = yaml.safe_load((ROOT / "demo" / "flows.yaml").read_text())["flows"]
    intents = random.Random(0).sample(every, 75)
    examples = {k: [clinc[i]["text"] for i in _draw(clinc, {k}, 0)] for k in intents}
    sets = [("demo's 3 flows", demo), ("75 CLINC150 intents", [_flow(k, t) for k, t in examples.items()])]
    for label, flows in sets:
        with transaction.atomic():
            for definition in flows:
                services.flow_version_approve(version=services.flow_version_create(definition=definition))
            start = time.perf_counter()
            selectors.trigger_match(vector=vectors[0])
            fit_ms = (time.perf_counter() - start) * 1000
            times = []
            for v in vectors:
                start = time.perf_counter()
                selectors.trigger_match(vector=v)
                times.append((time.perf_counter() - start) * 1000)
            old = []
            with connection.cursor() as cursor:
                for v in vectors:
                    start = time.perf_counter()
                    cursor.execute(SESSION16_SQL, {"vec": vector_literal(v)})
                    cursor.fetchall()
                    old.append((time.perf_counter() - start) * 1000)
            transaction.set_rollback(True)
        times.sort()
        old.sort()
        print(
            f"{label}: first match (fits the matcher) {fit_ms:.0f} ms; then per message p50 "
            f"{statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms ({len(times)} messages); "
            f"session 16's SQL scorer p50 {statistics.median(old):.2f} ms, p95 {old[int(len(old) * 0.95)]:.2f} ms"
        )


# Session 16's scorer, for the cost comparison: every trigger's cosine in the database, each turn.
SESSION16_SQL = """
SELECT v.id, f.name, max(1 - (t.embedding <=> %(vec)s::vector)), 1 - (avg(t.embedding) <=> %(vec)s::vector)
  FROM flows_flowtrigger t JOIN flows_flowversion v ON v.id = t.version_id JOIN flows_flow f ON f.id = v.flow_id
 WHERE v.status = 'approved' GROUP BY v.id, f.name
"""


def demo() -> None:
    """The demo's knowledge questions (demo/questions.jsonl) are not flow requests: which of them
    reach a demo flow's threshold (the pipeline then still prefers an approved answer that matches
    at least as well, and critical topics go to a person before flows are looked at)."""
    _common.setup_django()
    import yaml
    from django.conf import settings

    from core import embeddings
    from core.text import question_key
    from flows import matching

    flows = yaml.safe_load((ROOT / "demo" / "flows.yaml").read_text())["flows"]
    matcher = matching.fit(
        [(f["name"], embeddings.embed_passages([question_key(t) for t in f["triggers"]])) for f in flows]
    )
    questions = [json.loads(line)["question"] for line in (ROOT / "demo" / "questions.jsonl").read_text().splitlines()]
    limit = matcher.threshold(settings.FLOW_TRIGGER_THRESHOLD)
    reached = []
    for q in questions:
        best = matcher.score(embeddings.embed_query(q))[0]
        if best.confidence >= limit:
            reached.append((round(best.confidence, 3), matcher.keys[best.index], q))
    print(f"{len(reached)} of {len(questions)} demo questions reach a demo flow (threshold {limit}):")
    for row in sorted(reached, reverse=True):
        print("  ", row)


def _flow(intent: str, triggers: list[str]) -> dict:
    return {"name": intent.replace("_", "-"), "objective": intent, "triggers": triggers, "steps": [{"say": "ok"}]}


if __name__ == "__main__":
    {"dev": dev, "timing": timing, "demo": demo}[sys.argv[1] if len(sys.argv) > 1 else "dev"]()
