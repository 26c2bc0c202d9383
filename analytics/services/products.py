"""Product analyses for a period (DESIGN.md, "Product analyses"): sales composition, gross margin
rate, turnover rate, cross ratio and contribution ratio, per product and per category.

- share of revenue = revenue / revenue of all lines in view;
- gross margin rate = (revenue − cost) / revenue;
- average inventory at cost = mean of the product's `InventorySnapshot.value_at_cost` taken in the
  period; for a category or all products, the sum of their products' averages (products without
  snapshots in the period add nothing); None when there is no snapshot at all;
- turnover rate = cost of goods sold / average inventory at cost;
- cross ratio = gross margin rate × turnover rate; contribution ratio = cross ratio × share.

Order lines without a product are one "no product" row (and one "no product" category): they count
in revenue and cost, never in inventory. Products with snapshots but no sales in the period have a
row too (their stock did not turn).

Two parts, so that a dashboard never aggregates a million order lines per request: the sales per
product (`product_sales`, one grouped query over the order lines) — which the grading job stores
for readers who see every order (`products_figures`, run's default period) — and the inventory per
product (`product_inventory`, one grouped query over the small snapshot table), always live so
that a snapshot import shows at once. `product_table` combines them without queries.
"""

import datetime

from django.db.models import Avg, Sum

from customers import roles
from sales.models import Order, OrderLine, Product

from ..models import GradingRun, InventorySnapshot
from . import summaries

# Key of the figures the grading job stores (`FigureSet`).
SUMMARY_KEY = "products"
# The default period: this many calendar months up to the as-of date (its own month included).
DEFAULT_MONTHS = 3
# Products in the margin and turnover chart (the largest by revenue; the tables have all).
CHART_PRODUCTS = 15


def default_period(as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The three calendar months up to `as_of`: from the first day of the month two months before, to `as_of`."""
    year, month = as_of.year, as_of.month - (DEFAULT_MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return datetime.date(year, month, 1), as_of


def sees_every_order(user) -> bool:
    """True when `Order.objects.visible_to(user)` filters nothing, so the stored everyone-scope figures apply."""
    return not Order.objects.visible_to(user).query.where


def _ratio(part, whole) -> float | None:
    """part / whole, or None when the whole is not positive (no meaningful ratio)."""
    return float(part) / float(whole) if whole and whole > 0 else None


def _product(value, factor) -> float | None:
    return value * factor if value is not None and factor is not None else None


def product_sales(orders) -> list[dict]:
    """Quantity, revenue and cost per product of the lines of `orders` (one grouped query).

    `orders` are the orders already narrowed to what counts (visible, not cancelled, in the
    period). JSON-safe: `product_id` (None for lines without a product) and floats."""
    rows = (
        OrderLine.objects.filter(order__in=orders)
        .order_by()
        .values("product_id")
        .annotate(quantity=Sum("quantity"), revenue=Sum("amount"), cost=Sum("cost"))
    )
    return [
        {
            "product_id": row["product_id"],
            "quantity": float(row["quantity"] or 0),
            "revenue": float(row["revenue"] or 0),
            "cost": float(row["cost"] or 0),
        }
        for row in rows
    ]


def counted_orders(orders, *, start: datetime.date, end: datetime.date):
    """The counted (not cancelled) orders of `orders` dated from `start` to `end`, both included."""
    return orders.counted().filter(ordered_at__gte=start, ordered_at__lte=end)


def products_figures(run: GradingRun, grades=None, user=None) -> dict:
    """Sales per product over the orders `user` may see (None: every order) in `run`'s default period.

    A `summaries_store` compute function; `grades` is ignored: the figures follow the orders a
    reader sees, not the customers. One query."""
    start, end = default_period(run.as_of)
    orders = Order.objects.all() if user is None else Order.objects.visible_to(user)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "sales": product_sales(counted_orders(orders, start=start, end=end)),
    }


def order_scope(user) -> str | None:
    """The scope of stored figures that fits the orders `user` sees: everyone's, a sales user's own, or None."""
    if sees_every_order(user):
        return summaries.EVERYONE
    if roles.has_role(user, roles.SALES_REP, roles.SALES_MANAGER):
        return summaries.scope_of(user)
    return None


def product_inventory(*, start: datetime.date, end: datetime.date) -> dict[int, float]:
    """Average inventory at cost per product: the mean of its snapshots taken in the period (one query)."""
    rows = (
        InventorySnapshot.objects.filter(taken_on__gte=start, taken_on__lte=end)
        .order_by()
        .values("product_id")
        .annotate(average=Avg("value_at_cost"))
    )
    return {row["product_id"]: float(row["average"]) for row in rows}


def _stored_sales(user, run: GradingRun | None, start, end) -> list[dict] | None:
    """The job's stored sales when they answer this request exactly, else None."""
    scope = order_scope(user)
    if run is None or (start, end) != default_period(run.as_of) or scope is None:
        return None
    stored = summaries.stored_figures(run=run, key=SUMMARY_KEY, scope=scope)
    if not stored or stored.get("start") != start.isoformat() or stored.get("end") != end.isoformat():
        return None
    return stored["sales"]


def products_analysis(user, *, start: datetime.date, end: datetime.date, run: GradingRun | None = None) -> dict:
    """The product page's figures for the orders `user` may see in the period (at most three queries).

    Readers who see every order get the sales the job stored for `run` when the period is the
    run's default one; everyone else's are aggregated now."""
    sales = _stored_sales(user, run, start, end)
    stored = sales is not None
    if sales is None:
        sales = product_sales(counted_orders(Order.objects.visible_to(user), start=start, end=end))
    inventory = product_inventory(start=start, end=end)
    ids = {row["product_id"] for row in sales if row["product_id"] is not None} | set(inventory)
    products = {
        row["pk"]: row for row in Product.objects.filter(pk__in=ids).values("pk", "sku", "name", "category", "active")
    }
    figures = product_table(sales=sales, inventory=inventory, products=products)
    figures.update(start=start, end=end, stored=stored)
    return figures


# Combining (no queries) -----------------------------------------------------------------------


def _measures(quantity, revenue, cost, inventory, total_revenue) -> dict:
    """The ratios of one row from its sums (inventory None: no snapshot)."""
    margin_rate = _ratio(revenue - cost, revenue)
    turnover = _ratio(cost, inventory) if inventory is not None else None
    share = _ratio(revenue, total_revenue)
    cross_ratio = _product(margin_rate, turnover)
    return {
        "quantity": quantity,
        "revenue": revenue,
        "share": share,
        "cost": cost,
        "gross_profit": revenue - cost,
        "margin_rate": margin_rate,
        "inventory": inventory,
        "turnover": turnover,
        "cross_ratio": cross_ratio,
        "contribution": _product(cross_ratio, share),
    }


def product_table(*, sales: list[dict], inventory: dict[int, float], products: dict[int, dict]) -> dict:
    """Rows per product and per category, the totals and the chart series, from the sums.

    Rows are sorted by revenue, largest first. A product row carries `product_id`, `sku`, `name`,
    `category`; the "no product" row has `product_id` None. A category row carries `category`
    ("" for products without one) and `no_product` (the lines without a product)."""
    by_product: dict[int | None, dict] = {}
    for row in sales:
        by_product[row["product_id"]] = row
    for product_id in inventory:
        by_product.setdefault(product_id, {"product_id": product_id, "quantity": 0.0, "revenue": 0.0, "cost": 0.0})
    total_revenue = sum(row["revenue"] for row in by_product.values())

    rows, groups = [], {}
    for product_id, row in by_product.items():
        product = products.get(product_id, {}) if product_id is not None else {}
        stock = inventory.get(product_id) if product_id is not None else None
        category = product.get("category", "")
        rows.append(
            {
                "product_id": product_id,
                "sku": product.get("sku", ""),
                "name": product.get("name", ""),
                "category": category,
                **_measures(row["quantity"], row["revenue"], row["cost"], stock, total_revenue),
            }
        )
        key = (product_id is None, "" if product_id is None else category)
        group = groups.setdefault(key, {"quantity": 0.0, "revenue": 0.0, "cost": 0.0, "inventory": None})
        group["quantity"] += row["quantity"]
        group["revenue"] += row["revenue"]
        group["cost"] += row["cost"]
        if stock is not None:
            group["inventory"] = (group["inventory"] or 0.0) + stock

    categories = [
        {
            "category": category,
            "no_product": no_product,
            **_measures(group["quantity"], group["revenue"], group["cost"], group["inventory"], total_revenue),
        }
        for (no_product, category), group in groups.items()
    ]
    all_inventory = [group["inventory"] for group in groups.values() if group["inventory"] is not None]
    totals = _measures(
        sum(row["quantity"] for row in rows),
        total_revenue,
        sum(row["cost"] for row in rows),
        sum(all_inventory) if all_inventory else None,
        total_revenue,
    )
    by_revenue = lambda row: (-row["revenue"], row.get("name") or row.get("category") or "")  # noqa: E731
    rows.sort(key=by_revenue)
    categories.sort(key=by_revenue)
    return {
        "products": rows,
        "categories": categories,
        "totals": totals,
        "has_sales": any(row["revenue"] or row["quantity"] for row in rows),
        "has_inventory": bool(inventory),
    }
