"""The product analysis page in Chromium: charts drawn, tables sorted by a click, fits a phone."""

import datetime

import pytest

from analytics.services import crosssell
from tests.analytics.factories import GradingRunFactory
from tests.analytics.test_products import PERIOD, catalogue, dataset  # noqa: F401 (fixtures)
from tests.browser import PHONE, console_problems, expect, overflow_width

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE = "/analytics/products/?start={start}&end={end}".format(**PERIOD)


def test_charts_and_sortable_tables(logged_in_page, manager, dataset):  # noqa: F811
    crosssell.associations_compute(run=GradingRunFactory(as_of=datetime.date(2026, 6, 30)))
    page = logged_in_page(manager)
    page.goto(PAGE)
    page.wait_for_function("() => document.querySelector('#composition-chart').width > 0")
    page.wait_for_function("() => document.querySelector('#margin-chart').width > 0")
    names = page.locator("#product-table tbody th[scope=row] a")
    # By revenue at first; a click on "Gross margin rate" sorts ascending (no margin last), a second descending.
    expect(names).to_have_text(["Desk C", "Chair A", "Chair B", "Desk D"])
    header = page.locator("#product-table thead th").nth(6)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    rows = page.locator("#product-table tbody th[scope=row]")
    # B 25%, C and A 40% (a stable sort keeps their order), no product 60%, D without margin.
    assert rows.evaluate_all("(cells) => cells.map((cell) => cell.dataset.sortValue)") == [
        "Chair B",
        "Desk C",
        "Chair A",
        "No product",
        "Desk D",
    ]
    header.get_by_role("button").click()
    expect(rows.first).to_have_attribute("data-sort-value", "No product")
    page.locator("#category-table thead th").first.get_by_role("button").click()
    expect(page.locator("#category-table tbody th[scope=row]")).to_have_text(["Chairs", "Desks", "No product"])
    assert console_problems(page) == []


def test_page_fits_a_phone(logged_in_page, manager, dataset):  # noqa: F811
    page = logged_in_page(manager, viewport=PHONE)
    page.goto(PAGE)
    expect(page.locator("#kpi-revenue")).to_have_text("1,100.00")
    assert overflow_width(page) == 0
    assert console_problems(page) == []
