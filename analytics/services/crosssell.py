"""Products bought together (association rules A → B) and the next products to offer a customer.

`associations_compute` finds, among the counted orders of the 365 days up to a grading run's
date, the pairs of products bought in the same order, in one SQL statement: the distinct
(order, product) baskets joined with themselves on the order, grouped by pair. With N = orders
with at least one product line and n(X) = such orders containing X:

    support(A → B) = n(A and B) / N
    confidence(A → B) = n(A and B) / n(A)
    lift(A → B) = confidence(A → B) / (n(B) / N)

A lift above 1 means B is bought with A more often than B is bought at all. Only pairs bought
together in at least MIN_ORDERS_TOGETHER orders are kept: below that, a lift is noise.

`customer_suggestions` reads the latest run's rules for the customer 360 page: cross-sell (what
is bought with what the customer buys) and up-sell (dearer products of the categories they buy).
"""

import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max, Q, Sum

from sales.models import Order, OrderLine, Product

from ..models import GradingRun, ProductAssociation

# A pair must have been bought together in at least this many orders to be kept.
MIN_ORDERS_TOGETHER = 3
# The window of orders the rules are learnt from, ending on the run's date.
WINDOW_DAYS = 365
# How many suggestions of each kind the 360 panel shows.
SUGGESTIONS = 5

_SQL = """
WITH basket AS (
    SELECT DISTINCT line.order_id AS order_id, line.product_id AS product_id
    FROM {line} line JOIN {order} o ON o.id = line.order_id
    WHERE o.status <> %(cancelled)s AND o.ordered_at > %(start)s AND o.ordered_at <= %(end)s
      AND line.product_id IS NOT NULL
),
orders_n AS (SELECT COUNT(DISTINCT order_id) AS n FROM basket),
item AS (SELECT product_id, COUNT(*) AS n FROM basket GROUP BY product_id),
pair AS (
    -- Each unordered pair once (a < b): half the join; both directions are written below.
    SELECT a.product_id AS a, b.product_id AS b, COUNT(*) AS together
    FROM basket a JOIN basket b ON b.order_id = a.order_id AND b.product_id > a.product_id
    GROUP BY a.product_id, b.product_id
    HAVING COUNT(*) >= %(minimum)s
),
rule AS (
    SELECT a AS antecedent, b AS consequent, together FROM pair
    UNION ALL
    SELECT b AS antecedent, a AS consequent, together FROM pair
)
INSERT INTO {association} (run_id, antecedent_id, consequent_id, together, support, confidence, lift)
SELECT %(run)s, rule.antecedent, rule.consequent, rule.together,
       CAST(rule.together AS DOUBLE PRECISION) / orders_n.n,
       CAST(rule.together AS DOUBLE PRECISION) / ia.n,
       CAST(rule.together AS DOUBLE PRECISION) * orders_n.n / (CAST(ia.n AS DOUBLE PRECISION) * ib.n)
FROM rule
JOIN item ia ON ia.product_id = rule.antecedent
JOIN item ib ON ib.product_id = rule.consequent
CROSS JOIN orders_n
"""


def association_window(as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last order dates the rules of a run dated `as_of` are learnt from."""
    return as_of - datetime.timedelta(days=WINDOW_DAYS - 1), as_of


@transaction.atomic
def associations_compute(*, run: GradingRun) -> int:
    """Replace `run`'s product associations with the pairs bought together in its year; return how many."""
    ProductAssociation.objects.filter(run=run).delete()
    first, last = association_window(run.as_of)
    quote = connection.ops.quote_name
    sql = _SQL.format(
        line=quote(OrderLine._meta.db_table),
        order=quote(Order._meta.db_table),
        association=quote(ProductAssociation._meta.db_table),
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The self-join groups millions of rows at scale; the stock 4 MB spills to disk (STACK-NOTES).
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            sql,
            {
                "cancelled": Order.Status.CANCELLED,
                "start": connection.ops.adapt_datefield_value(first - datetime.timedelta(days=1)),
                "end": connection.ops.adapt_datefield_value(last),
                "minimum": MIN_ORDERS_TOGETHER,
                "run": run.pk,
            },
        )
    # The cursor's rowcount of an INSERT led by WITH is -1 on SQLite: count what was written.
    return ProductAssociation.objects.filter(run=run).count()


def top_associations(*, run: GradingRun | None, limit: int = 20) -> list[ProductAssociation]:
    """The run's strongest rules, by lift then orders together, with both products (one query)."""
    if run is None:
        return []
    return list(
        ProductAssociation.objects.filter(run=run)
        .select_related("antecedent", "consequent")
        .order_by("-lift", "-together", "antecedent__name", "consequent__name")[:limit]
    )


def latest_association_run() -> GradingRun | None:
    """The latest succeeded grading run (its rules are the ones the 360 page reads; one query)."""
    return GradingRun.objects.succeeded().order_by("-as_of").first()


def customer_suggestions(user, *, customer, run: GradingRun | None) -> dict:
    """Cross-sell and up-sell suggestions for `customer`, from the orders `user` may see (five queries at most).

    Cross-sell: consequents of the rules of `run` (lift above 1) whose antecedent the customer
    bought, by lift, each with its strongest reason. Up-sell: active products of the categories the customer buys
    whose unit price is above what the customer usually pays in that category (amount ÷ quantity
    of their lines there), the smallest step up first. What the customer has bought in any
    counted order is never suggested; the reasons name only purchases the reader can see."""
    visible_lines = OrderLine.objects.filter(
        order__in=Order.objects.visible_to(user).counted().filter(customer=customer), product__isnull=False
    )
    bought = OrderLine.objects.filter(
        order__in=Order.objects.counted().filter(customer=customer), product__isnull=False
    ).values("product_id")

    cross = []
    if run is not None:
        # A lift of 1 or less: bought together no more often than by chance, so no reason to offer.
        rules = ProductAssociation.objects.filter(
            run=run, antecedent__in=visible_lines.values("product_id"), consequent__active=True, lift__gt=1
        ).exclude(consequent__in=bought)
        best = list(
            rules.order_by()
            .values("consequent_id")
            .annotate(best=Max("lift"))
            .order_by("-best", "consequent_id")[:SUGGESTIONS]
        )
        wanted = [row["consequent_id"] for row in best]
        reasons = {}
        for rule in (
            rules.filter(consequent__in=wanted)
            .select_related("antecedent", "consequent")
            .order_by("-lift", "-together", "antecedent__name")
        ):
            reasons.setdefault(rule.consequent_id, rule)
        cross = [reasons[pk] for pk in wanted if pk in reasons]

    usual = {
        row["product__category"]: row["amount"] / row["quantity"]
        for row in visible_lines.exclude(product__category="")
        .order_by()
        .values("product__category")
        .annotate(amount=Sum("amount"), quantity=Sum("quantity"))
        if row["quantity"]
    }
    up = []
    if usual:
        dearer = Q()
        for category, price in usual.items():
            dearer |= Q(category=category, unit_price__gt=price)
        candidates = (
            Product.objects.active()
            .filter(dearer)
            .exclude(pk__in=bought)
            .exclude(pk__in=[rule.consequent_id for rule in cross])
        )
        # The smallest step up first: the offer closest to what the customer already pays.
        steps = sorted(candidates, key=lambda product: (product.unit_price / usual[product.category], product.name))
        up = [
            {"product": product, "usual_price": usual[product.category].quantize(Decimal("0.01"))}
            for product in steps[:SUGGESTIONS]
        ]
    return {"cross_sell": cross, "up_sell": up}
