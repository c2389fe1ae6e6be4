"""Flows as curated data: versions (draft → approved → retired, rollback), YAML import/export,
and the errors a bad file gets."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from core.errors import ApplicationError
from flows import selectors, services
from flows.models import FlowVersion
from flows.spec import FlowSpecError, parse

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "demo" / "flows.yaml"
FLOW = {
    "name": "order-status",
    "objective": "The customer knows where the order is.",
    "triggers": ["where is my order", "has my order shipped"],
    "steps": [{"collect": "email", "type": "email", "prompt": "E-mail?"}, {"say": "Thanks {email}."}],
}


def test_a_new_version_is_a_draft_until_approved_and_approving_retires_the_previous():
    v1 = services.flow_version_create(definition=FLOW)
    assert v1.status == "draft" and v1.triggers.count() == 2
    services.flow_version_approve(version=v1)
    v2 = services.flow_version_approve(
        version=services.flow_version_create(definition={**FLOW, "objective": "Changed."})
    )
    v1.refresh_from_db()
    assert (v1.status, v2.status, v2.number) == ("retired", "approved", 2)
    assert v1.objective == "The customer knows where the order is."  # history is never rewritten


def test_rollback_is_approving_an_earlier_version():
    v1 = services.flow_version_approve(version=services.flow_version_create(definition=FLOW))
    v2 = services.flow_version_approve(version=services.flow_version_create(definition={**FLOW, "objective": "x"}))
    services.flow_version_approve(version=FlowVersion.objects.get(pk=v1.pk))
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("approved", "retired")


def test_drafts_and_retired_versions_do_not_trigger():
    from core.embeddings import embed_query

    v1 = services.flow_version_create(definition=FLOW)
    vector = embed_query("where is my order")
    assert selectors.trigger_match(vector=vector) is None
    services.flow_version_approve(version=v1)
    assert selectors.trigger_match(vector=vector).name == "order-status"
    services.flow_version_retire(version=v1)
    assert selectors.trigger_match(vector=vector) is None


def test_only_curators_approve(agent):
    v1 = services.flow_version_create(definition=FLOW)
    with pytest.raises(ApplicationError, match="Only curators"):
        services.flow_version_approve(version=v1, user=agent)


def test_import_export_round_trip_and_a_second_import_changes_nothing():
    text = DEMO.read_text()
    created = services.flows_import(text=text, approve=True)
    assert sorted(v.flow.name for v in created) == ["change-address", "order-status", "start-return"]
    assert services.flows_import(text=text, approve=True) == []
    exported = services.flows_export(versions=list(FlowVersion.objects.filter(status="approved")))
    assert services.flows_import(text=exported) == []  # the export says exactly what is in use
    again = {f["name"]: parse(f) for f in yaml.safe_load(exported)["flows"]}
    assert again["start-return"].settings == {"return_window_days": 30, "ebike_return_window_days": 14}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.pop("objective"), "objective must be a non-empty text"),
        (lambda f: f.update(triggers=[]), "triggers must be a list"),
        (lambda f: f["steps"].append({"shout": "hi"}), "step 3: a step needs exactly one of"),
        (lambda f: f["steps"][0].update(type="colour"), "step 1: type 'colour' is not one of"),
        (lambda f: f["steps"].append({"say": "Hi {nobody}"}), "step 3: {nobody} is not a slot"),
        (lambda f: f["steps"].append({"branch": "email", "cases": {"x": "nowhere"}}), "branch target 'nowhere'"),
        (lambda f: f["steps"][0].update(type="order_number"), "an order_number slot needs a pattern"),
        (lambda f: f["steps"].append({"call": "x", "url": "ftp://x"}), "must be a path"),
        (lambda f: f.update(max_steps=10_000), "max_steps must be"),
    ],
)
def test_bad_flows_are_refused_with_where_and_why(change, message):
    flow = copy.deepcopy(FLOW)
    change(flow)
    with pytest.raises(FlowSpecError, match=message.replace("{", r"\{").replace("(", r"\(")):
        parse(flow)
    with pytest.raises(services.FlowFileError, match="flow 1: "):
        services.read_yaml(yaml.safe_dump({"flows": [flow]}))


def test_a_file_with_one_bad_flow_imports_none():
    bad = copy.deepcopy(FLOW)
    bad["name"] = "second"
    bad["steps"] = "nope"
    text = yaml.safe_dump({"flows": [FLOW, bad]})
    with pytest.raises(services.FlowFileError, match="flow 2: flow 'second': steps must be a non-empty list"):
        services.flows_import(text=text)
    assert not FlowVersion.objects.exists()


def test_the_command_imports_exports_and_explains_bad_files(tmp_path, capsys):
    call_command("flows", "import", str(DEMO), "--approve")
    out = capsys.readouterr().out
    assert "order-status: v1 (approved)" in out
    target = tmp_path / "out.yaml"
    call_command("flows", "export", "-o", str(target))
    assert [f["name"] for f in yaml.safe_load(target.read_text())["flows"]] == [
        "change-address",
        "order-status",
        "start-return",
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("flows:\n  - name: x\n   objective: [")
    with pytest.raises(CommandError, match=r"not valid YAML at line \d+"):
        call_command("flows", "import", str(broken))
    with pytest.raises(CommandError, match="no such file"):
        call_command("flows", "import", str(tmp_path / "missing.yaml"))
