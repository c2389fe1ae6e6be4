from django.http import HttpRequest

from insights.models import Alert


def open_alerts(request: HttpRequest) -> dict:
    """Open alerts for the staff banner on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    # Evaluated lazily: pages that do not show the banner pay nothing.
    return {"open_alerts": Alert.objects.filter(status=Alert.Status.OPEN).order_by("-opened_at")}
