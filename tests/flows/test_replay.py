"""Scripted customer conversations (demo/flow_scripts.jsonl: typos, several slots in one message,
corrections, changes of mind, a knowledge question mid-flow) replayed through the whole turn into
the three demo flows, with the demo's endpoints on a live server and the demo help centre loaded.
Slot accuracy is the share of expected slot values the flow ended with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows import services as flow_services
from support.models import FlowRun
from support.pipeline import run
from support.services import conversation_create

pytestmark = pytest.mark.slow
SCRIPTS = Path(__file__).resolve().parents[2] / "demo" / "flow_scripts.jsonl"


def test_scripted_conversations_fill_the_right_slots(settings, live_server, _memoized_chunk_embeddings, capsys):
    from demo.loader import DEMO_KB
    from knowledge import services as kb
    from knowledge.sources import read_path

    for job in kb.jobs_create(files=read_path(DEMO_KB), verify=True):
        kb.job_run(job_id=job.pk)
    settings.DEMO_ENABLED = True
    settings.FLOW_CALL_BASE_URL = live_server.url
    settings.READER_MIN_ANSWERABLE = 0.0  # the mid-flow questions are about the flow, not the reader
    flow_services.flows_import(
        text=(Path(__file__).resolve().parents[2] / "demo" / "flows.yaml").read_text(), approve=True
    )

    scripts = [json.loads(line) for line in SCRIPTS.read_text().splitlines() if line.strip()]
    right = total = outcomes_right = 0
    misses = []
    for script in scripts:
        conversation = conversation_create(channel="web").conversation
        for text in script["turns"]:
            conversation = run.turn(conversation=conversation, text=text).conversation
        flow_run = FlowRun.objects.filter(conversation=conversation).order_by("-started_at").first()
        if flow_run is None:
            misses.append((script["id"], "no flow started"))
            total += len(script["slots"])
            continue
        assert flow_run.steps < settings.FLOW_MAX_STEPS, f"{script['id']}: ran into the step limit"
        got = {k: v for k, v in flow_run.slots.items() if "." not in k}
        for name, value in script["slots"].items():
            total += 1
            if got.get(name) == value:
                right += 1
            else:
                misses.append((script["id"], name, value, got.get(name)))
        ok = (flow_run.flow_name, flow_run.status) == (script["flow"], script["outcome"])
        outcomes_right += ok
        if not ok:
            misses.append(
                (script["id"], "outcome", (script["flow"], script["outcome"]), (flow_run.flow_name, flow_run.status))
            )
    with capsys.disabled():
        print(
            f"\nflow replay: {len(scripts)} conversations, slot accuracy {right}/{total} = {right / total:.3f}, "
            f"outcome {outcomes_right}/{len(scripts)}; misses: {misses}"
        )
    assert right / total >= 0.9, misses
    assert outcomes_right >= 0.9 * len(scripts), misses
