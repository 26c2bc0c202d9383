"""The sales step of seed_demo: products, order histories, leads, opportunities and targets."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count, F, Sum

from customers import demo_steps
from customers.models import Customer
from sales.demo import PRODUCTS, register_demo
from sales.models import Lead, Opportunity, Order, OrderLine, Product, SalesTarget, StageChange

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sales_step():
    """The step as SalesConfig.ready registers it; removed afterwards unless it was there already."""
    registered = "sales" in demo_steps._registry
    register_demo()
    yield
    if not registered:
        demo_steps._registry.pop("sales", None)


def seed(**options):
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def order_fingerprint():
    """What two seeded databases should agree on: each customer's orders, lines and totals."""
    return list(
        Order.objects.order_by("customer__external_ref", "ordered_at", "amount", "number")
        .values_list("customer__external_ref", "ordered_at", "status", "amount", "cost", "owner__username")
        .annotate(lines=Count("lines"))
    )


# Order dates count back from "now": both runs must see the same clock, or a date near midnight
# moves by a day between them (seen at 02:35 in Shanghai).
@time_machine.travel(datetime.datetime(2026, 11, 23, 15, 59, 58, tzinfo=datetime.UTC), tick=False)
def test_the_same_seed_gives_the_same_orders_and_totals():
    seed(customers=120, seed=7)
    first = order_fingerprint()
    first_totals = Order.objects.aggregate(amount=Sum("amount"), cost=Sum("cost"))
    first_leads = list(Lead.objects.order_by("name", "phone").values_list("name", "phone", "status", "source"))
    Order.objects.all().delete()
    Opportunity.objects.all().delete()
    Lead.objects.all().delete()
    SalesTarget.objects.all().delete()
    Customer.objects.all().delete()

    seed(customers=120, seed=7)

    assert first
    assert order_fingerprint() == first
    assert Order.objects.aggregate(amount=Sum("amount"), cost=Sum("cost")) == first_totals
    assert list(Lead.objects.order_by("name", "phone").values_list("name", "phone", "status", "source")) == first_leads


def test_demo_sales_data_are_consistent_and_realistic():
    output = seed(customers=300, seed=3)

    assert Product.objects.count() == len(PRODUCTS)
    assert "order lines" in output
    orders = Order.objects.count()
    lines = OrderLine.objects.count()
    # About ten lines per customer, 1–4 lines per order.
    assert 1500 <= lines <= 5000, lines
    assert 1 <= lines / orders <= 4
    # An order's amount and cost are the sums of its lines.
    sums = {}
    for order_id, amount, cost in OrderLine.objects.values_list("order_id", "amount", "cost"):
        total = sums.setdefault(order_id, [Decimal(0), Decimal(0)])
        total[0] += amount
        total[1] += cost
    assert {pk: [amount, cost] for pk, amount, cost in Order.objects.values_list("pk", "amount", "cost")} == sums
    cancelled = Order.objects.filter(status=Order.Status.CANCELLED).count()
    assert 0.02 < cancelled / orders < 0.09
    # Orders of owned customers belong to the customer's owner; numbers are unique SO-<year>-n.
    assert not Order.objects.exclude(owner=F("customer__owner")).filter(customer__owner__isnull=False).exists()
    assert Order.objects.filter(number__regex=r"^SO-20[0-9]{2}-[0-9]{6}$").count() == orders
    # Repeat buyers: some customers with many orders.
    per_customer = Order.objects.values("customer").annotate(n=Count("pk"))
    assert max(row["n"] for row in per_customer) >= 8
    assert 20 <= Lead.objects.count() <= 40
    assert Lead.objects.filter(from_web_form=True).exists()
    assert Lead.objects.filter(source="referral", referred_by__isnull=False).exists()
    assert set(Lead.objects.values_list("status", flat=True)) == set(Lead.Status.values)
    assert Opportunity.objects.exists()
    # Every opportunity starts with a stage change from nowhere and ends in its current stage.
    for opportunity in Opportunity.objects.prefetch_related("stage_changes"):
        changes = list(opportunity.stage_changes.all())
        assert changes[0].from_stage is None
        assert changes[-1].to_stage_id == opportunity.stage_id
        assert (opportunity.closed_at is not None) == opportunity.stage.is_closed
    assert StageChange.objects.count() >= Opportunity.objects.count()
    assert SalesTarget.objects.filter(rep__username="sales1").count() == 12
    assert SalesTarget.objects.filter(rep__username="sales2").count() == 12


def test_appending_customers_adds_orders_but_not_products_or_targets():
    seed(customers=50, seed=1)
    products, targets, orders = Product.objects.count(), SalesTarget.objects.count(), Order.objects.count()

    seed(customers=50, seed=1, append=True)

    assert Product.objects.count() == products
    assert SalesTarget.objects.count() == targets
    assert Order.objects.count() > orders
