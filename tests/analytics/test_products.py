"""Product analyses: every figure against values worked out by hand on a small set of orders and
snapshots; who sees which orders; stored figures; query counts; CSV."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.models import InventorySnapshot
from analytics.services import products as products_service
from analytics.services.summaries import stored_figures, summaries_store
from sales.models import Order
from tests.analytics.factories import GradingRunFactory
from tests.factories import CustomerFactory
from tests.sales.factories import OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = reverse("analytics:products")
START, END = datetime.date(2026, 4, 1), datetime.date(2026, 6, 30)
PERIOD = {"start": "2026-04-01", "end": "2026-06-30"}


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def order(customer, ordered_at, lines, *, status=Order.Status.CONFIRMED, owner=None):
    """An order with `lines`: (product, quantity) or (None, amount, cost) for a line without a product."""
    made = OrderFactory(customer=customer, owner=owner or customer.owner, ordered_at=day(ordered_at), status=status)
    for line in lines:
        if line[0] is None:
            amount, cost = Decimal(line[1]), Decimal(line[2])
            OrderLineFactory(order=made, product=None, description="Installation", unit_price=amount, unit_cost=cost)
        else:
            OrderLineFactory(order=made, product=line[0], quantity=Decimal(line[1]))
    return made


def snapshot(product, taken_on, value):
    return InventorySnapshot.objects.create(
        product=product, taken_on=day(taken_on), quantity=Decimal(10), value_at_cost=Decimal(value)
    )


@pytest.fixture
def catalogue():
    return {
        "A": ProductFactory(sku="A", name="Chair A", category="Chairs", unit_price=100, unit_cost=60),
        "B": ProductFactory(sku="B", name="Chair B", category="Chairs", unit_price=200, unit_cost=150),
        "C": ProductFactory(sku="C", name="Desk C", category="Desks", unit_price=500, unit_cost=300),
        "D": ProductFactory(sku="D", name="Desk D", category="Desks", unit_price=800, unit_cost=500),
    }


@pytest.fixture
def dataset(owner, outsider, catalogue):
    """The orders and snapshots the expected figures below are worked out from.

    In the period 2026-04-01 … 2026-06-30, counted:
      owner's    O1 2026-04-10: A×2 (revenue 200, cost 120), C×1 (500, 300)
      outsider's O2 2026-05-05: B×1 (200, 150), a line without product (100, 40)
      owner's    O6 2026-06-30 (a draft counts): A×1 (100, 60)
    Ignored: O3 (cancelled, A×5), O4 (2026-03-31, C), O5 (2026-07-01, C).
    Snapshots in the period: A 600 and 400 (average 500), B 300, D 1000; C none; A's 9999 of
    2026-03-31 is outside.
    """
    p = catalogue
    mine, theirs = CustomerFactory(owner=owner), CustomerFactory(owner=outsider)
    order(mine, "2026-04-10", [(p["A"], 2), (p["C"], 1)])
    order(theirs, "2026-05-05", [(p["B"], 1), (None, "100", "40")], status=Order.Status.DELIVERED)
    order(mine, "2026-06-20", [(p["A"], 5)], status=Order.Status.CANCELLED)
    order(mine, "2026-03-31", [(p["C"], 1)])
    order(mine, "2026-07-01", [(p["C"], 1)])
    order(mine, "2026-06-30", [(p["A"], 1)], status=Order.Status.DRAFT)
    snapshot(p["A"], "2026-04-01", 600)
    snapshot(p["A"], "2026-05-01", 400)
    snapshot(p["A"], "2026-03-31", 9999)
    snapshot(p["B"], "2026-06-30", 300)
    snapshot(p["D"], "2026-05-01", 1000)
    return p


def by_key(rows, key):
    return {row[key]: row for row in rows}


def test_default_period_is_the_three_calendar_months_up_to_the_date():
    assert products_service.default_period(day("2026-06-15")) == (day("2026-04-01"), day("2026-06-15"))
    assert products_service.default_period(day("2026-02-10")) == (day("2025-12-01"), day("2026-02-10"))
    assert products_service.default_period(day("2026-03-31")) == (day("2026-01-01"), day("2026-03-31"))


def test_product_figures_for_a_manager(manager, dataset):
    figures = products_service.products_analysis(manager, start=START, end=END)
    rows = by_key(figures["products"], "sku")
    total = 300 + 200 + 500 + 100
    a, b, c, d, none = rows["A"], rows["B"], rows["C"], rows["D"], rows[""]
    # A: quantity 2 + 1 (the cancelled 5 and the 2026-03-31 snapshot are ignored).
    assert (a["quantity"], a["revenue"], a["cost"]) == (3, 300, 180)
    assert a["share"] == pytest.approx(300 / total)
    assert a["margin_rate"] == pytest.approx(0.4)
    assert a["inventory"] == pytest.approx(500)
    assert a["turnover"] == pytest.approx(180 / 500)
    assert a["cross_ratio"] == pytest.approx(0.4 * 0.36)
    assert a["contribution"] == pytest.approx(0.4 * 0.36 * 300 / total)
    # B: one chair, one snapshot.
    assert (b["quantity"], b["revenue"], b["cost"]) == (1, 200, 150)
    assert b["margin_rate"] == pytest.approx(0.25)
    assert b["turnover"] == pytest.approx(0.5)
    assert b["cross_ratio"] == pytest.approx(0.125)
    assert b["contribution"] == pytest.approx(0.125 * 200 / total)
    # C: sold in the period (not the orders before or after it), no snapshot: no turnover.
    assert (c["quantity"], c["revenue"], c["cost"]) == (1, 500, 300)
    assert c["share"] == pytest.approx(500 / total)
    assert c["margin_rate"] == pytest.approx(0.4)
    assert c["inventory"] is c["turnover"] is c["cross_ratio"] is c["contribution"] is None
    # D: stock that did not turn.
    assert (d["quantity"], d["revenue"], d["share"]) == (0, 0, 0)
    assert d["inventory"] == pytest.approx(1000)
    assert d["turnover"] == 0
    assert d["margin_rate"] is d["cross_ratio"] is None
    # Lines without a product: one row, never any inventory.
    assert none["product_id"] is None
    assert (none["revenue"], none["cost"]) == (100, 40)
    assert none["share"] == pytest.approx(100 / total)
    assert none["margin_rate"] == pytest.approx(0.6)
    assert none["inventory"] is None
    # Sorted by revenue, largest first.
    assert [row["sku"] for row in figures["products"]] == ["C", "A", "B", "", "D"]


def test_category_and_total_figures(manager, dataset):
    figures = products_service.products_analysis(manager, start=START, end=END)
    categories = {(row["no_product"], row["category"]): row for row in figures["categories"]}
    total = 1100
    chairs, desks, none = categories[(False, "Chairs")], categories[(False, "Desks")], categories[(True, "")]
    # Chairs = A + B: revenue 500, cost 330, inventory 500 + 300.
    assert (chairs["quantity"], chairs["revenue"], chairs["cost"]) == (4, 500, 330)
    assert chairs["share"] == pytest.approx(500 / total)
    assert chairs["margin_rate"] == pytest.approx(170 / 500)
    assert chairs["inventory"] == pytest.approx(800)
    assert chairs["turnover"] == pytest.approx(330 / 800)
    assert chairs["cross_ratio"] == pytest.approx(170 / 500 * 330 / 800)
    assert chairs["contribution"] == pytest.approx(170 / 500 * 330 / 800 * 500 / total)
    # Desks = C (sold, no snapshot) + D (snapshot, not sold).
    assert (desks["revenue"], desks["cost"], desks["inventory"]) == (500, 300, 1000)
    assert desks["turnover"] == pytest.approx(0.3)
    assert desks["cross_ratio"] == pytest.approx(0.4 * 0.3)
    assert desks["contribution"] == pytest.approx(0.12 * 500 / total)
    assert none["revenue"] == 100 and none["inventory"] is None
    totals = figures["totals"]
    assert (totals["revenue"], totals["cost"], totals["quantity"]) == (1100, 670, 6)
    assert totals["share"] == pytest.approx(1)
    assert totals["margin_rate"] == pytest.approx(430 / 1100)
    assert totals["inventory"] == pytest.approx(1800)
    assert totals["turnover"] == pytest.approx(670 / 1800)
    assert totals["cross_ratio"] == pytest.approx(430 / 1100 * 670 / 1800)
    assert sum(row["share"] for row in figures["categories"]) == pytest.approx(1)


def test_rep_sees_only_their_own_orders(owner, dataset):
    figures = products_service.products_analysis(owner, start=START, end=END)
    rows = by_key(figures["products"], "sku")
    # Only O1 and O6: A 300 / 180, C 500 / 300; the outsider's B and lines without product are not there.
    assert figures["totals"]["revenue"] == 800
    assert rows["A"]["share"] == pytest.approx(300 / 800)
    assert rows["C"]["share"] == pytest.approx(500 / 800)
    assert rows["B"]["revenue"] == 0 and rows["B"]["inventory"] == pytest.approx(300)
    assert "" not in rows


def test_period_boundaries_are_included(manager, dataset):
    figures = products_service.products_analysis(manager, start=day("2026-06-30"), end=day("2026-07-01"))
    rows = by_key(figures["products"], "sku")
    # The draft of 2026-06-30 and the order of 2026-07-01; B's snapshot of 2026-06-30.
    assert rows["A"]["revenue"] == 100 and rows["C"]["revenue"] == 500
    assert rows["B"]["inventory"] == pytest.approx(300)
    assert rows["A"]["inventory"] is None


def test_page_shows_the_figures(login, manager, dataset):
    response = login(manager).get(URL, PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    # A's share 27.3%, margin 40.0%, turnover 0.36×, cross ratio 14.4%, contribution 3.9%.
    for text in ("27.3%", "40.0%", "0.36×", "14.4%", "3.9%"):
        assert text in html
    assert 'id="kpi-revenue">1,100.00<' in html
    assert 'id="kpi-margin">39.1%<' in html
    assert "No product" in html
    assert "products-data" in html


def test_service_agent_gets_404(login, service_agent):
    assert login(service_agent).get(URL).status_code == 404


def test_rep_page_and_csv_show_only_their_orders(login, owner, dataset):
    client = login(owner)
    rows = read_csv(client.get(URL, {**PERIOD, "export": "categories"}))
    assert rows[0][:3] == ["Category", "Quantity", "Revenue"]
    revenue = {row[0]: row[2] for row in rows[1:]}
    assert revenue == {"Desks": "500.0", "Chairs": "300.0"}


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_csv_exports_each_table_neutralised(login, manager, dataset):
    dataset["A"].name = "=HYPERLINK(1)"
    dataset["A"].save()
    client = login(manager)
    rows = read_csv(client.get(URL, {**PERIOD, "export": "products"}))
    assert rows[0][:4] == ["SKU", "Product", "Category", "Quantity"]
    chair = next(row for row in rows if row[0] == "A")
    assert chair[1] == "'=HYPERLINK(1)"
    # Quantity, revenue, share %, cost, margin %, inventory, turnover, cross %, contribution %.
    assert [float(value) for value in chair[3:]] == pytest.approx(
        [3, 300, 300 / 1100 * 100, 180, 40, 500, 0.36, 14.4, 14.4 * 300 / 1100], abs=1e-4
    )
    desk = next(row for row in rows if row[0] == "C")
    assert desk[8:] == ["", "", "", ""]
    categories = read_csv(client.get(URL, {**PERIOD, "export": "categories"}))
    assert {row[0] for row in categories[1:]} == {"Chairs", "Desks", "No product"}


def test_stored_figures_give_the_same_page(login, manager, owner, dataset):
    run = GradingRunFactory(as_of=END)
    client = login(manager)
    live = read_csv(client.get(URL, {"export": "products"}))
    summaries_store(run=run, computations={products_service.SUMMARY_KEY: products_service.products_figures})
    assert stored_figures(run=run, key="products", scope="all")["start"] == "2026-04-01"
    stored = read_csv(client.get(URL, {"export": "products"}))
    assert stored == live
    # The default period now reads the stored sales, a manager's and a rep's alike: an order added
    # afterwards shows only in a period asked for.
    order(CustomerFactory(owner=owner), "2026-05-20", [(dataset["A"], 10)])
    figures = products_service.products_analysis(manager, start=START, end=END, run=run)
    assert figures["stored"] and by_key(figures["products"], "sku")["A"]["quantity"] == 3
    later = products_service.products_analysis(manager, start=START, end=day("2026-06-29"), run=run)
    assert not later["stored"] and by_key(later["products"], "sku")["A"]["quantity"] == 12
    # The owner's: O1 A×2 and O6 A×1 stored; up to 06-29, O1 and the new order (A×10).
    mine = products_service.products_analysis(owner, start=START, end=END, run=run)
    assert mine["stored"] and by_key(mine["products"], "sku")["A"]["quantity"] == 3
    mine_later = products_service.products_analysis(owner, start=START, end=day("2026-06-29"), run=run)
    assert not mine_later["stored"] and by_key(mine_later["products"], "sku")["A"]["quantity"] == 12


def test_default_period_follows_the_selected_run(login, manager, dataset):
    GradingRunFactory(as_of=day("2026-05-31"))
    response = login(manager).get(URL, {"as_of": "2026-05-31"})
    assert response.context["start"] == day("2026-03-01")
    assert response.context["end"] == day("2026-05-31")
    response = login(manager).get(URL, {"as_of": "2026-06-30"})
    # No run that day: the period still ends on the date asked for.
    assert (response.context["start"], response.context["end"]) == (START, END)


def test_invalid_period_falls_back_to_the_default(login, manager, dataset):
    response = login(manager).get(URL, {"start": "2026-06-30", "end": "2026-04-01"})
    assert response.status_code == 200
    assert not response.context["custom_period"]
    assert "The period must start before it ends." in response.content.decode()


def test_empty_state(login, manager):
    response = login(manager).get(URL, PERIOD)
    assert 'id="no-product-figures"' in response.content.decode()


def test_page_runs_a_constant_number_of_queries(login, manager, owner, django_assert_max_num_queries):
    customer = CustomerFactory(owner=owner)
    for number in range(25):
        product = ProductFactory(category=f"Category {number % 5}")
        order(customer, "2026-05-01", [(product, 1), (None, "10", "5")])
        snapshot(product, "2026-05-01", 100)
    GradingRunFactory(as_of=END)
    for user in (manager, owner):
        client = login(user)
        with django_assert_max_num_queries(16):
            response = client.get(URL, PERIOD)
        assert response.status_code == 200
        assert response.content.decode().count('class="fw-normal" data-sort-value="Product ') == 25
