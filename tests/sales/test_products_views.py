"""Products: who reads and edits the catalogue, validation, the list, and a product's sales totals."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sales.models import Order, Product
from tests.factories import CustomerFactory
from tests.sales.factories import OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

D = Decimal


def product_form(**overrides):
    return {
        "sku": "NEW-1",
        "name": "New thing",
        "category": "Tools",
        "unit_price": "12.50",
        "unit_cost": "7.00",
        "active": "on",
        **overrides,
    }


@pytest.mark.parametrize("persona", ["owner", "team_manager", "manager", "admin_user"])
def test_sales_roles_managers_and_admins_read_the_catalogue(request, login, persona):
    product = ProductFactory(name="Widget")
    client = login(request.getfixturevalue(persona))

    assert product in client.get(reverse("sales:product_list")).context["products"]
    assert client.get(product.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("persona", ["service_agent", "marketer"])
def test_other_roles_do_not_use_the_catalogue(request, login, persona):
    product = ProductFactory()
    client = login(request.getfixturevalue(persona))
    assert client.get(reverse("sales:product_list")).status_code == 403
    assert client.get(product.get_absolute_url()).status_code == 403


@pytest.mark.parametrize("persona", ["owner", "manager"])
def test_reps_and_read_only_managers_cannot_change_products(request, login, persona):
    product = ProductFactory(name="Widget", unit_price=D("100.00"))
    client = login(request.getfixturevalue(persona))

    assert client.get(reverse("sales:product_create")).status_code == 403
    assert client.post(reverse("sales:product_create"), product_form()).status_code == 403
    assert client.get(reverse("sales:product_update", args=[product.pk])).status_code == 403
    response = client.post(reverse("sales:product_update", args=[product.pk]), product_form(sku=product.sku))
    assert response.status_code == 403
    assert list(Product.objects.values_list("name", "unit_price")) == [("Widget", D("100.00"))]
    assert (
        reverse("sales:product_update", args=[product.pk])
        not in client.get(product.get_absolute_url()).content.decode()
    )


@pytest.mark.parametrize("persona", ["team_manager", "admin_user"])
def test_sales_managers_and_admins_create_and_edit_products(request, login, persona):
    client = login(request.getfixturevalue(persona))

    response = client.post(reverse("sales:product_create"), product_form(sku="  NEW-1 "))
    product = Product.objects.get()
    assert response["Location"] == product.get_absolute_url()
    assert (product.sku, product.unit_price, product.unit_cost, product.active) == ("NEW-1", D("12.50"), D("7"), True)

    client.post(reverse("sales:product_update", args=[product.pk]), product_form(unit_price="13.00", active=""))
    product.refresh_from_db()
    assert (product.unit_price, product.active) == (D("13.00"), False)


def test_a_taken_sku_is_refused_with_a_clear_message(login, team_manager):
    ProductFactory(sku="AB-1", name="Existing thing")
    response = login(team_manager).post(reverse("sales:product_create"), product_form(sku="ab-1"))

    assert response.status_code == 200
    assert "The SKU AB-1 is already used by “Existing thing”." in response.content.decode()
    assert Product.objects.count() == 1


def test_negative_price_or_cost_is_refused(login, team_manager):
    response = login(team_manager).post(
        reverse("sales:product_create"), product_form(unit_price="-1", unit_cost="-0.01")
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"unit_price", "unit_cost"}
    assert not Product.objects.exists()


def test_product_list_searches_filters_and_sorts(login, owner):
    ProductFactory(sku="A-100", name="Anchor bolt", category="Hardware", unit_price=D(5))
    ProductFactory(sku="B-200", name="Blue paint", category="Paint", unit_price=D(50))
    ProductFactory(sku="C-300", name="Old paint", category="Paint", unit_price=D(20), active=False)
    client = login(owner)
    url = reverse("sales:product_list")

    def skus(**params):
        return [p.sku for p in client.get(url, params).context["products"]]

    assert skus() == ["A-100", "B-200"]
    assert skus(q="b-2") == ["B-200"]
    assert skus(q="paint", active="all") == ["B-200", "C-300"]
    assert skus(active="inactive") == ["C-300"]
    assert skus(category="Hardware") == ["A-100"]
    assert skus(sort="-price", active="all") == ["B-200", "C-300", "A-100"]


def test_product_list_queries_do_not_grow_with_products(login, owner, django_assert_max_num_queries):
    client = login(owner)
    url = reverse("sales:product_list")
    for _ in range(3):
        ProductFactory()
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(40):
        ProductFactory(category=f"Category {i % 4}")
    with django_assert_max_num_queries(len(few)):
        response = client.get(url)
    assert len(response.context["products"]) == 25


def test_product_detail_totals_count_only_visible_orders_that_are_not_cancelled(login, owner, outsider, manager):
    product = ProductFactory(unit_price=D("80.00"), unit_cost=D("50.00"))
    other = ProductFactory()
    customer = CustomerFactory(owner=owner)

    first = OrderFactory(customer=customer, status=Order.Status.CONFIRMED)
    OrderLineFactory(order=first, product=product, quantity=D(2), unit_price=D("75.00"), unit_cost=D("50.00"))
    OrderLineFactory(order=first, product=product, quantity=D(1), unit_price=D("80.00"), unit_cost=D("48.00"))
    OrderLineFactory(order=first, product=other, quantity=D(9))
    second = OrderFactory(customer=customer, status=Order.Status.DELIVERED)
    OrderLineFactory(order=second, product=product, quantity=D("0.5"), unit_price=D("80.00"), unit_cost=D("50.00"))
    cancelled = OrderFactory(customer=customer, status=Order.Status.CANCELLED)
    OrderLineFactory(order=cancelled, product=product, quantity=D(100))
    hidden = OrderFactory(customer=CustomerFactory(owner=outsider))
    OrderLineFactory(order=hidden, product=product, quantity=D(10), unit_price=D("80.00"), unit_cost=D("50.00"))

    sales = login(owner).get(product.get_absolute_url()).context["sales"]

    amount = D(2) * D(75) + D(80) + D("0.5") * D(80)
    cost = D(2) * D(50) + D(48) + D("0.5") * D(50)
    assert (sales["orders"], sales["quantity"]) == (2, D("3.5"))
    assert (sales["amount"], sales["cost"], sales["gross_profit"]) == (amount, cost, amount - cost)
    assert sales["margin"] == (amount - cost) / amount * 100

    everything = login(manager).get(product.get_absolute_url()).context["sales"]
    assert (everything["orders"], everything["amount"]) == (3, amount + D(800))
