"""The pyramid dashboard, the graded-customers list and the 360 panels in Chromium."""

import datetime
import os
import re

import pytest

from analytics.models import StateTransition
from tests.analytics.factories import CustomerGradeFactory, GradingRunFactory
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

TIERS = ["vip"] + ["key"] * 2 + ["ordinary"] * 7 + ["small"] * 30
SEGMENTS = ["champions", "loyal", "potential_loyalists", "at_risk", "hibernating", "need_attention"]
# Set PYRAMID_SCREENSHOTS=/tmp to look at the pages (desktop and phone) after a run.
SCREENSHOTS = os.environ.get("PYRAMID_SCREENSHOTS")


def _screenshot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


@pytest.fixture
def graded(owner):
    """Forty graded buyers of owner's in two monthly runs, with a few state changes."""
    current = GradingRunFactory(as_of=datetime.date(2026, 11, 30))
    previous = GradingRunFactory(as_of=datetime.date(2026, 10, 31))
    customers = []
    for index, tier in enumerate(TIERS):
        customer = CustomerFactory(name=f"Buyer {index:02d}", owner=owner)
        customers.append(customer)
        r, f = 5 - index % 5, 5 - (index // 3) % 5
        common = {"customer": customer, "r": r, "f": f, "m": 3, "rfm_code": f"{r}{f}3"}
        value = round(5000 / (index + 1), 2)
        CustomerGradeFactory(
            run=current,
            tier=tier,
            value=value,
            monetary=value * 3,
            segment=SEGMENTS[index % 6],
            state="loyal",
            p_alive=0.9 - index / 50,
            clv=value * 2,
            churn_risk="low",
            **common,
        )
        CustomerGradeFactory(run=previous, tier=TIERS[max(index - 3, 0)], value=value, segment="loyal", **common)
    for customer, (source, target) in zip(
        customers, [("repeat", "loyal"), ("lost", "repeat"), ("loyal", "lost")], strict=False
    ):
        StateTransition.objects.create(
            run=current, customer=customer, as_of=current.as_of, from_state=source, to_state=target
        )
    return customers


def test_pyramid_draws_its_charts_and_a_tier_leads_to_its_customers(logged_in_page, owner, graded):
    page = logged_in_page(owner)
    page.goto("/analytics/pyramid/")

    expect(page.locator("#tier-table")).to_contain_text("VIP")
    for chart in ("pyramid-chart", "value-chart", "pareto-chart", "segment-chart"):
        page.wait_for_function(f"() => document.querySelector('#{chart}').width > 0")
    expect(page.locator("#movement-table")).to_be_visible()
    expect(page.locator("#transition-table")).to_contain_text("won back")
    _screenshot(page, "pyramid")
    assert console_problems(page) == []

    page.locator("#tier-table").get_by_role("link", name="Key").click()

    expect(page).to_have_url(re.compile(r"/analytics/customers/\?as_of=2026-11-30&tier=key$"))
    expect(page.locator("#grade-list-title")).to_have_text("Key customers as of 2026-11-30")
    expect(page.locator("#grade-table tbody tr")).to_have_count(2)
    _screenshot(page, "grade_list")


def test_pages_fit_a_phone(logged_in_page, owner, graded):
    page = logged_in_page(owner, viewport=PHONE)
    for url, name in (("/analytics/pyramid/", "pyramid_phone"), ("/analytics/customers/", "grade_list_phone")):
        page.goto(url)
        expect(page.locator("#as-of")).to_be_visible()
        _screenshot(page, name)
        assert overflow_width(page) == 0, url
    page.goto(graded[1].get_absolute_url())
    expect(page.locator("#panel-grade_history")).to_contain_text("2026-10-31")
    expect(page.locator("#panel-state_changes")).to_contain_text("won back")
    _screenshot(page, "customer_phone")
    assert overflow_width(page) == 0
