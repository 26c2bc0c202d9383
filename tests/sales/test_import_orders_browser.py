"""Browser test: a sales manager uploads an order file and reads the outcome, on a laptop and a phone."""

import pytest

from sales.models import Order
from tests.browser import PHONE, expect, overflow_width
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILE = (
    "customer_ref,order_ref,ordered_at,amount,quantity,customer_name\n"
    "C1,ERP-1,2025-03-04,100.00,2,\n"
    "C1,ERP-1,2025-03-04,50.00,1,\n"
    "NEW-9,ERP-2,2025-03-05,70,,新客户\n"
    "C1,ERP-3,someday,70,,\n"
)


def test_sales_manager_uploads_orders_and_sees_counts_and_bad_rows(logged_in_page, team_manager, owner, tmp_path):
    CustomerFactory(external_ref="C1", owner=owner)
    path = tmp_path / "orders.csv"
    path.write_text(FILE, encoding="utf-8")
    page = logged_in_page(team_manager)
    page.goto("/sales/orders/import/")

    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and import").click()

    expect(page.locator("[data-count=orders]")).to_have_text("2")
    expect(page.locator(".import-errors")).to_contain_text("ordered_at 'someday' is not a date")
    assert sorted(Order.objects.values_list("order_ref", flat=True)) == ["ERP-1", "ERP-2"]
    url = page.url

    phone = logged_in_page(team_manager, viewport=PHONE)
    phone.goto(url)
    expect(phone.locator("[data-count=lines]")).to_have_text("3")
    assert overflow_width(phone) == 0
