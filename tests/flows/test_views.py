"""The flow curation screens: curators list, edit (a new draft), approve, roll back, import, export."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from flows.models import FlowVersion

pytestmark = pytest.mark.django_db

DEMO = Path("demo/flows.yaml").read_text()


def test_only_curators_see_the_screens(client, agent):
    assert client.get("/kb/flows/").status_code == 302  # to the login page
    client.force_login(agent)
    assert client.get("/kb/flows/").status_code == 403


def test_import_edit_approve_and_roll_back(client, curator):
    client.force_login(curator)
    response = client.post("/kb/flows/import/", {"file": SimpleUploadedFile("flows.yaml", DEMO.encode())})
    assert response.status_code == 302
    assert set(FlowVersion.objects.values_list("status", flat=True)) == {"draft"}
    page = client.get("/kb/flows/").content.decode()
    assert "order-status" in page and "not in use" in page

    v1 = FlowVersion.objects.get(flow__name="order-status")
    client.post(f"/kb/flows/versions/{v1.pk}/approve/")
    detail = client.get(f"/kb/flows/{v1.flow_id}/").content.decode()
    assert "Objective:" in detail and "BW-" in detail

    edited = yaml.safe_load(client.get(f"/kb/flows/{v1.flow_id}/edit/").context["text"])
    edited["objective"] = "Changed objective."
    response = client.post(f"/kb/flows/{v1.flow_id}/edit/", {"definition": yaml.safe_dump(edited), "note": "clearer"})
    assert response.status_code == 302
    v2 = FlowVersion.objects.get(flow__name="order-status", number=2)
    assert (v2.status, v2.objective, v2.note) == ("draft", "Changed objective.", "clearer")
    client.post(f"/kb/flows/versions/{v2.pk}/approve/")
    client.post(f"/kb/flows/versions/{v1.pk}/approve/")  # roll back
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("approved", "retired")

    exported = client.get("/kb/flows/export/")
    assert exported["Content-Type"].startswith("application/yaml")
    assert [f["name"] for f in yaml.safe_load(exported.content)["flows"]] == ["order-status"]


def test_a_bad_edit_shows_the_error_and_saves_nothing(client, curator):
    client.force_login(curator)
    response = client.post(
        "/kb/flows/new/", {"definition": "name: x\nobjective: o\ntriggers: [a]\nsteps: [{say: 'Hi {who}'}]"}
    )
    assert response.status_code == 200
    assert "{who} is not a slot" in response.content.decode()
    assert not FlowVersion.objects.exists()
    response = client.post("/kb/flows/import/", {"file": SimpleUploadedFile("f.yaml", b"flows: [ {")})
    assert "not valid YAML" in response.content.decode()
