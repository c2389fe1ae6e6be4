"""Approved-answer curation screens (curators)."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core import embeddings
from core.errors import ApplicationError
from core.permissions import curator_required
from core.text import question_key
from knowledge import selectors, services
from knowledge.history import approved_answer_history
from knowledge.models import ApprovedAnswer, ApprovedAnswerVersion


def _when(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApplicationError(f"{value!r} is not a date and time.") from None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@require_GET
@curator_required
def answer_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    return render(request, "knowledge/answers.html", {"answers": selectors.approved_answer_list(q=q), "q": q})


@require_GET
@curator_required
def answer_try(request: HttpRequest) -> HttpResponse:
    """Which approved answer would this question get, and with what score?"""
    q = request.GET.get("q", "").strip()[:2000]
    matches = []
    if q:
        vector = embeddings.embed_query(question_key(q))
        matches = selectors.approved_matches(vector=vector, now=timezone.now(), limit=5)
    return render(
        request,
        "knowledge/_try.html" if request.htmx else "knowledge/answer_try.html",
        {"q": q, "matches": matches, "threshold": settings.APPROVED_MATCH_THRESHOLD},
    )


@curator_required
def answer_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new answer, or a new draft version of one (prefilled from its latest version)."""
    answer = get_object_or_404(ApprovedAnswer, pk=pk) if pk else None
    latest = answer.versions.order_by("-number").first() if answer else None
    prefill = [q for q in request.GET.getlist("variant") if q.strip()][:20]  # from a knowledge-gap cluster
    form = {
        "title": answer.title if answer else (prefill[0][:120] if prefill else ""),
        "text": latest.text if latest else "",
        "variants": "\n".join(v.text for v in latest.variants.all()) if latest else "\n".join(prefill),
        "note": "",
        "valid_from": "",
        "valid_until": "",
    }
    error = ""
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            version = services.approved_version_create(
                answer=answer,
                title=form["title"],
                text=form["text"],
                variants=form["variants"].splitlines(),
                user=request.user,
                note=form["note"],
                valid_from=_when(form["valid_from"]),
                valid_until=_when(form["valid_until"]),
            )
            messages.success(request, f"Draft v{version.number} saved. Approve it to put it in use.")
            return redirect("knowledge:answer", pk=version.answer_id)
        except ApplicationError as exc:
            error = exc.message
    return render(request, "knowledge/answer_edit.html", {"answer": answer, "form": form, "error": error})


@require_GET
@curator_required
def answer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    answer = get_object_or_404(ApprovedAnswer, pk=pk)
    versions = list(answer.versions.select_related("created_by", "approved_by").prefetch_related("variants"))
    stats = selectors.approved_version_stats([v.pk for v in versions])
    diffs = {}
    for newer, older in itertools.pairwise(versions):
        diffs[newer.pk] = selectors.text_diff(older.text, newer.text)
    overlaps = {v.pk: selectors.approved_overlaps(version=v) for v in versions if v.status != "retired"}
    history = approved_answer_history(answer=answer)
    now = timezone.now()
    return render(
        request,
        "knowledge/answer.html",
        {
            "answer": answer,
            "versions": [(v, stats[v.pk], diffs.get(v.pk), overlaps.get(v.pk, []), _expired(v, now)) for v in versions],
            "history": history,
        },
    )


def _expired(version: ApprovedAnswerVersion, now) -> bool:
    return bool(version.valid_until and version.valid_until <= now)


@require_POST
@curator_required
def version_approve(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(ApprovedAnswerVersion, pk=pk)
    was_retired = version.status == ApprovedAnswerVersion.Status.RETIRED
    services.approved_version_approve(version=version, user=request.user)
    messages.success(request, f"v{version.number} is {'back in use (rolled back)' if was_retired else 'approved'}.")
    return redirect("knowledge:answer", pk=version.answer_id)


@require_POST
@curator_required
def version_retire(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(ApprovedAnswerVersion, pk=pk)
    services.approved_version_retire(version=version, user=request.user)
    messages.success(request, f"v{version.number} retired: it no longer answers.")
    return redirect("knowledge:answer", pk=version.answer_id)
