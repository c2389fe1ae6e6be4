"""The dashboard (curators and admins), its CSV exports, and /metrics."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.permissions import curator_required
from insights import charts, metrics, selectors, services
from insights.models import Alert
from knowledge.models import Document


def _period(request: HttpRequest) -> selectors.Period:
    today = timezone.localdate()

    def parse(name: str, default: date) -> date:
        try:
            return date.fromisoformat(request.GET.get(name, "")) if request.GET.get(name) else default
        except ValueError:
            return default

    end = parse("end", today)
    start = parse("start", end - timedelta(days=29))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=366))
    channel = request.GET.get("channel", "") if request.GET.get("channel", "") in ("", "web", "api") else ""
    try:
        document_id = int(request.GET.get("document") or 0) or None
    except ValueError:
        document_id = None
    return selectors.Period(start, end, channel, document_id)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"


def _dur(v: float | None) -> str:
    if v is None:
        return "—"
    if v < 90:
        return f"{v:.0f} s"
    if v < 5400:
        return f"{v / 60:.0f} min"
    return f"{v / 3600:.1f} h"


def _num(v: float | None, digits: int = 0) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def _tile(label: str, current: float | None, previous: float | None, shown: str, *, good_when_up: bool) -> dict:
    delta = selectors.change(current, previous)
    direction = None
    if delta is not None and abs(delta) >= 0.005:
        direction = "up" if (delta > 0) == good_when_up else "down"
    return {"label": label, "value": shown, "delta": delta, "direction": direction}


@require_POST
@curator_required
def alert_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Curators acknowledge an alert where they read it, not in Django admin."""
    services.alert_resolve(alert=get_object_or_404(Alert, pk=pk), user=request.user)
    return redirect(reverse("insights:dashboard") + "#alerts")


@require_GET
@curator_required
def dashboard(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    now = timezone.now()
    data, days = selectors.period_data(period, now=now)
    before, _ = selectors.period_data(period.previous(), now=now)
    cur, prev = metrics.summary(data), metrics.summary(before)
    tiles = [
        _tile(
            "Conversations", cur["conversations"], prev["conversations"], _num(cur["conversations"]), good_when_up=True
        ),
        _tile(
            "Containment (no person needed)",
            cur["containment"],
            prev["containment"],
            _pct(cur["containment"]),
            good_when_up=True,
        ),
        _tile(
            "Human intervention",
            cur["intervention_rate"],
            prev["intervention_rate"],
            _pct(cur["intervention_rate"]),
            good_when_up=False,
        ),
        _tile(
            "Thumbs up",
            cur["thumbs_up_share"],
            prev["thumbs_up_share"],
            _pct(cur["thumbs_up_share"]),
            good_when_up=True,
        ),
        _tile(
            "Resolution by bot, median",
            cur["resolution_bot_p50_s"],
            prev["resolution_bot_p50_s"],
            _dur(cur["resolution_bot_p50_s"]),
            good_when_up=False,
        ),
        _tile(
            "Resolution by a person, median",
            cur["resolution_human_p50_s"],
            prev["resolution_human_p50_s"],
            _dur(cur["resolution_human_p50_s"]),
            good_when_up=False,
        ),
        _tile(
            "Tokens per resolved conversation",
            cur["tokens_per_resolved"],
            prev["tokens_per_resolved"],
            _num(cur["tokens_per_resolved"]),
            good_when_up=False,
        ),
        _tile("Blocked messages", cur["blocked"], prev["blocked"], _num(cur["blocked"]), good_when_up=False),
    ]
    daily = selectors.daily_summaries(days)
    # Every chart spans the whole period (up to today), whatever days have figures.
    line_chart = partial(charts.line_chart, start=period.start, end=min(period.end, timezone.localdate(now)))
    chart_list = [
        line_chart(selectors.series(daily, lambda s: s.get("conversations")), title="Conversations per day"),
        line_chart(
            selectors.series(daily, lambda s: s.get("containment")), title="Containment", fmt=lambda v: f"{v:.0%}"
        ),
        line_chart(
            selectors.series(daily, lambda s: s.get("intervention_rate")),
            title="Human intervention",
            fmt=lambda v: f"{v:.0%}",
        ),
        line_chart(
            selectors.series(daily, lambda s: s.get("thumbs_up_share")),
            title="Thumbs-up share",
            fmt=lambda v: f"{v:.0%}",
        ),
        line_chart(
            selectors.series(daily, lambda s: s.get("tokens_per_conversation")), title="Tokens per conversation"
        ),
        line_chart(selectors.series(daily, lambda s: s.get("turn_p95_ms")), title="Turn latency p95 (ms)"),
    ]
    start, _ = metrics.day_bounds(period.start)
    _, end = metrics.day_bounds(period.end)
    flows = metrics.flow_outcomes(start=start, end=min(end, now), now=now)
    flow_charts = [
        charts.outcome_bar(
            [
                ("completed", f.completed, "ok"),
                ("handed off", f.handed_off, "warn"),
                ("abandoned", f.abandoned, "bad"),
                ("in progress", f.active, "muted"),
            ],
            title=f"Flow “{f.flow}”: {f.started} started",
        )
        for f in flows
    ]
    top_docs, never_cited = selectors.document_citations(data)
    context = {
        "period": period,
        "tiles": tiles,
        "charts": chart_list,
        "flows": flows,
        "flow_charts": flow_charts,
        "summary": cur,
        "data": data,
        "reasons": sorted(data.get("escalations_by_reason", {}).items(), key=lambda kv: -kv[1]),
        "kinds": sorted(data.get("replies_by_kind", {}).items(), key=lambda kv: -kv[1]),
        "gaps": selectors.knowledge_gaps(start=start, end=min(end, now)),
        "top_docs": top_docs,
        "never_cited": never_cited,
        "open_alert_list": Alert.objects.filter(status=Alert.Status.OPEN)[:10],
        "query": request.GET.urlencode(),
        "price": settings.INSIGHTS_PRICE_PER_1K_TOKENS,
        "documents": Document.objects.order_by("title").only("id", "title"),
    }
    template = "insights/_dashboard_body.html" if request.htmx else "insights/dashboard.html"
    return render(request, template, context)


EXPORTS = ("daily", "reasons", "kinds", "ratings", "latency", "documents", "gaps", "comments")


@require_GET
@curator_required
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    if table not in EXPORTS:
        raise Http404("No such table.")
    period = _period(request)
    now = timezone.now()
    data, days = selectors.period_data(period, now=now)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="groundwork-{table}-{period.start}-{period.end}.csv"'
    writer = csv.writer(response)
    if table == "daily":
        writer.writerow(
            [
                "date",
                "conversations",
                "containment",
                "intervention_rate",
                "thumbs_up_share",
                "tokens",
                "tokens_per_conversation",
                "blocked",
                "turn_p95_ms",
            ]
        )
        for day, part in days:
            s = metrics.summary(metrics.merge([part]))
            writer.writerow(
                [
                    day,
                    s["conversations"],
                    s["containment"],
                    s["intervention_rate"],
                    s["thumbs_up_share"],
                    part.get("tokens", 0),
                    s["tokens_per_conversation"],
                    s["blocked"],
                    s["turn_p95_ms"],
                ]
            )
    elif table == "reasons":
        writer.writerow(["reason", "conversations"])
        writer.writerows(sorted(data.get("escalations_by_reason", {}).items()))
    elif table == "kinds":
        writer.writerow(["kind", "replies", "thumbs_up", "thumbs_down"])
        for kind, n in sorted(data.get("replies_by_kind", {}).items()):
            writer.writerow([kind, n, data["thumbs_up_by_kind"].get(kind, 0), data["thumbs_down_by_kind"].get(kind, 0)])
    elif table == "ratings":
        writer.writerow(["rating", "conversations"])
        writer.writerows(metrics.summary(data)["ratings"].items())
    elif table == "latency":
        writer.writerow(["stage", "p50_ms", "p95_ms"])
        s = metrics.summary(data)
        writer.writerow(["turn", s["turn_p50_ms"], s["turn_p95_ms"]])
        for stage, (p50, p95) in s["stage_p50_p95_ms"].items():
            writer.writerow([stage, p50, p95])
    elif table == "documents":
        top, never = selectors.document_citations(data)
        writer.writerow(["document_id", "title", "citations"])
        writer.writerows(top)
        writer.writerows([(d, t, 0) for d, t in never])
    elif table == "gaps":
        start, _ = metrics.day_bounds(period.start)
        _, end = metrics.day_bounds(period.end)
        writer.writerow(["cluster", "size", "question"])
        for i, gap in enumerate(selectors.knowledge_gaps(start=start, end=min(end, now)), start=1):
            for question in gap.questions:
                writer.writerow([i, gap.size, question])
    else:
        writer.writerow(["rating", "comment"])
        writer.writerows((c["rating"], c["comment"]) for c in data.get("comments", []))
    return response


@require_GET
def prometheus(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; `Authorization: Bearer <METRICS_TOKEN>` required."""
    import secrets

    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from insights.prometheus import GroundworkCollector

    if not settings.METRICS_TOKEN:
        raise Http404("Set METRICS_TOKEN to enable /metrics.")
    header = request.headers.get("Authorization", "")
    if not secrets.compare_digest(header, f"Bearer {settings.METRICS_TOKEN}"):
        raise PermissionDenied
    registry = CollectorRegistry()
    registry.register(GroundworkCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
