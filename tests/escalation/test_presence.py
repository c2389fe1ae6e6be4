"""Issue #20, second list: agents see who is online when they transfer a conversation."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from escalation import services
from escalation.models import Escalation
from support.models import Conversation

pytestmark = pytest.mark.django_db


def _agent(name: str) -> User:
    user = User.objects.create_user(name, password="pw", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="agents")[0])
    return user


def test_transfer_list_says_who_is_online(agent):
    online, away = _agent("olga"), _agent("arno")
    escalation = Escalation.objects.create(
        conversation=Conversation.objects.create(token_hash="0" * 64), reason="no_answer"
    )
    services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    olga = Client()
    olga.force_login(online)
    olga.get("/console/")  # her console is open

    me = Client()
    me.force_login(agent)
    page = me.get(f"/console/{escalation.pk}/").content.decode()
    assert "olga (online)" in page and "arno (away)" in page
    assert services.agents_online([online.pk, away.pk, agent.pk]) == {online.pk, agent.pk}
