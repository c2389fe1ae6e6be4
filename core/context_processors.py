from django.http import HttpRequest

from core.permissions import is_agent, is_curator


def roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_agent": False, "is_curator": False}
    return {"is_agent": is_agent(user), "is_curator": is_curator(user)}
