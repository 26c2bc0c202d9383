"""Orders: who sees and changes them, the line formset, status moves, the list's filters, totals and export."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from sales.models import Order, OrderLine
from sales.services.orders import LineDraft, order_create
from tests.factories import CustomerFactory
from tests.sales.factories import OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def widget(db):
    return ProductFactory(sku="W-1", name="Widget", unit_price=D("100.00"), unit_cost=D("60.00"))


@pytest.fixture
def gadget(db):
    return ProductFactory(sku="G-1", name="Gadget", unit_price=D("250.00"), unit_cost=D("200.00"))


@pytest.fixture
def customer(owner):
    return CustomerFactory(name="Owner Co", owner=owner)


@pytest.fixture
def draft(customer, owner, widget):
    return order_create(customer=customer, owner=owner, actor=owner, lines=[LineDraft(product=widget, quantity=D(2))])


def lines_data(rows, *, initial=0, prefix="lines"):
    """POST data of the line formset: one dict per row."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = "" if value is None else str(value)
    return data


def snapshot(order):
    order = Order.objects.get(pk=order.pk)
    lines = list(OrderLine.objects.filter(order=order).values_list("product_id", "quantity", "unit_price", "unit_cost"))
    return (order.status, order.amount, order.cost, order.version, order.notes, lines)


# Who may see and change an order

ORDER_VIEWS = [
    ("get", "sales:order_detail", {}),
    ("get", "sales:order_update", {}),
    ("post", "sales:order_update", {"notes": "hijacked", "version": "1"}),
    ("get", "sales:order_set_status", {"status": "cancelled"}),
    ("post", "sales:order_set_status", {"status": "cancelled", "version": "1"}),
    ("post", "sales:order_set_status", {"status": "confirmed", "version": "1"}),
]


@pytest.mark.parametrize(("method", "url_name", "data"), ORDER_VIEWS, ids=[f"{m} {n}" for m, n, _d in ORDER_VIEWS])
def test_outsider_gets_404_on_every_order_view_and_nothing_changes(login, outsider, draft, method, url_name, data):
    before = snapshot(draft)

    response = getattr(login(outsider), method)(reverse(url_name, args=[draft.pk]), data)

    assert response.status_code == 404
    assert snapshot(draft) == before


def test_outsider_cannot_open_an_order_form_for_someone_elses_customer(login, outsider, customer, widget):
    client = login(outsider)
    url = reverse("sales:order_create") + f"?customer={customer.pk}"
    assert client.get(url).status_code == 404
    data = {"owner": outsider.pk, "ordered_at": "2026-01-05", **lines_data([{"product": widget.pk, "quantity": 1}])}
    assert client.post(url, data).status_code == 404
    assert not Order.objects.exists()


@pytest.mark.parametrize("persona", ["manager", "service_agent"])
def test_read_only_roles_see_an_order_but_cannot_change_it(request, login, draft, persona):
    client = login(request.getfixturevalue(persona))
    before = snapshot(draft)

    page = client.get(reverse("sales:order_detail", args=[draft.pk]))
    assert page.status_code == 200
    assert reverse("sales:order_update", args=[draft.pk]) not in page.content.decode()
    assert client.get(reverse("sales:order_update", args=[draft.pk])).status_code == 403
    post = client.post(reverse("sales:order_set_status", args=[draft.pk]), {"status": "confirmed", "version": "1"})
    assert post.status_code == 403
    assert snapshot(draft) == before


def test_export_only_contains_orders_the_user_may_see(login, outsider, draft):
    OrderLineFactory(order=OrderFactory(customer=CustomerFactory(owner=outsider), number="SO-OUT-1"))
    response = login(outsider).get(reverse("sales:order_list"), {"export": "csv"})

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    numbers = [row[0] for row in rows[1:]]
    assert numbers == ["SO-OUT-1"]
    assert draft.number not in numbers


def test_export_neutralises_formulas_and_follows_the_filters(login, owner, widget):
    evil = CustomerFactory(name='=HYPERLINK("http://x")', owner=owner)
    kept = OrderFactory(customer=evil, status=Order.Status.DELIVERED, number="SO-X-1")
    OrderLineFactory(order=kept, product=widget, quantity=D(3))
    OrderLineFactory(order=OrderFactory(customer=evil, status=Order.Status.DRAFT, number="SO-X-2"), product=widget)
    client = login(owner)

    response = client.get(reverse("sales:order_list"), {"export": "xlsx", "status": "delivered"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    header, row = rows
    assert row[header.index("Order number")] == "SO-X-1"
    assert row[header.index("Customer")] == '\'=HYPERLINK("http://x")'
    assert D(str(row[header.index("Gross profit")])) == D("120.00")


# Creating an order with lines


def test_rep_creates_a_draft_order_with_lines_from_the_customer_page(login, owner, customer, widget, gadget):
    client = login(owner)
    url = reverse("sales:order_create") + f"?customer={customer.pk}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-price="250.00"' in page.content.decode()  # the JS fills prices from these
    data = {
        "owner": owner.pk,
        "ordered_at": "2026-03-04",
        "notes": "Deliver to the back door",
        **lines_data(
            [
                {"product": widget.pk, "quantity": "3", "unit_price": ""},  # blank: the product's price
                {"product": gadget.pk, "quantity": "2", "unit_price": "240.00"},
                {"product": "", "quantity": "1", "unit_price": ""},  # untouched extra row: ignored
            ]
        ),
    }
    data["lines-2-quantity"] = "1"

    response = client.post(url, data)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    assert order.number == "SO-2026-000001"
    assert (order.customer, order.owner, order.status, order.created_by) == (customer, owner, "draft", owner)
    lines = list(order.lines.order_by("pk").values_list("product__sku", "quantity", "unit_price", "unit_cost"))
    assert lines == [("W-1", D(3), D("100.00"), D("60.00")), ("G-1", D(2), D("240.00"), D("200.00"))]
    assert order.amount == D(3) * D(100) + D(2) * D(240)
    assert order.cost == D(3) * D(60) + D(2) * D(200)


def test_order_form_looks_up_the_customer_by_reference_among_the_users_customers(login, owner, outsider, widget):
    mine = CustomerFactory(name="Mine", external_ref="C-1", owner=owner)
    CustomerFactory(name="Theirs", external_ref="C-2", owner=outsider)
    client = login(owner)
    base = {"owner": owner.pk, "ordered_at": "2026-03-04", **lines_data([{"product": widget.pk, "quantity": 1}])}

    refused = client.post(reverse("sales:order_create"), {**base, "customer_lookup": "C-2"})
    assert refused.status_code == 400
    assert "None of the customers you can sell to" in refused.content.decode()

    assert client.post(reverse("sales:order_create"), {**base, "customer_lookup": "C-1"}).status_code == 302
    assert Order.objects.get().customer == mine


def test_order_without_lines_is_refused_with_a_clear_message(login, owner, customer):
    client = login(owner)
    url = reverse("sales:order_create") + f"?customer={customer.pk}"
    data = {"owner": owner.pk, "ordered_at": "2026-03-04", **lines_data([{"product": "", "quantity": "1"}])}

    response = client.post(url, data)

    assert response.status_code == 400
    assert "Add at least one line." in response.content.decode()
    assert not Order.objects.exists()


def test_line_errors_re_render_the_form_with_what_was_typed(login, owner, customer, widget, gadget):
    client = login(owner)
    url = reverse("sales:order_create") + f"?customer={customer.pk}"
    data = {
        "owner": owner.pk,
        "ordered_at": "2026-03-04",
        "notes": "Keep this note",
        **lines_data(
            [
                {"product": widget.pk, "quantity": "0", "unit_price": "99.50", "description": "blue ones"},
                {"product": gadget.pk, "quantity": "2", "unit_price": "-1"},
                {"product": "", "quantity": "2", "description": "Installation"},
            ]
        ),
    }

    response = client.post(url, data)

    html = response.content.decode()
    assert response.status_code == 400
    assert not Order.objects.exists()
    assert "The quantity must be more than zero." in html
    assert "Must be zero or more." in html
    assert "A line without a product needs a price." in html
    # What was typed is still there.
    assert 'value="99.50"' in html and 'value="blue ones"' in html and "Keep this note" in html
    assert f'<option value="{widget.pk}" data-price="100.00" data-cost="60.00" selected>' in html
    assert 'value="Installation"' in html


# Editing a draft


def test_editing_a_draft_keeps_each_lines_cost_as_of_the_sale(login, owner, draft, widget, gadget):
    line = draft.lines.get()
    widget.unit_cost = D("75.00")  # the product's cost went up after the sale
    widget.save()
    client = login(owner)
    url = reverse("sales:order_update", args=[draft.pk])
    assert client.get(url).status_code == 200
    data = {
        "version": draft.version,
        "owner": owner.pk,
        "ordered_at": "2026-03-05",
        "notes": "edited",
        **lines_data(
            [
                {"line_id": line.pk, "product": widget.pk, "quantity": "5", "unit_price": "100.00"},
                {"product": gadget.pk, "quantity": "1", "unit_price": ""},
            ],
            initial=1,
        ),
    }

    response = client.post(url, data)

    assert response.status_code == 302
    draft.refresh_from_db()
    lines = list(draft.lines.order_by("pk").values_list("product__sku", "quantity", "unit_cost"))
    assert lines == [("W-1", D(5), D("60.00")), ("G-1", D(1), D("200.00"))]
    assert draft.amount == D(500) + D(250)
    assert draft.cost == D(5) * D(60) + D(200)
    assert (draft.notes, draft.ordered_at) == ("edited", datetime.date(2026, 3, 5))


def test_removing_a_line_and_changing_its_product_takes_the_new_products_cost(login, owner, customer, widget, gadget):
    order = order_create(
        customer=customer,
        owner=owner,
        lines=[LineDraft(product=widget, quantity=D(1)), LineDraft(product=widget, quantity=D(2))],
    )
    first, second = order.lines.order_by("pk")
    data = {
        "version": order.version,
        "owner": owner.pk,
        "ordered_at": "2026-03-05",
        **lines_data(
            [
                {"line_id": first.pk, "product": gadget.pk, "quantity": "1"},
                {"line_id": second.pk, "product": widget.pk, "quantity": "2", "DELETE": "on"},
            ],
            initial=2,
        ),
    }

    login(owner).post(reverse("sales:order_update", args=[order.pk]), data)

    order.refresh_from_db()
    assert list(order.lines.values_list("product__sku", "unit_price", "unit_cost")) == [
        ("G-1", D("250.00"), D("200.00"))
    ]
    assert (order.amount, order.cost) == (D("250.00"), D("200.00"))


def test_confirmed_orders_cannot_be_edited(login, owner, draft, gadget):
    Order.objects.filter(pk=draft.pk).update(status=Order.Status.CONFIRMED)
    before = snapshot(draft)
    client = login(owner)
    url = reverse("sales:order_update", args=[draft.pk])

    assert client.get(url)["Location"] == draft.get_absolute_url()
    data = {"version": draft.version, "owner": owner.pk, "ordered_at": "2026-03-05"}
    data.update(lines_data([{"product": gadget.pk, "quantity": "9"}]))
    assert client.post(url, data).status_code == 302
    assert snapshot(draft) == before


def test_saving_over_someone_elses_edit_shows_a_conflict_and_saves_nothing(login, owner, team_manager, draft, widget):
    stale = draft.version
    line = draft.lines.get()
    data = {
        "version": stale,
        "owner": owner.pk,
        "ordered_at": "2026-03-05",
        **lines_data([{"line_id": line.pk, "product": widget.pk, "quantity": "7"}], initial=1),
    }
    assert login(team_manager).post(reverse("sales:order_update", args=[draft.pk]), data).status_code == 302
    saved = snapshot(draft)

    data["lines-0-quantity"] = "1"
    response = login(owner).post(reverse("sales:order_update", args=[draft.pk]), data)

    assert response.status_code == 409
    assert "Someone else saved this order" in response.content.decode()
    assert snapshot(draft) == saved
    # The form now carries the current version: saving again knowingly replaces the other edit.
    assert response.context["form"]["version"].value() == Order.objects.get(pk=draft.pk).version


# Status


def post_status(client, order, status, version=None):
    version = Order.objects.get(pk=order.pk).version if version is None else version
    return client.post(reverse("sales:order_set_status", args=[order.pk]), {"status": status, "version": version})


def test_order_goes_from_draft_to_confirmed_to_delivered_with_timestamps(login, owner, draft):
    client = login(owner)

    post_status(client, draft, "confirmed")
    draft.refresh_from_db()
    assert draft.status == "confirmed" and draft.confirmed_at is not None and draft.delivered_at is None

    post_status(client, draft, "delivered")
    draft.refresh_from_db()
    assert draft.status == "delivered" and draft.delivered_at >= draft.confirmed_at

    detail = client.get(draft.get_absolute_url())
    assert [step["label"] for step in detail.context["history"]] == ["Created", "Confirmed", "Delivered"]
    assert detail.context["next_statuses"] == []


def test_delivered_orders_cannot_be_cancelled_and_drafts_cannot_skip_confirmation(login, owner, draft):
    client = login(owner)
    post_status(client, draft, "delivered")
    assert Order.objects.get(pk=draft.pk).status == "draft"

    post_status(client, draft, "confirmed")
    post_status(client, draft, "delivered")
    response = post_status(client, draft, "cancelled")
    assert response.status_code == 302
    assert Order.objects.get(pk=draft.pk).status == "delivered"


def test_cancelling_asks_for_confirmation_first(login, owner, draft):
    client = login(owner)
    url = reverse("sales:order_set_status", args=[draft.pk])

    page = client.get(url, {"status": "cancelled"})
    assert page.status_code == 200
    assert "Cancel order" in page.content.decode()
    assert Order.objects.get(pk=draft.pk).status == "draft"

    post_status(client, draft, "cancelled")
    draft.refresh_from_db()
    assert draft.status == "cancelled" and draft.cancelled_at is not None


def test_a_status_change_from_a_stale_page_is_refused(login, owner, draft):
    client = login(owner)
    stale = draft.version
    post_status(client, draft, "confirmed")

    response = post_status(client, draft, "cancelled", version=stale)

    assert response.status_code == 302
    assert Order.objects.get(pk=draft.pk).status == "confirmed"


# The list


ONE_LINE = ((Decimal(1), Decimal("100"), Decimal("60")),)


def make_order(owner, customer, *, status="confirmed", when=None, lines=ONE_LINE, number=None):
    order = OrderFactory(
        customer=customer,
        owner=owner,
        status=status,
        ordered_at=when or timezone.localdate(),
        **({"number": number} if number else {}),
    )
    for quantity, price, cost in lines:
        OrderLineFactory(order=order, quantity=quantity, unit_price=price, unit_cost=cost)
    return order


def test_list_shows_own_orders_to_a_rep_and_the_teams_to_their_manager(login, owner, teammate, team_manager, outsider):
    mine = make_order(owner, CustomerFactory(owner=owner))
    theirs = make_order(teammate, CustomerFactory(owner=teammate))
    make_order(outsider, CustomerFactory(owner=outsider))

    assert list(login(owner).get(reverse("sales:order_list")).context["orders"]) == [mine]
    shown = set(login(team_manager).get(reverse("sales:order_list")).context["orders"])
    assert shown == {mine, theirs}


def test_list_totals_cover_the_filtered_orders_without_cancelled_ones(login, owner):
    customer = CustomerFactory(owner=owner)
    jan = datetime.date(2026, 1, 15)
    a = make_order(owner, customer, when=jan, lines=[(D(2), D("50.00"), D("30.00")), (D(1), D("19.99"), D("5.25"))])
    b = make_order(owner, customer, when=jan, status="delivered", lines=[(D("1.5"), D("200.00"), D("120.00"))])
    make_order(owner, customer, when=jan, status="cancelled", lines=[(D(1), D("999.00"), D("1.00"))])
    make_order(owner, customer, when=datetime.date(2026, 2, 1), lines=[(D(1), D("500.00"), D("1.00"))])

    response = login(owner).get(reverse("sales:order_list"), {"date_from": "2026-01-01", "date_to": "2026-01-31"})

    amount = D(2) * D("50.00") + D("19.99") + D("1.5") * D("200.00")
    cost = D(2) * D("30.00") + D("5.25") + D("1.5") * D("120.00")
    totals = response.context["totals"]
    assert response.context["paginator"].count == 3
    assert (totals["amount"], totals["cost"], totals["gross_profit"]) == (amount, cost, amount - cost)
    assert {a, b} < set(response.context["orders"])
    html = response.content.decode()
    assert "419.99" in html and "174.74" in html


def test_list_filters_by_status_owner_number_customer_and_sorts(login, team_manager, owner, teammate):
    acme = CustomerFactory(name="Acme Trading", owner=owner)
    lotus = CustomerFactory(name="Lotus Foods", owner=teammate)
    small = make_order(owner, acme, number="SO-2026-000101", lines=[(D(1), D("10"), D("1"))])
    big = make_order(teammate, lotus, number="SO-2026-000202", status="draft", lines=[(D(1), D("900"), D("1"))])
    client = login(team_manager)
    url = reverse("sales:order_list")

    def listed(**params):
        return list(client.get(url, params).context["orders"])

    assert listed(status="draft") == [big]
    assert listed(owner=owner.pk) == [small]
    assert listed(q="000101") == [small]
    assert listed(customer_q="Lotus") == [big]
    assert listed(customer=acme.pk) == [small]
    assert listed(sort="-amount") == [big, small]
    assert listed(sort="profit") == [small, big]
    assert listed(sort="customer") == [small, big]
    assert listed(sort="-date") == [big, small]  # same day: newest first


def test_order_list_queries_do_not_grow_with_orders(
    login, team_manager, owner, teammate, django_assert_max_num_queries
):
    client = login(team_manager)
    url = reverse("sales:order_list")
    products = [ProductFactory() for _ in range(3)]
    customers = [CustomerFactory(owner=rep) for rep in (owner, teammate)]

    def add(count):
        for i in range(count):
            order = OrderFactory(customer=customers[i % 2], owner=customers[i % 2].owner)
            for product in products:
                OrderLineFactory(order=order, product=product, quantity=D(2))

    add(2)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    add(33)
    with django_assert_max_num_queries(len(few)):
        response = client.get(url)
    assert len(response.context["orders"]) == 25
    assert response.context["paginator"].count == 35
    assert response.context["totals"]["amount"] == 35 * 3 * D(200)
    # No query reads the order lines: the list sums the stored order totals.
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert not any("sales_orderline" in q["sql"] for q in queries.captured_queries)


def test_htmx_filter_returns_only_the_results(login, owner):
    make_order(owner, CustomerFactory(owner=owner))
    response = login(owner).get(reverse("sales:order_list"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="order-results")
    assert "<html" not in response.content.decode()
    assert "order-table" in response.content.decode()


def test_detail_shows_lines_totals_margin_and_links(login, owner, customer, widget, gadget):
    order = order_create(
        customer=customer,
        owner=owner,
        lines=[LineDraft(product=widget, quantity=D(3)), LineDraft(product=gadget, quantity=D(1), unit_price=D("220"))],
    )
    response = login(owner).get(order.get_absolute_url())

    amount, cost = D(300) + D(220), D(180) + D(200)
    assert response.context["margin"] == (amount - cost) / amount * 100
    html = response.content.decode()
    assert customer.get_absolute_url() in html
    assert "140.00" in html  # gross profit
    assert "26.9%" in html  # 140 / 520
