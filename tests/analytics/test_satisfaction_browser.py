"""The satisfaction dashboard in Chromium: charts drawn, the matrix leads to a quadrant's customers, fits a phone."""

import datetime
import re

import pytest

from tests.analytics.factories import ChurnModelRunFactory, CustomerGradeFactory, GradingRunFactory
from tests.analytics.test_satisfaction import local, respond
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

AS_OF = datetime.date(2026, 3, 15)


@pytest.fixture
def dashboard_data(transactional_db):
    run = GradingRunFactory(as_of=AS_OF)
    ChurnModelRunFactory(grading_run=run)
    answers = [
        ("Harbour Logistics", "loyal", 0.9, 2, 4),  # hostage
        ("Lotus Tea House", "repeat", 0.8, 5, 10),  # loyalist
        ("Pearl River Foods", "first_time", 0.7, 4, 8),  # mercenary
        ("Summit Outdoor", "lost", 0.1, 1, 2),  # defector
    ]
    for index, (name, state, p_alive, overall, recommend) in enumerate(answers):
        customer = CustomerFactory(name=name)
        CustomerGradeFactory(run=run, customer=customer, state=state, p_alive=p_alive)
        respond(
            customer,
            local(datetime.date(2025, 5 + 2 * index, 10)),
            overall=overall,
            recommend=recommend,
            dims={"reliability": (7, 4), "empathy": (4, 6)},
        )
    return run


def test_manager_reads_the_dashboard_and_opens_the_hostages(logged_in_page, manager, dashboard_data):
    page = logged_in_page(manager)
    page.goto("/analytics/satisfaction/?as_of=2026-03-15")

    expect(page.locator("#kpi-responses")).to_have_text("4")
    # Chart.js sizes each canvas once it has drawn it.
    page.wait_for_function("() => document.querySelector('#monthly-chart').width > 0")
    page.wait_for_function("() => document.querySelector('#gap-chart').width > 0")
    expect(page.locator("#gap-table")).to_contain_text("Reliability")
    assert console_problems(page) == []

    page.locator("#cell-hostages").click()
    expect(page).to_have_url(re.compile(r"/analytics/satisfaction/customers/\?quadrant=hostages&as_of=2026-03-15$"))
    expect(page.locator("#quadrant-customers")).to_contain_text("Harbour Logistics")
    expect(page.locator("#quadrant-customers")).not_to_contain_text("Lotus Tea House")
    page.get_by_role("link", name="Harbour Logistics").click()
    expect(page).to_have_url(re.compile(r"/customers/\d+/$"))


def test_dashboard_fits_a_phone(logged_in_page, manager, dashboard_data):
    page = logged_in_page(manager, viewport=PHONE)
    page.goto("/analytics/satisfaction/?as_of=2026-03-15")
    expect(page.locator("#satisfaction-matrix")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#gap-chart').width > 0")
    assert overflow_width(page) == 0
    page.goto("/analytics/satisfaction/customers/?quadrant=loyalists&as_of=2026-03-15")
    expect(page.locator("#quadrant-customers")).to_contain_text("Lotus Tea House")
    assert overflow_width(page) == 0
