"""Demo data for the embedded default: the Brightwheel Bikes help centre and
three staff accounts. Never runs unless DEMO_ENABLED (embedded DB + DEBUG)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from flows import services as flow_services
from flows.models import FlowVersion
from knowledge import services
from knowledge.models import Document
from knowledge.sources import read_path

DEMO_KB = Path(settings.BASE_DIR) / "demo" / "kb"


@dataclass(frozen=True)
class DemoAccounts:
    usernames: tuple[str, ...]
    password: str


def demo_accounts_ensure(password: str | None = None) -> DemoAccounts:
    if not settings.DEMO_ENABLED:
        raise RuntimeError("demo accounts exist only on the embedded default with DEBUG on")
    password = password or settings.DEMO_PASSWORD or secrets.token_urlsafe(9)
    User = get_user_model()
    specs = {
        "admin": {"is_staff": True, "is_superuser": True, "groups": ("curators", "agents")},
        "curator": {"is_staff": True, "is_superuser": False, "groups": ("curators",)},
        "agent": {"is_staff": True, "is_superuser": False, "groups": ("agents",)},
    }
    for username, spec in specs.items():
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
        user.is_staff, user.is_superuser = spec["is_staff"], spec["is_superuser"]
        user.set_password(password)
        user.save()
        user.groups.set(Group.objects.filter(name__in=spec["groups"]))
    return DemoAccounts(tuple(specs), password)


def demo_kb_load() -> int:
    """Ingest the demo help centre once; later starts find it and skip."""
    if Document.objects.exists():
        return 0
    jobs = services.jobs_create(files=read_path(DEMO_KB), verify=True)
    for job in jobs:
        services.job_run(job_id=job.pk)
    return len(jobs)


DEMO_FLOWS = Path(settings.BASE_DIR) / "demo" / "flows.yaml"


def demo_flows_load() -> int:
    """Import and approve the demo shop's flows; a flow whose latest version says the same is left
    alone, so a curator's later edits (a newer version) are never overwritten by a restart."""
    if FlowVersion.objects.exists():
        return 0
    return len(flow_services.flows_import(text=DEMO_FLOWS.read_text(), approve=True, note="demo"))
