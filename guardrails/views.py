"""Security review for curators: blocked and flagged messages, one click to a new signature."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.models import audit
from core.permissions import curator_required
from guardrails import services
from guardrails.models import InjectionPattern, SecurityEvent


@require_GET
@curator_required
def events(request: HttpRequest) -> HttpResponse:
    decision = request.GET.get("decision", "")
    qs = SecurityEvent.objects.select_related("pattern").order_by("-created_at")
    qs = qs.filter(decision=decision) if decision in SecurityEvent.Decision.values else qs.exclude(decision="allowed")
    return render(
        request,
        "guardrails/events.html",
        {
            "events": qs[:200],
            "decision": decision,
            "decisions": SecurityEvent.Decision.choices,
            "categories": InjectionPattern.Category.choices,
        },
    )


@require_POST
@curator_required
def add_pattern(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(SecurityEvent, pk=pk)
    category = request.POST.get("category", "")
    try:
        pattern = services.pattern_add_from_event(event=event, category=category, user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("guardrails:events")
    SecurityEvent.objects.filter(pk=pk).update(reviewed=True)
    audit(actor=request.user, action="guard.pattern_add", obj=pattern, before=event)
    messages.success(request, "Added to the signature database: similar messages are caught from now on.")
    return redirect("guardrails:events")


@require_POST
@curator_required
def mark_reviewed(request: HttpRequest, pk: int) -> HttpResponse:
    SecurityEvent.objects.filter(pk=pk).update(reviewed=True)
    return redirect("guardrails:events")
