"""The agent console (htmx) and the corrections screens. Thin views:
permission checked while fetching, services do the work."""

from __future__ import annotations

import contextlib
from datetime import date
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import live
from core.errors import ApplicationError
from core.permissions import AGENTS, agent_required, is_agent, is_curator, staff_required
from escalation import selectors, services
from escalation.models import Correction, Escalation
from support import selectors as support_selectors
from support.models import Message


def _act(request: HttpRequest, pk: int, action) -> HttpResponse:
    escalation = selectors.access_escalation(request.user, pk)
    try:
        action(escalation)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("console:detail", pk=pk)


@require_GET
@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    services.agent_seen(agent=request.user)
    status = request.GET.get("status", "")
    reason = request.GET.get("reason", "")
    q = request.GET.get("q", "")[:200]
    page = Paginator(selectors.queue(status=status, reason=reason, q=q), settings.CONSOLE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "items": list(page),
        "page": page,
        "filters": urlencode({"status": status, "reason": reason, "q": q}),
        "q": q,
        "status": status,
        "reason": reason,
        "reasons": Escalation.REASONS,
        "statuses": Escalation.Status.choices,
        # Pushed at once when an escalation opens or changes; redrawn every 20 s anyway (SLA colours
        # age, presence stays fresh).
        "live_src": live.events_url(live.Subscription(topic=live.QUEUE_TOPIC)),
    }
    template = "escalation/_queue_list.html" if request.htmx and request.GET.get("partial") else "escalation/queue.html"
    return render(request, template, context)


@require_GET
@agent_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    escalation = selectors.access_escalation(request.user, pk)
    services.agent_seen(agent=request.user)
    transcript = list(
        support_selectors.transcript(conversation=escalation.conversation)
        .select_related("author")
        .prefetch_related("security_events")  # the guard's verdict on each customer message
    )
    if request.htmx and request.GET.get("partial") == "transcript":
        return render(request, "escalation/_transcript.html", {"escalation": escalation, "transcript": transcript})
    agents = list(get_user_model().objects.filter(groups__name=AGENTS, is_active=True).exclude(pk=request.user.pk))
    online = services.agents_online([a.pk for a in agents])
    for a in agents:
        a.online = a.pk in online
    return render(
        request,
        "escalation/detail.html",
        {
            "escalation": escalation,
            "transcript": transcript,
            "evidence": selectors.evidence_for([m for m in transcript if m.role == Message.Role.BOT]),
            "notes": escalation.notes.select_related("author"),
            "mine": escalation.claimed_by_id == request.user.pk,
            "outcomes": Escalation.Outcome.choices,
            "agents": agents,
            "browser": selectors.browser_name(escalation.conversation.user_agent),
            "canned": selectors.canned_replies(),
            "earlier": selectors.earlier_conversations(escalation.conversation),
            # The customer's new messages are pushed at once (the agent's own typing is not).
            "live_src": live.events_url(
                live.Subscription(
                    topic=live.conversation_topic(escalation.conversation_id), events=frozenset({"message"})
                ),
                last_id=transcript[-1].pk if transcript else 0,
            ),
        },
    )


@require_POST
@agent_required
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda e: services.escalation_claim(escalation_id=e.pk, agent=request.user))


@require_POST
@agent_required
def release(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda e: services.escalation_release(escalation=e, agent=request.user))


@require_POST
@agent_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda e: services.escalation_reply(escalation=e, agent=request.user, text=request.POST.get("text", "")),
    )


@require_POST
@agent_required
def typing(request: HttpRequest, pk: int) -> HttpResponse:
    """The reply box tells the customer's chat that the agent is writing (throttled by htmx)."""
    with contextlib.suppress(ApplicationError):  # not (or no longer) the owner: nothing to show
        services.escalation_typing(escalation=selectors.access_escalation(request.user, pk), agent=request.user)
    return HttpResponse(status=204)


@require_POST
@agent_required
def note(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda e: services.escalation_note(escalation=e, agent=request.user, text=request.POST.get("text", "")),
    )


@require_POST
@agent_required
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda e: services.escalation_resolve(
            escalation=e, agent=request.user, outcome=request.POST.get("outcome", "")
        ),
    )


@require_POST
@agent_required
def transfer(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        to_user = int(request.POST.get("to", ""))
    except ValueError:
        messages.error(request, "Choose an agent to transfer to.")
        return redirect("console:detail", pk=pk)
    return _act(
        request, pk, lambda e: services.escalation_transfer(escalation=e, agent=request.user, to_user_id=to_user)
    )


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_GET
@staff_required
def problematic(request: HttpRequest) -> HttpResponse:
    if not (is_agent(request.user) or is_curator(request.user)):
        raise PermissionDenied
    problem = request.GET.get("problem", "")
    try:
        document_id = int(request.GET.get("document") or 0) or None
    except ValueError:
        document_id = None
    since, until = _date(request.GET.get("since", "")), _date(request.GET.get("until", ""))
    rows = list(selectors.problematic_replies(problem=problem, document_id=document_id, since=since, until=until)[:200])
    return render(
        request,
        "escalation/problematic.html",
        {
            "rows": rows,
            "problem": problem,
            "problems": Correction.Problem.choices,
            "document_id": document_id,
            "documents": selectors.documents_for_filter(),
            "since": request.GET.get("since", ""),
            "until": request.GET.get("until", ""),
            "can_review": is_curator(request.user),
        },
    )


@staff_required
def correct(request: HttpRequest, message_id: int) -> HttpResponse:
    if not (is_agent(request.user) or is_curator(request.user)):
        raise PermissionDenied
    message = get_object_or_404(
        Message.objects.select_related("reply_to").prefetch_related("citations__version__document"),
        pk=message_id,
        role=Message.Role.BOT,
    )
    error = ""
    if request.method == "POST":
        ids = [int(x) for x in request.POST.getlist("documents") if x.isdigit()]
        try:
            services.correction_create(
                message=message,
                agent=request.user,
                problem=request.POST.get("problem", ""),
                corrected_text=request.POST.get("corrected_text", ""),
                document_ids=ids,
            )
            messages.success(request, "Correction recorded. A curator will review it.")
            back = request.POST.get("next", "")
            return redirect(back if back.startswith("/console/") else reverse("console:problematic"))
        except ApplicationError as exc:
            error = exc.message
    return render(
        request,
        "escalation/correct.html",
        {
            "message": message,
            "question": services.question_for(message),
            "problems": Correction.Problem.choices,
            "documents": selectors.documents_for_filter(),
            "error": error,
            "next": request.GET.get("next", ""),
            "form": request.POST,
        },
    )


@require_POST
@staff_required
def correction_accept(request: HttpRequest, pk: int) -> HttpResponse:
    correction = get_object_or_404(Correction, pk=pk)
    try:
        version = services.correction_accept(correction=correction, curator=request.user)
    except ApplicationError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from None
        messages.error(request, exc.message)
        return redirect("console:problematic")
    messages.success(request, "Accepted: a draft approved answer was created. Review and approve it.")
    return redirect("knowledge:answer", pk=version.answer_id)


@require_POST
@staff_required
def correction_reject(request: HttpRequest, pk: int) -> HttpResponse:
    correction = get_object_or_404(Correction, pk=pk)
    try:
        services.correction_reject(correction=correction, curator=request.user)
    except ApplicationError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from None
        messages.error(request, exc.message)
    return redirect("console:problematic")
