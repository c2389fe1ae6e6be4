"""Curation screens (htmx) and the public document viewer. Views stay thin:
they parse input, call a service or selector, and render."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from core.permissions import curator_required, is_curator, staff_required
from knowledge import selectors, services
from knowledge.forms import SourceKeyForm, UploadForm
from knowledge.models import Document, DocumentVersion, IngestionJob
from knowledge.sources import SourceFile, is_zip, read_zip, too_large


@require_GET
@staff_required
def document_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Document.Status.values:
        status = ""
    q = request.GET.get("q", "").strip()[:200]
    documents = selectors.document_list(status=status, q=q)
    return render(
        request,
        "knowledge/documents.html",
        {
            "documents": documents,
            "status": status,
            "q": q,
            "statuses": Document.Status.choices,
            "can_curate": is_curator(request.user),
        },
    )


@curator_required
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if request.method == "POST" and form.is_valid():
        batch = uuid.uuid4()
        sources: list[SourceFile] = []
        for uploaded in form.cleaned_data["files"]:
            name = uploaded.name or "upload"
            if is_zip(name):
                if uploaded.size > settings.INGEST_MAX_ZIP_TOTAL_BYTES:
                    sources.append(SourceFile(name, None, "the archive is over INGEST_MAX_ZIP_TOTAL_BYTES"))
                else:
                    sources.extend(read_zip(uploaded.read()))
            elif too_large(uploaded.size):
                sources.append(SourceFile(name, None, too_large(uploaded.size)))
            else:
                sources.append(SourceFile(name, uploaded.read()))
        jobs = services.jobs_create(files=sources, verify=form.cleaned_data["verify"], user=request.user, batch=batch)
        services.jobs_enqueue(jobs)
        failed = sum(1 for j in jobs if j.state == IngestionJob.State.FAILED)
        messages.info(
            request, f"{len(jobs)} file(s) queued" + (f", {failed} refused (see below)" if failed else "") + "."
        )
        return redirect(f"{_jobs_url()}?batch={batch}")
    return render(request, "knowledge/upload.html", {"form": form, "max_bytes": settings.INGEST_MAX_FILE_BYTES})


def _jobs_url() -> str:
    from django.urls import reverse

    return reverse("knowledge:jobs")


@require_GET
@staff_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = list(selectors.job_list())
    batch = request.GET.get("batch", "")
    context = {
        "jobs": jobs,
        "batch": batch,
        "active": any(j.is_active for j in jobs),
        "can_curate": is_curator(request.user),
    }
    template = "knowledge/_jobs_table.html" if request.htmx else "knowledge/jobs.html"
    return render(request, template, context)


@require_POST
@curator_required
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(IngestionJob, pk=pk)
    try:
        services.job_retry(job=job, user=request.user)
        messages.success(request, f"{job.source_key} is queued again.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(f"{_jobs_url()}?batch={job.batch}")


@require_GET
@staff_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.select_related("owner", "source"), pk=pk)
    versions = list(document.versions.select_related("ingested_by", "verified_by").order_by("-number"))
    current = next((v for v in versions if v.is_current), None)
    pending = [v for v in versions if v.verified_at is None]
    return render(
        request,
        "knowledge/document.html",
        {
            "document": document,
            "versions": versions,
            "current": current,
            "pending": pending,
            "key_form": SourceKeyForm(initial={"source_key": document.source_key}),
            "can_curate": is_curator(request.user),
        },
    )


@require_GET
@staff_required
def version_diff(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = get_object_or_404(DocumentVersion.objects.select_related("document"), document_id=pk, number=number)
    against = version.document.versions.filter(is_current=True).exclude(pk=version.pk).first()
    if against is None:
        against = version.document.versions.filter(number__lt=number).order_by("-number").first()
    rows = selectors.version_diff(against, version)
    changed = sum(1 for r in rows if r.tag != "equal")
    return render(
        request,
        "knowledge/diff.html",
        {
            "document": version.document,
            "version": version,
            "against": against,
            "rows": rows,
            "changed": changed,
            "can_curate": is_curator(request.user),
        },
    )


@require_POST
@curator_required
def version_verify(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = get_object_or_404(DocumentVersion, document_id=pk, number=number)
    services.version_verify(version=version, user=request.user)
    messages.success(request, f"Version {number} is verified and now answers questions.")
    return redirect("knowledge:document", pk=pk)


@require_POST
@curator_required
def document_retire(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=pk)
    services.document_retire(document=document, user=request.user)
    messages.success(request, "Retired: the document no longer answers questions. Its versions stay for audit.")
    return redirect("knowledge:document", pk=pk)


@require_POST
@curator_required
def document_restore(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=pk)
    try:
        services.document_restore(document=document, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Restored.")
    return redirect("knowledge:document", pk=pk)


@require_POST
@curator_required
def document_source_key(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=pk)
    form = SourceKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The source key cannot be empty or longer than 500 characters.")
    else:
        try:
            services.document_set_source_key(
                document=document, source_key=form.cleaned_data["source_key"], user=request.user
            )
            messages.success(request, "Source key saved.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return redirect("knowledge:document", pk=pk)


@require_GET
def version_view(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """The citation target: one version's text, the cited chunk highlighted.
    Customers see verified versions only; drafts are for staff."""
    staff = request.user.is_authenticated and request.user.is_staff
    version = selectors.version_for_viewer(document_id=pk, number=number, staff=staff)
    if version is None:
        raise Http404("No such document version.")
    try:
        highlight = int(request.GET.get("chunk", "0"))
    except ValueError:
        highlight = 0
    chunks = list(selectors.version_chunks(version))
    return render(
        request,
        "knowledge/viewer.html",
        {
            "version": version,
            "document": version.document,
            "chunks": chunks,
            "highlight": highlight,
            "staff": staff,
            "superseded": not version.is_current,
        },
    )
