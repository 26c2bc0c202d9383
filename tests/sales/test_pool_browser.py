"""The customer pool in Chromium: a rep claims a customer and finds it among their own."""

import importlib
import re

import pytest
from django.apps import apps

from customers.models import Customer
from sales.models import PoolMove
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser


def test_rep_claims_a_customer_from_the_pool_and_sees_it_in_their_list(logged_in_page, owner, teammate):
    customer = CustomerFactory(name="Harbour Logistics", owner=None, region="浙江")
    PoolMove.objects.create(
        customer=customer, action=PoolMove.Action.RECYCLED, from_owner=teammate, reason="No interaction for 60 days"
    )
    CustomerFactory(name="Somebody Elses Co", owner=teammate)
    page = logged_in_page(owner)

    page.goto("/sales/pool/")
    row = page.locator("tr", has=page.get_by_role("link", name="Harbour Logistics"))
    expect(row).to_contain_text("No interaction for 60 days")
    expect(page.locator("#pool-results")).not_to_contain_text("Somebody Elses Co")
    row.get_by_role("button", name="Claim").click()

    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.locator(".alert-success")).to_contain_text("is now your customer")
    page.goto("/customers/")
    expect(page.locator("#customer-results").get_by_role("link", name="Harbour Logistics")).to_be_visible()
    assert Customer.objects.get(pk=customer.pk).owner == owner
    assert console_problems(page) == []


def test_pool_page_fits_a_phone(logged_in_page, owner):
    CustomerFactory.create_batch(3, owner=None)
    page = logged_in_page(owner, viewport=PHONE)
    page.goto("/sales/pool/")
    expect(page.get_by_role("button", name="Claim").first).to_be_visible()
    assert overflow_width(page) == 0


def test_reports_draw_their_charts_without_console_errors(logged_in_page, team_manager, owner):
    # An earlier transactional test may have flushed the pipeline the migration made; make it again.
    importlib.import_module("sales.migrations.0002_default_pipeline").create_default_pipeline(apps, None)
    page = logged_in_page(team_manager)
    page.goto("/sales/reports/")
    expect(page.locator("#funnel-table")).to_contain_text("Prospecting")
    # Chart.js sizes each canvas once it has drawn it.
    page.wait_for_function("() => document.querySelector('#funnel-chart').width > 0")
    expect(page.locator("#leaderboard-table")).to_contain_text(owner.get_full_name())
    assert console_problems(page) == []
