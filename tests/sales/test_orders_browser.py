"""The order form in Chromium: the product fills the price, lines are added and removed, totals follow."""

from decimal import Decimal

import pytest

from sales.models import Order
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory
from tests.sales.factories import ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rep_builds_an_order_from_the_customer_page(logged_in_page, owner):
    customer = CustomerFactory(name="Lotus Foods", owner=owner)
    ProductFactory(sku="W-1", name="Widget", unit_price=Decimal("100.00"), unit_cost=Decimal("60.00"))
    gadget = ProductFactory(sku="G-1", name="Gadget", unit_price=Decimal("250.00"), unit_cost=Decimal("200.00"))
    page = logged_in_page(owner)

    page.goto(f"/customers/{customer.pk}/")
    page.locator("#panel-orders").get_by_role("link", name="New order").click()
    page.select_option("select[name=lines-0-product]", label="Widget (W-1)")
    expect(page.locator("input[name=lines-0-unit_price]")).to_have_value("100.00")
    page.fill("input[name=lines-0-quantity]", "3")
    page.get_by_role("button", name="Add a line").click()
    page.select_option("select[name=lines-1-product]", label="Gadget (G-1)")
    page.get_by_role("button", name="Add a line").click()
    page.select_option("select[name=lines-2-product]", label="Widget (W-1)")
    page.locator(".order-line").nth(2).get_by_role("button", name="Remove this line").click()
    expect(page.locator(".order-total-amount")).to_have_text("550.00")
    expect(page.locator(".order-total-profit")).to_have_text("170.00")
    page.get_by_role("button", name="Create draft order").click()

    expect(page.locator("#order-amount")).to_have_text("550.00")
    order = Order.objects.get()
    assert list(order.lines.values_list("product", flat=True).order_by("pk"))[1] == gadget.pk
    assert order.lines.count() == 2
    page.get_by_role("button", name="Confirm order").click()
    expect(page.locator(".order-status").first).to_have_text("Confirmed")
    assert console_problems(page) == []


def test_order_form_fits_a_phone(logged_in_page, owner):
    customer = CustomerFactory(owner=owner)
    ProductFactory(name="A product with a rather long name for a small screen")
    page = logged_in_page(owner, viewport=PHONE)

    page.goto(f"/sales/orders/create/?customer={customer.pk}")

    expect(page.get_by_role("button", name="Add a line")).to_be_visible()
    assert overflow_width(page) == 0
