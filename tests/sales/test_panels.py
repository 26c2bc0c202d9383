"""The sales panels of the customer 360 page: opportunities, orders, purchase history."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sales.models import Order
from tests.factories import CustomerFactory
from tests.sales.factories import OpportunityFactory, OrderFactory, OrderLineFactory, default_stage

pytestmark = pytest.mark.django_db

D = Decimal


def panels_of(response):
    return {panel["key"]: panel["context"] for column in response.context["panels"].values() for panel in column}


HUNDRED, SIXTY = Decimal("100.00"), Decimal("60.00")


def order(customer, *, owner=None, status=Order.Status.CONFIRMED, when=None, amount=HUNDRED, cost=SIXTY):
    made = OrderFactory(
        customer=customer, owner=owner or customer.owner, status=status, ordered_at=when or timezone.localdate()
    )
    OrderLineFactory(order=made, quantity=D(1), unit_price=amount, unit_cost=cost)
    return made


def months_ago(count, day=10):
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, day)


def test_opportunities_panel_lists_open_ones_first_with_stage_amount_and_a_create_link(login, owner):
    customer = CustomerFactory(owner=owner)
    won = OpportunityFactory(customer=customer, name="Won deal", stage=default_stage("Won"), amount=D(500))
    late = OpportunityFactory(
        customer=customer, name="Later", stage=default_stage("Proposal"), expected_close=months_ago(-3), amount=D(300)
    )
    soon = OpportunityFactory(customer=customer, name="Soon", expected_close=months_ago(-1), amount=D(200))
    client = login(owner)

    response = client.get(customer.get_absolute_url())

    panel = panels_of(response)["opportunities"]
    assert panel["opportunities"] == [soon, late, won]
    assert panel["open_amount"] == D(500)
    html = response.content.decode()
    assert f"/sales/opportunities/create/?customer={customer.pk}" in html
    assert "Proposal" in html


def test_orders_panel_shows_the_latest_ten_with_totals_of_all_counted_orders(login, owner):
    customer = CustomerFactory(owner=owner)
    made = [order(customer, when=months_ago(i + 1), amount=D(100 + i), cost=D(50)) for i in range(12)]
    order(customer, status=Order.Status.CANCELLED, amount=D(9999))
    client = login(owner)

    response = client.get(customer.get_absolute_url())

    panel = panels_of(response)["orders"]
    assert [o.pk for o in panel["orders"]][1:] == [o.pk for o in made[:9]]  # the cancelled one is newest
    assert panel["count"] == 12
    amount = sum(D(100 + i) for i in range(12))
    assert (panel["amount"], panel["gross_profit"]) == (amount, amount - 12 * D(50))
    html = response.content.decode()
    assert f"{reverse('sales:order_list')}?customer={customer.pk}" in html
    assert f"{reverse('sales:order_create')}?customer={customer.pk}" in html


def test_purchase_history_gives_monthly_revenue_and_profit_for_24_months(login, owner):
    customer = CustomerFactory(owner=owner)
    order(customer, when=months_ago(0, 1), amount=D("100.00"), cost=D("30.00"))
    order(customer, when=months_ago(0, 2), amount=D("50.50"), cost=D("20.25"))
    order(customer, when=months_ago(5), amount=D("300.00"), cost=D("310.00"))
    order(customer, when=months_ago(5), status=Order.Status.CANCELLED, amount=D("1000.00"))
    order(customer, when=months_ago(24), amount=D("777.00"))  # before the window
    client = login(owner)

    response = client.get(customer.get_absolute_url())

    panel = panels_of(response)["purchase_history"]
    months = panel["months"]
    assert len(months) == 24
    assert months[-1]["month"] == months_ago(0, 1)
    assert months[0]["month"] == months_ago(23, 1)
    by_month = {row["month"]: (row["amount"], row["gross_profit"]) for row in months}
    assert by_month[months_ago(0, 1)] == (D("150.50"), D("100.25"))
    assert by_month[months_ago(5, 1)] == (D("300.00"), D("-10.00"))
    assert sum(row["amount"] for row in months) == D("450.50")
    html = response.content.decode()
    data = json.loads(
        re.search(r'<script id="purchase-history-data" type="application/json">(.*?)</script>', html).group(1)
    )
    assert data["revenue"][-1] == 150.5 and data["gross_profit"][-6] == -10.0
    assert "js/purchase_chart.js" in html and "chart.umd.min.js" in html


def test_panels_show_only_what_the_reader_may_see(login, owner, teammate, team_manager, admin_user):
    customer = CustomerFactory(owner=owner)
    mine = order(customer, amount=D(100))
    by_teammate = order(customer, owner=teammate, amount=D(40))
    my_deal = OpportunityFactory(customer=customer, owner=owner)
    teammate_deal = OpportunityFactory(customer=customer, owner=teammate)

    as_owner = panels_of(login(owner).get(customer.get_absolute_url()))
    assert as_owner["orders"]["orders"] == [mine]
    assert as_owner["orders"]["amount"] == D(100)
    assert as_owner["opportunities"]["opportunities"] == [my_deal]
    assert sum(row["amount"] for row in as_owner["purchase_history"]["months"]) == D(100)

    as_manager = panels_of(login(team_manager).get(customer.get_absolute_url()))
    assert set(as_manager["orders"]["orders"]) == {mine, by_teammate}
    assert set(as_manager["opportunities"]["opportunities"]) == {my_deal, teammate_deal}
    assert sum(row["amount"] for row in as_manager["purchase_history"]["months"]) == D(140)


def test_read_only_roles_get_no_create_links(login, owner, manager, service_agent):
    customer = CustomerFactory(owner=owner)
    order(customer)
    for user in (manager, service_agent):
        panels = panels_of(login(user).get(customer.get_absolute_url()))
        assert panels["orders"]["create_url"] is None
        assert panels["opportunities"]["create_url"] is None
    assert panels["orders"]["count"] == 1  # service staff see orders, not opportunities
    assert panels["opportunities"]["opportunities"] == []


def test_360_page_queries_do_not_grow_with_orders_and_opportunities(
    login, owner, team_manager, django_assert_max_num_queries
):
    client = login(team_manager)
    small = CustomerFactory(owner=owner)
    order(small)
    OpportunityFactory(customer=small)
    big = CustomerFactory(owner=owner)
    for i in range(30):
        made = order(big, when=months_ago(i % 24))
        OrderLineFactory(order=made)
    for stage in ("Prospecting", "Proposal", "Won", "Lost") * 6:
        OpportunityFactory(customer=big, stage=default_stage(stage))
    client.get(small.get_absolute_url())
    with CaptureQueriesContext(connection) as few:
        client.get(small.get_absolute_url())

    with django_assert_max_num_queries(len(few)):
        response = client.get(big.get_absolute_url())

    panels = panels_of(response)
    assert len(panels["orders"]["orders"]) == 10
    assert len(panels["opportunities"]["opportunities"]) == 20
    assert panels["opportunities"]["more"] is True
