"""Slot accuracy on ABCD: flows built from the real agent guidelines, fed the real customer turns.

For each of the 47 ABCD conversations in ../shared/benchmarks/flows/train.jsonl, one flow is built
from its subflow's guideline steps (flows.json): a `collect` step for every slot the steps name, in
the guideline's order (email → email; order id → a 10-digit pattern; zip code, phone → patterns;
a slot with an ontology value list → choice; anything else → free text), then `end`. The customer's
turns are fed to the engine in order (the first turns start the flow); the agent's questions are
not (the flow asks its own). A slot is right when the flow ends with the value the agent recorded
in the conversation's action for that slot (case and spacing ignored). Only slots both the flow
and the conversation's actions have are scored.

    .venv/bin/python bench/abcd_flows.py [--data ../shared/benchmarks/flows]

No database and no network: the engine is plain functions. A small sample (47 conversations); the
customers answered a person who asked in their own order, not this flow.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows import engine
from flows.spec import parse

PATTERNS = {
    "order_id": r"\b\d{10}\b",
    "zip_code": r"\b\d{5}\b",
    "phone": r"\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}",
}


def slot_step(name: str, values: list[str] | None) -> dict:
    step = {"collect": name, "prompt": f"What is your {name.replace('_', ' ')}?"}
    if name == "email":
        step["type"] = "email"
    elif name in PATTERNS:
        step.update(type="order_number", pattern=PATTERNS[name])
    elif values:
        step.update(type="choice", choices=sorted({str(v).lower() for v in values}))
    else:
        step["type"] = "text"
    return step


def build(subflow: dict) -> dict:
    steps, seen = [], set()
    for guideline_step in subflow["steps"]:
        for slot in guideline_step.get("slots") or []:
            if slot["name"] not in seen:
                seen.add(slot["name"])
                steps.append(slot_step(slot["name"], slot.get("values")))
    steps.append({"end": "done"})
    return {
        "name": re.sub(r"[^a-z0-9_-]", "-", subflow["id"].lower()),
        "objective": subflow["name"],
        "triggers": ["x"],
        "steps": steps,
    }


def norm(value: str) -> str:
    return re.sub(r"[^a-z0-9@.]", "", str(value).lower())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "flows"))
    parser.add_argument(
        "--patient", action="store_true", help="no hand-over after failed tries: how well slots are read, alone"
    )
    args = parser.parse_args()
    if args.patient:
        engine.FAILED_TRIES = 10**6
    data = Path(args.data)
    subflows = {s["id"]: s for f in json.loads((data / "flows.json").read_text())["flows"] for s in f["subflows"]}
    rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines() if line.strip()]
    right, total = Counter(), Counter()
    ended = Counter()
    for row in rows:
        spec = parse(build(subflows[row["subflow"]]))
        kinds = {s.slot: s.type for s in spec.collects()}
        expected = {}
        for action in row["actions"]:
            for name, value in action["slots"].items():
                if name in kinds:
                    expected[name] = value
        if not expected:
            continue
        customer = [t["text"] for t in row["turns"] if t["speaker"] == "customer"]
        first = len(row["first_customer_turns"])
        out = engine.start(
            spec, " ".join(customer[:first]), call=lambda u, p: {}, today=date(2020, 1, 1), max_steps=200
        )
        for text in customer[first:]:
            if out.status != engine.Status.ACTIVE:
                break
            out = engine.advance(spec, out.state, text, call=lambda u, p: {}, today=date(2020, 1, 1), max_steps=200)
        ended[out.status] += 1
        for name, value in expected.items():
            total[kinds[name]] += 1
            right[kinds[name]] += norm(out.state["slots"].get(name, "")) == norm(value)
    all_right, all_total = sum(right.values()), sum(total.values())
    for kind in sorted(total):
        print(f"{kind:14} {right[kind]:>3}/{total[kind]:<3} = {right[kind] / total[kind]:.3f}")
    print(f"conversations scored: {sum(ended.values())}; flows ended: {dict(ended)}")
    print(json.dumps({"slot_accuracy": round(all_right / all_total, 4), "right": all_right, "n": all_total}))


if __name__ == "__main__":
    main()
