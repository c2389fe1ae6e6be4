"""Who may do what. Roles are Django groups: `agents`, `curators`; admins are superusers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

AGENTS = "agents"
CURATORS = "curators"


def in_group(user, name: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cache = getattr(user, "_group_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._group_names = cache
    return name in cache


def is_curator(user) -> bool:
    return in_group(user, CURATORS)


def is_agent(user) -> bool:
    return in_group(user, AGENTS)


def _requires(check: Callable[[object], bool]):
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = _requires(lambda u: u.is_active and u.is_staff)
curator_required = _requires(is_curator)
agent_required = _requires(is_agent)
