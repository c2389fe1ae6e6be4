"""Curation screens for sources: list, add, edit, delete, run now, watch a run, review what it
changed, leave a page out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from core.permissions import curator_required, is_curator, staff_required
from knowledge import crawler, selectors, sync
from knowledge.forms import SourceEditForm, SourceForm, SourceScheduleForm
from knowledge.models import Source


@require_GET
@staff_required
def source_list(request: HttpRequest) -> HttpResponse:
    sources = list(selectors.source_list())
    return render(
        request,
        "knowledge/sources.html",
        {"sources": [(s, selectors.source_review(s)) for s in sources], "can_curate": is_curator(request.user)},
    )


@curator_required
def source_new(request: HttpRequest) -> HttpResponse:
    form = SourceForm(request.POST) if request.method == "POST" else SourceForm()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            source = sync.source_create(
                name=data["name"],
                kind=data["kind"],
                url=data.get("url") or "",
                folder=data.get("folder") or "",
                include=SourceForm.lines(data.get("include", "")),
                exclude=SourceForm.lines(data.get("exclude", "")),
                schedule=data["schedule"],
                auto_verify=data["auto_verify"],
                user=request.user,
                folder_roots=settings.SOURCE_FOLDER_ROOTS,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if "sync_now" in request.POST:
                sync.sync_start(source=source, user=request.user)
                messages.info(request, f"{source.name} is added; its first sync has started.")
            else:
                messages.success(request, f"{source.name} is added.")
            return redirect("knowledge:source", pk=source.pk)
    return render(request, "knowledge/source_new.html", {"form": form, "folder_roots": settings.SOURCE_FOLDER_ROOTS})


@require_GET
@staff_required
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source.objects.select_related("owner"), pk=pk)
    runs = list(selectors.source_runs(source))
    run = runs[0] if runs else None
    context = {
        "source": source,
        "run": run,
        "runs": runs,
        "review": selectors.source_review(source),
        "pending": selectors.pending_versions(source),
        "items": selectors.source_items(source) if not request.htmx else [],
        "schedule_form": SourceScheduleForm(initial={"schedule": source.schedule, "auto_verify": source.auto_verify}),
        "can_curate": is_curator(request.user) and not source.is_deleted,
    }
    if request.htmx:
        return render(request, "knowledge/_source_run.html", context)
    return render(request, "knowledge/source.html", context)


@require_POST
@curator_required
def source_run(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    try:
        run = sync.sync_start(source=source, user=request.user)
        messages.info(request, f"Sync started (run {run.pk}).")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("knowledge:source", pk=pk)


@require_POST
@curator_required
def source_verify(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    count = sync.source_verify_pending(source=source, user=request.user)
    messages.success(request, f"{count} document(s) verified: they answer questions now.")
    return redirect("knowledge:source", pk=pk)


@require_POST
@curator_required
def source_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    form = SourceScheduleForm(request.POST)
    if form.is_valid():
        sync.source_set_schedule(
            source=source,
            schedule=form.cleaned_data["schedule"],
            auto_verify=form.cleaned_data["auto_verify"],
            user=request.user,
        )
        messages.success(request, "Schedule saved.")
    return redirect("knowledge:source", pk=pk)


@curator_required
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk, deleted_at__isnull=True)
    form = SourceEditForm(request.POST) if request.method == "POST" else SourceEditForm.of(source)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        website = source.kind == Source.Kind.WEBSITE
        try:
            sync.source_update(
                source=source,
                name=data["name"],
                url=data.get("url", "") if website else None,
                folder=data.get("folder", "") if source.kind == Source.Kind.FOLDER else None,
                include=SourceEditForm.lines(data.get("include", "")) if website else None,
                exclude=SourceEditForm.lines(data.get("exclude", "")) if website else None,
                user=request.user,
                folder_roots=settings.SOURCE_FOLDER_ROOTS,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Saved. Pages now left out are retired by the next sync; it lists them.")
            return redirect("knowledge:source", pk=pk)
    return render(
        request,
        "knowledge/source_edit.html",
        {
            "form": form,
            "source": source,
            "folder_roots": settings.SOURCE_FOLDER_ROOTS,
            "is_website": source.kind == Source.Kind.WEBSITE,
            "is_folder": source.kind == Source.Kind.FOLDER,
        },
    )


@curator_required
def source_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (what deleting does, how many documents it retires); POST does it."""
    source = get_object_or_404(Source, pk=pk, deleted_at__isnull=True)
    if request.method == "POST":
        try:
            retired = sync.source_delete(source=source, user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("knowledge:source", pk=pk)
        messages.success(
            request,
            f"{source.name} is deleted: {retired} document(s) retired. They no longer answer; their versions "
            "and the replies that cited them stay readable.",
        )
        return redirect("knowledge:sources")
    context = {"source": source, "live": selectors.source_live_documents(source), "run": source.runs.first()}
    return render(request, "knowledge/source_delete.html", context)


@require_POST
@curator_required
def source_exclude(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk, deleted_at__isnull=True)
    key = request.POST.get("key", "")
    try:
        sync.source_exclude_page(source=source, key=key, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{key} is left out from now on ({crawler.exact_pattern(key)} under “Never these paths”); "
            "its document no longer answers.",
        )
    return redirect("knowledge:source", pk=pk)
