"""A manager's round of the analytics in Chromium, on figures the real jobs computed from orders:
every dashboard from the sidebar, then the customers of one pyramid tier."""

import datetime
import re

import pytest
from django.utils import timezone

from analytics.services.churn import detect_churn
from tests.analytics.factories import default_rule
from tests.analytics.grading_data import buy
from tests.browser import console_problems, expect
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

DASHBOARDS = [
    ("Customer pyramid", "/analytics/pyramid/", "Customer pyramid"),
    ("Graded customers", "/analytics/customers/", "Graded customers"),
    ("Churn and CLV", "/analytics/churn/", "Churn and CLV"),
    ("Churn alerts", "/analytics/alerts/", "Churn alerts"),
    ("Satisfaction", "/analytics/satisfaction/", "Satisfaction"),
    ("Product analysis", "/analytics/products/", "Product analysis"),
]


@pytest.fixture
def graded_book(transactional_db, owner):
    """Twenty buyers with one to twenty purchase occasions (more occasions, more profit), graded today."""
    default_rule()
    today = timezone.localdate()
    buyers = []
    for n in range(1, 21):
        customer = CustomerFactory(name=f"Buyer {n:02d}", owner=owner)
        for k in range(n):
            buy(customer, today - datetime.timedelta(days=7 + 11 * k), 100, 40)
        buyers.append(customer)
    detect_churn(as_of=today)
    return buyers


def test_manager_reads_every_dashboard_and_the_customers_of_a_tier(logged_in_page, manager, graded_book):
    page = logged_in_page(manager)
    page.goto("/")
    for link, path, heading in DASHBOARDS:
        page.locator("#sidebar").get_by_role("link", name=link, exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(path)))
        expect(page.locator("h1")).to_contain_text(heading)
        expect(page.locator("#no-run")).to_have_count(0)
    assert console_problems(page) == []

    page.goto("/analytics/pyramid/")
    # 20 buyers: 1 % of them is the single best one (20 occasions, profit 1,200) as VIP.
    page.locator("#tier-table").get_by_role("link", name="VIP").click()
    expect(page).to_have_url(re.compile(r"/analytics/customers/\?.*tier=vip"))
    rows = page.locator("#grade-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Buyer 20")
    rows.first.get_by_role("link", name="Buyer 20").click()
    expect(page.locator("h1")).to_contain_text("Buyer 20")
    expect(page.locator("#panel-grade_history")).to_contain_text(timezone.localdate().strftime("%Y-%m-%d"))
