from django.http import HttpRequest

from core.permissions import is_agent, is_curator


def roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_agent": False, "is_curator": False}
    context = {"is_agent": is_agent(user), "is_curator": is_curator(user)}
    if user.is_staff:
        from insights.models import Alert

        # Evaluated lazily: pages that do not show the banner pay nothing.
        context["open_alerts"] = Alert.objects.filter(status=Alert.Status.OPEN).order_by("-opened_at")
    return context
