"""Flow curation screens (curators): list, a flow's versions (approve = also roll back, retire),
edit as YAML (a new draft), import a YAML file, export the flows in use."""

from __future__ import annotations

import yaml
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from core.permissions import curator_required
from flows import selectors, services
from flows.models import Flow, FlowVersion

MAX_YAML_BYTES = 256 * 1024


@require_GET
@curator_required
def flow_list(request: HttpRequest) -> HttpResponse:
    return render(request, "flows/list.html", {"flows": selectors.flow_list()})


@require_GET
@curator_required
def flow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    flow = get_object_or_404(Flow, pk=pk)
    versions = [
        (v, services.flow_yaml(v))
        for v in flow.versions.select_related("created_by", "approved_by").order_by("-number")
    ]
    return render(request, "flows/detail.html", {"flow": flow, "versions": versions})


def _one_flow(text: str) -> dict:
    flows = services.read_yaml(text)
    if len(flows) != 1:
        raise services.FlowFileError("write exactly one flow here (use Import for a file of several)")
    return flows[0]


@curator_required
def flow_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new flow, or a new draft version of one, written as YAML (prefilled from its latest version)."""
    flow = get_object_or_404(Flow, pk=pk) if pk else None
    latest = flow.versions.order_by("-number").first() if flow else None
    text = services.flow_yaml(latest) if latest else _TEMPLATE
    error = ""
    if request.method == "POST":
        text = request.POST.get("definition", "")[:MAX_YAML_BYTES]
        try:
            raw = _one_flow(text)
            if flow is not None and raw.get("name") != flow.name:
                raise services.FlowFileError(f"this is the flow {flow.name!r}: keep its name")
            version = services.flow_version_create(definition=raw, user=request.user, note=request.POST.get("note", ""))
            messages.success(request, f"Draft v{version.number} saved. Approve it to put it in use.")
            return redirect("flows:detail", pk=version.flow_id)
        except (services.FlowFileError, ApplicationError) as exc:
            error = getattr(exc, "message", None) or str(exc)
    return render(request, "flows/edit.html", {"flow": flow, "text": text, "error": error})


@curator_required
def flow_import(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        text = upload.read(MAX_YAML_BYTES + 1).decode("utf-8", "replace") if upload else request.POST.get("text", "")
        try:
            if len(text) > MAX_YAML_BYTES:
                raise services.FlowFileError("the file is too large")
            created = services.flows_import(text=text, user=request.user)
            messages.success(request, f"{len(created)} new draft version(s). Approve them to put them in use.")
            return redirect("flows:list")
        except (services.FlowFileError, ApplicationError) as exc:
            error = getattr(exc, "message", None) or str(exc)
    return render(request, "flows/import.html", {"error": error})


@require_GET
@curator_required
def flow_export(request: HttpRequest) -> HttpResponse:
    versions = list(FlowVersion.objects.filter(status=FlowVersion.Status.APPROVED).select_related("flow"))
    response = HttpResponse(services.flows_export(versions=versions), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="flows.yaml"'
    return response


@require_POST
@curator_required
def version_approve(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(FlowVersion, pk=pk)
    was_retired = version.status == FlowVersion.Status.RETIRED
    services.flow_version_approve(version=version, user=request.user)
    messages.success(request, f"v{version.number} is {'back in use (rolled back)' if was_retired else 'approved'}.")
    return redirect("flows:detail", pk=version.flow_id)


@require_POST
@curator_required
def version_retire(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(FlowVersion, pk=pk)
    services.flow_version_retire(version=version, user=request.user)
    messages.success(request, f"v{version.number} retired: the flow no longer starts.")
    return redirect("flows:detail", pk=version.flow_id)


_TEMPLATE = yaml.safe_dump(
    {
        "name": "my-flow",
        "title": "My flow",
        "objective": "What 'done' means, for the agent who takes over.",
        "triggers": ["an example message a customer would send", "another way to say it"],
        "steps": [
            {"collect": "email", "type": "email", "prompt": "Which e-mail address did you order with?"},
            {"say": "Thanks, {email}."},
            {"handoff": "A colleague will take it from here."},
        ],
    },
    sort_keys=False,
)
