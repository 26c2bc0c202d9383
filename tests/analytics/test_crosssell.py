"""Products bought together: support, confidence and lift of a basket set worked out by hand; the
"Suggested next products" panel of the 360 page; the top rules on the products page."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import crosssell as panel
from analytics.models import ProductAssociation
from analytics.services import crosssell
from customers import roles
from sales.models import Order
from tests.analytics.factories import GradingRunFactory
from tests.factories import CustomerFactory
from tests.sales.factories import OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 6, 30)


def basket(products, ordered_at, *, status=Order.Status.CONFIRMED, customer=None, owner=None):
    """An order with one line per product given (a product given twice makes two lines)."""
    order = OrderFactory(
        customer=customer or CustomerFactory(),
        ordered_at=ordered_at,
        status=status,
        **({"owner": owner} if owner else {}),
    )
    for product in products:
        if product is None:
            OrderLineFactory(order=order, product=None, unit_price=Decimal(10), unit_cost=Decimal(5))
        else:
            OrderLineFactory(order=order, product=product)
    return order


@pytest.fixture
def baskets():
    """Six orders with a product in the year up to AS_OF (N = 6), worked out by hand:
    n(P) = 4, n(Q) = 4, n(R) = 2, n(S) = 1; n(P, Q) = 3, n(P, R) = 2, n(Q, R) = 1."""
    p, q, r, s = (ProductFactory(sku=sku, name=f"Product {sku}") for sku in "PQRS")
    day = datetime.date
    basket([p, q], day(2026, 6, 1))
    basket([p, q, r], day(2026, 5, 1))
    # P on two lines of one order counts once; the first day of the 365 is in.
    basket([p, p, q], day(2025, 7, 1))
    basket([p, r], day(2026, 3, 1))
    basket([q], day(2026, 2, 1))
    basket([s], day(2026, 1, 1))
    # Not counted: no product line, cancelled, the day before the window, after the as-of date.
    basket([None], day(2026, 4, 1))
    basket([p, q], day(2026, 4, 2), status=Order.Status.CANCELLED)
    basket([p, q], day(2025, 6, 30))
    basket([p, q], day(2026, 7, 1))
    return {"P": p, "Q": q, "R": r, "S": s}


def rules(run) -> dict:
    return {
        (rule.antecedent.sku, rule.consequent.sku): rule
        for rule in ProductAssociation.objects.filter(run=run).select_related("antecedent", "consequent")
    }


def test_support_confidence_and_lift(baskets):
    run = GradingRunFactory(as_of=AS_OF)
    assert crosssell.associations_compute(run=run) == 2
    found = rules(run)
    # Only P and Q are together in at least 3 orders (P and R in 2, Q and R in 1).
    assert set(found) == {("P", "Q"), ("Q", "P")}
    p_q = found[("P", "Q")]
    assert p_q.together == 3
    assert p_q.support == pytest.approx(3 / 6)
    assert p_q.confidence == pytest.approx(3 / 4)
    assert p_q.lift == pytest.approx((3 / 4) / (4 / 6))
    q_p = found[("Q", "P")]
    assert (q_p.support, q_p.confidence) == (pytest.approx(0.5), pytest.approx(0.75))


def test_minimum_orders_together(baskets, monkeypatch):
    monkeypatch.setattr(crosssell, "MIN_ORDERS_TOGETHER", 2)
    run = GradingRunFactory(as_of=AS_OF)
    assert crosssell.associations_compute(run=run) == 4
    found = rules(run)
    assert ("Q", "R") not in found
    p_r, r_p = found[("P", "R")], found[("R", "P")]
    assert p_r.together == r_p.together == 2
    assert p_r.support == pytest.approx(2 / 6)
    assert p_r.confidence == pytest.approx(2 / 4)
    assert p_r.lift == pytest.approx((2 / 4) / (2 / 6))
    assert r_p.confidence == pytest.approx(2 / 2)
    assert r_p.lift == pytest.approx(1 / (4 / 6))


def test_rerun_replaces_the_runs_rules_only(baskets):
    run, other = GradingRunFactory(as_of=AS_OF), GradingRunFactory(as_of=datetime.date(2026, 6, 1))
    crosssell.associations_compute(run=other)
    crosssell.associations_compute(run=run)
    first = {key: (rule.together, rule.support, rule.confidence, rule.lift) for key, rule in rules(run).items()}
    assert crosssell.associations_compute(run=run) == 2
    again = {key: (rule.together, rule.support, rule.confidence, rule.lift) for key, rule in rules(run).items()}
    assert again == first
    assert ProductAssociation.objects.filter(run=run).count() == 2
    # The other run keeps its own rows: its window (2025-06-02 … 2026-06-01) also holds the order of
    # 2025-06-30, so N = 7, n(P) = n(Q) = 5 and P, Q are together in 4 orders.
    other_rule = rules(other)[("P", "Q")]
    assert other_rule.together == 4
    assert other_rule.support == pytest.approx(4 / 7)
    assert other_rule.lift == pytest.approx((4 / 5) / (5 / 7))


def test_no_orders_writes_nothing():
    run = GradingRunFactory(as_of=AS_OF)
    assert crosssell.associations_compute(run=run) == 0


def test_products_page_lists_the_top_rules(login, manager, baskets):
    run = GradingRunFactory(as_of=AS_OF)
    crosssell.associations_compute(run=run)
    html = login(manager).get(reverse("analytics:products")).content.decode()
    assert 'id="association-table"' in html
    # Support 50.0%, confidence 75.0%, lift 1.125 shown with two decimals.
    assert "50.0%" in html and "75.0%" in html and "1.12" in html
    response = login(manager).get(reverse("analytics:products"), {"export": "associations"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Product P,Product Q,3,50.0,75.0,1.125" in text


# The 360 panel -------------------------------------------------------------------------------------


@pytest.fixture
def shop(owner, outsider):
    """A customer of owner's who bought X ×2 (unit price 100), X3 ×1 (130) and W, all chairs, in owner's
    orders — so they usually pay (200 + 130 + 100) / 4 = 107.50 a chair — and H (a lamp) in an
    order of outsider's that owner cannot see."""
    product = lambda sku, price, category="Chairs", **kw: ProductFactory(  # noqa: E731
        sku=sku, name=f"Item {sku}", category=category, unit_price=Decimal(price), unit_cost=Decimal(price) / 2, **kw
    )
    items = {
        "X": product("X", 100),
        "X3": product("X3", 130),
        "W": product("W", 100),
        "H": product("H", 50, "Lamps"),
        "Y": product("Y", 400, "Tables"),
        "Z": product("Z", 150),
        "V": product("V", 90, "Tables", active=False),
        "K": product("K", 70, "Lamps"),
        "L": product("L", 80, "Lamps"),
        "C1": product("C1", 120),
        "C2": product("C2", 200),
        "C3": product("C3", 105),
        "C4": product("C4", 300, active=False),
    }
    customer = CustomerFactory(owner=owner)
    order = OrderFactory(customer=customer, owner=owner)
    OrderLineFactory(order=order, product=items["X"], quantity=Decimal(2))
    OrderLineFactory(order=order, product=items["X3"])
    OrderLineFactory(order=order, product=items["W"])
    hidden = OrderFactory(customer=customer, owner=outsider)
    OrderLineFactory(order=hidden, product=items["H"])
    cancelled = OrderFactory(customer=customer, owner=owner, status=Order.Status.CANCELLED)
    OrderLineFactory(order=cancelled, product=items["Y"])
    old = GradingRunFactory(as_of=AS_OF - datetime.timedelta(days=1))
    run = GradingRunFactory(as_of=AS_OF)

    def rule(antecedent, consequent, lift, on=run):
        ProductAssociation.objects.create(
            run=on,
            antecedent=items[antecedent],
            consequent=items[consequent],
            together=5,
            support=0.1,
            confidence=0.5,
            lift=lift,
        )

    rule("X", "Y", 2.4)
    rule("X3", "Y", 1.2)
    rule("X", "Z", 1.5)
    rule("X", "W", 3.0)  # W already bought
    rule("X", "V", 5.0)  # V no longer sold
    rule("H", "K", 9.0)  # H bought in an order owner cannot see
    rule("W", "L", 0.8)  # bought together less often than by chance
    rule("X", "C1", 50.0, on=old)  # an older run's rule
    return {"customer": customer, "run": run, "items": items}


def suggestions(user, customer):
    request = RequestFactory().get("/")
    request.user = user
    return panel.suggested_products(request, customer)


def test_cross_sell_by_lift_excluding_what_was_bought(owner, shop):
    found = suggestions(owner, shop["customer"])
    assert found["run"] == shop["run"]
    assert [(r.consequent.sku, r.antecedent.sku, r.lift) for r in found["cross_sell"]] == [
        ("Y", "X", 2.4),  # the strongest reason of two (X3 → Y has lift 1.2); Y was only in a cancelled order
        ("Z", "X", 1.5),
    ]


def test_up_sell_dearer_products_of_the_categories_bought(owner, shop):
    found = suggestions(owner, shop["customer"])
    # Chairs at more than 107.50 (not C3 at 105), not bought (X3), not already offered (Z), still sold
    # (not C4), the smallest step up first.
    assert [(offer["product"].sku, offer["usual_price"]) for offer in found["up_sell"]] == [
        ("C1", Decimal("107.50")),
        ("C2", Decimal("107.50")),
    ]


def test_suggestions_respect_what_the_reader_sees(manager, owner, shop):
    # owner cannot see the order with H: no "bought with H" rule, no lamps to up-sell.
    mine = suggestions(owner, shop["customer"])
    assert "K" not in [rule.consequent.sku for rule in mine["cross_sell"]]
    assert all(offer["product"].category == "Chairs" for offer in mine["up_sell"])
    everything = suggestions(manager, shop["customer"])
    assert [rule.consequent.sku for rule in everything["cross_sell"]][0] == "K"
    # Lamps at more than 50 a unit: K is already offered as cross-sell; L (80) is a step of 1.6.
    assert [offer["product"].sku for offer in everything["up_sell"]] == ["C1", "L", "C2"]


def test_panel_on_the_360_page(login, owner, shop):
    html = login(owner).get(shop["customer"].get_absolute_url()).content.decode()
    assert "Suggested next products" in html
    assert "bought with Item X; lift 2.4" in html
    assert "Chairs: usually pays 107.50 a unit" in html
    assert "Item W</a>" not in html.split('id="panel-suggested_products"')[1].split("</section>")[0]


def test_no_panel_for_service_agents(login, service_agent, shop):
    response = login(service_agent).get(shop["customer"].get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Suggested next products" not in html
    assert 'id="panel-suggested_products"' not in html
    assert suggestions(service_agent, shop["customer"]) is None


def test_no_run_yet(owner):
    customer = CustomerFactory(owner=owner)
    found = suggestions(owner, customer)
    assert found["run"] is None and found["cross_sell"] == [] and found["up_sell"] == []


def test_panel_runs_a_constant_number_of_queries(owner, shop):
    customer, run, items = shop["customer"], shop["run"], shop["items"]
    roles.roles_of(owner)  # read once per user object and cached; not the panel's
    with CaptureQueriesContext(connection) as few:
        suggestions(owner, customer)
    # Twenty more products bought, each with a rule and a dearer chair.
    order = OrderFactory(customer=customer, owner=owner)
    for number in range(20):
        bought = ProductFactory(category="Chairs", unit_price=Decimal(100))
        OrderLineFactory(order=order, product=bought)
        offered = ProductFactory(category="Chairs", unit_price=Decimal(500 + number))
        ProductAssociation.objects.create(
            run=run, antecedent=bought, consequent=offered, together=4, support=0.1, confidence=0.4, lift=1 + number
        )
    with CaptureQueriesContext(connection) as many:
        found = suggestions(owner, customer)
    assert len(found["cross_sell"]) == crosssell.SUGGESTIONS
    assert len(many) == len(few) <= 6, [query["sql"] for query in many.captured_queries]
    assert items  # the fixture's products stay in place
