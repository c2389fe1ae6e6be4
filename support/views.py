"""The customer chat page (htmx) and the embeddable widget. The page keeps
its conversation id and token in the server-side session and calls the same
services as the JSON API."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from core import live
from core.errors import ApplicationError, ErrorCode
from core.net import client_ip
from support import hours, selectors, services
from support.models import Conversation, Message

SESSION_KEY = "chat"
PAGE_KEY = "chat_page"


def _client_context(request: HttpRequest) -> dict[str, str]:
    """Where the customer writes from, for the agent: the page the widget was opened on (it passes
    its address), else the referring page; the browser; its first preferred language."""
    languages = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    page = request.session.get(PAGE_KEY, "") or request.META.get("HTTP_REFERER", "")
    return {
        # The console links to it: only a web address, never a javascript: or data: one.
        "page_url": page if page.startswith(("http://", "https://")) else "",
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
        "language": languages.split(",")[0].split(";")[0].strip(),
    }


def _current(request: HttpRequest) -> Conversation | None:
    state = request.session.get(SESSION_KEY)
    if not state:
        return None
    try:
        return services.access_conversation(state["id"], state["token"])
    except ApplicationError:
        request.session.pop(SESSION_KEY, None)
        return None


def _remember(request: HttpRequest, conversation: Conversation, token: str) -> None:
    request.session[SESSION_KEY] = {"id": str(conversation.pk), "token": token}


def _titles() -> dict[str, str]:
    """The chat's titles from SUPPORT_COMPANY_NAME, never a name baked into a template."""
    company = settings.SUPPORT_COMPANY_NAME
    return {
        "chat_title": f"Help · {company}" if company else "Help",
        "chat_frame_title": f"{company} support chat" if company else "Customer support chat",
    }


def _context(request: HttpRequest, conversation: Conversation | None, **extra) -> dict:
    # Not "messages": base.html shows Django's message framework under that name, and the
    # transcript shown there as banners repeated the conversation above the chat.
    transcript = list(selectors.transcript(conversation=conversation)) if conversation else []
    last_id = transcript[-1].pk if transcript else 0
    return {
        "conversation": conversation,
        "transcript": transcript,
        "last_id": last_id,
        # While a person owns the conversation, their replies and typing are pushed (the page polls
        # when the stream fails); what the customer wrote is not echoed back.
        "live_src": (
            live.events_url(
                live.Subscription(
                    topic=live.conversation_topic(conversation.pk), skip_roles=frozenset({Message.Role.CUSTOMER})
                ),
                last_id=last_id,
            )
            if conversation is not None and conversation.status == Conversation.Status.HUMAN
            else ""
        ),
        "turns_left": services.turns_left(conversation) if conversation else settings.CHAT_MAX_TURNS,
        "embed": request.GET.get("embed") == "1" or request.POST.get("embed") == "1",
        "support_open": hours.is_open(timezone.now()),
        "agent_typing": (
            services.agent_typing(conversation)
            if conversation is not None and conversation.status == Conversation.Status.HUMAN
            else ""
        ),
        **_titles(),
        **extra,
    }


def _partial(request: HttpRequest, conversation: Conversation | None, **extra) -> HttpResponse:
    """The transcript after an action, with "Talk to a person" swapped out of band: it goes once a
    person owns the conversation (the rest of the actions stay, so an open form is not reset)."""
    return render(request, "support/_transcript.html", _context(request, conversation, partial=True, **extra))


@require_GET
@xframe_options_exempt  # the widget opens this page in an iframe on the company's site
def chat(request: HttpRequest) -> HttpResponse:
    page = request.GET.get("page", "")
    if page.startswith(("http://", "https://")):
        request.session[PAGE_KEY] = page[:1000]  # the widget's host page, shown to the agent
    return render(request, "support/chat.html", _context(request, _current(request)))


@require_POST
@xframe_options_exempt
def chat_send(request: HttpRequest) -> HttpResponse:
    conversation = _current(request)
    error, retry_after = "", None
    try:
        if conversation is None:
            created = services.conversation_create(
                channel="web", ip=client_ip(request), context=_client_context(request)
            )
            conversation = created.conversation
            _remember(request, conversation, created.token)
        result = services.message_post(
            conversation=conversation, text=request.POST.get("text", ""), ip=client_ip(request)
        )
        if result.new_token:
            _remember(request, result.conversation, result.new_token)
        conversation = result.conversation
    except ApplicationError as exc:
        error = exc.message
        if exc.code == ErrorCode.RATE_LIMITED:
            # Nothing was written: the page keeps the question in the box and says when it can go.
            retry_after = int(exc.extra.get("retry_after", settings.CHAT_RATE_WINDOW_SECONDS))
            error = "You are sending messages faster than we can take them."
    return _partial(request, conversation, error=error, retry_after=retry_after)


@require_GET
@xframe_options_exempt
def chat_poll(request: HttpRequest) -> HttpResponse:
    return _partial(request, _current(request))


@require_POST
@xframe_options_exempt
def chat_thumbs(request: HttpRequest, message_id: int) -> HttpResponse:
    conversation = _current(request)
    value = 1 if request.POST.get("value") == "up" else -1
    if conversation is not None:
        with contextlib.suppress(ApplicationError):  # a stale button: nothing to record
            services.feedback_thumbs(conversation=conversation, message_id=message_id, value=value)
    label = "Thanks for the feedback" if value == 1 else "Thanks — we'll review this answer"
    return HttpResponse(f'<span class="thanks" role="status">{label}</span>')


@require_POST
@xframe_options_exempt
def chat_handoff(request: HttpRequest) -> HttpResponse:
    conversation = _current(request)
    if conversation is None:
        try:
            created = services.conversation_create(
                channel="web", ip=client_ip(request), context=_client_context(request)
            )
        except ApplicationError as exc:  # over the new-conversation limit: say when, never a 500
            return _partial(request, None, error=exc.message)
        conversation = created.conversation
        _remember(request, conversation, created.token)
    services.handoff(conversation=conversation)
    conversation.refresh_from_db()
    return _partial(request, conversation)


@require_POST
@xframe_options_exempt
def chat_rate(request: HttpRequest) -> HttpResponse:
    conversation = _current(request)
    try:
        rating = int(request.POST.get("rating", "0"))
        if conversation is None:
            raise ApplicationError("Start a conversation first.")
        services.feedback_rating(conversation=conversation, rating=rating, comment=request.POST.get("comment", ""))
        text = "Thank you for rating this conversation."
    except (ValueError, ApplicationError):
        text = "Please choose a rating from 1 to 5."
    return HttpResponse(f'<p class="thanks" role="status">{text}</p>')


def _with_email(request: HttpRequest, action, thanks: str) -> HttpResponse:
    """The chat's two e-mail forms: run `action` on the current conversation with the address given,
    and answer with a one-line status (or the service's reason it could not)."""
    conversation = _current(request)
    if conversation is None:
        return HttpResponse('<p class="error" role="alert">Start a conversation first.</p>')
    try:
        action(conversation=conversation, email=request.POST.get("email", ""))
    except ApplicationError as exc:
        return HttpResponse(f'<p class="error" role="alert">{escape(exc.message)}</p>')
    return HttpResponse(f'<p class="thanks" role="status">{thanks}</p>')


@require_POST
@xframe_options_exempt
def chat_contact(request: HttpRequest) -> HttpResponse:
    """Outside support hours: the customer leaves an email address for the answer."""
    return _with_email(request, services.conversation_set_contact, "Thanks — we will answer you by email.")


@require_POST
@xframe_options_exempt
def chat_transcript(request: HttpRequest) -> HttpResponse:
    """The customer asks for the conversation by email."""
    return _with_email(request, services.transcript_email, "The conversation has been sent to your email.")


@require_POST
@xframe_options_exempt
def chat_new(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return _partial(request, None)


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """The embeddable snippet: <script src="https://support.example.com/widget.js" async></script>."""
    origin = request.build_absolute_uri("/").rstrip("/")
    context = {"origin": origin, "title": _titles()["chat_frame_title"]}
    response = render(request, "support/widget.js", context, content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def embed_demo(request: HttpRequest) -> HttpResponse:
    """A stand-in for a customer's site with the widget embedded."""
    return render(request, "support/embed_demo.html")
