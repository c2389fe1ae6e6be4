"""The dashboard in a real browser, after a short history made through the real pipeline."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_dashboard_renders_with_charts_and_gaps(browser, live_server, live_demo_kb):
    call_command("seed_history", days=4, per_day=6, seed=3, verbosity=0)
    user = User.objects.create_user("lead", password="lead-pass-123", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="curators")[0])
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/insights/")
    page.fill("#id_username", "lead")
    page.fill("#id_password", "lead-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/insights/")
    assert page.locator(".tile").count() == 8
    assert page.locator("svg.chart").count() == 6
    assert page.locator("svg.chart polyline").count() >= 1
    assert page.get_by_text("Knowledge gaps").is_visible()
    shot(page, "dashboard")
    # the date-range picker swaps the body in place
    page.fill("#start", "2020-01-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**start=2020-01-01**")
    assert page.locator(".tile").count() == 8
