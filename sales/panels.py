"""Sales panels of the customer 360 page (registered from `SalesConfig.ready`).

Each panel shows only what the reader may see (`visible_to`) and runs a constant number of
queries, however many opportunities and orders the customer has."""

import datetime
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.db.models.functions import TruncMonth
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.panels import MAIN, Panel, register, register_action
from customers.permissions import can_edit

OPPORTUNITY_LIMIT = 20
ORDER_LIMIT = 10
HISTORY_MONTHS = 24


def _can_sell_to(user, customer) -> bool:
    # can_edit is cached per customer object: the 360 view has already asked it.
    return roles.has_role(user, roles.ADMIN, roles.SALES_REP, roles.SALES_MANAGER) and can_edit(user, customer)


def _opportunity_create_url(customer) -> str:
    try:
        base = reverse("sales:opportunity_create")
    except NoReverseMatch:  # the opportunities views may not be wired yet
        base = "/sales/opportunities/create/"
    return f"{base}?customer={customer.pk}"


def opportunities(request, customer):
    """The customer's opportunities the reader may see: open ones first, then the most recently closed."""
    from .models import Opportunity

    is_closed = Case(
        When(Q(stage__is_won=True) | Q(stage__is_lost=True), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    rows = list(
        Opportunity.objects.visible_to(request.user)
        .filter(customer=customer)
        .select_related("stage", "owner")
        .annotate(is_closed=is_closed)
        .order_by("is_closed", "expected_close", "-pk")[: OPPORTUNITY_LIMIT + 1]
    )
    return {
        "opportunities": rows[:OPPORTUNITY_LIMIT],
        "more": len(rows) > OPPORTUNITY_LIMIT,
        "open_amount": sum((o.amount for o in rows[:OPPORTUNITY_LIMIT] if not o.is_closed), Decimal(0)),
        "create_url": _opportunity_create_url(customer) if _can_sell_to(request.user, customer) else None,
    }


def orders(request, customer):
    """The customer's latest orders the reader may see, with totals over all of them (cancelled ones left out)."""
    from .models import Order

    visible = Order.objects.visible_to(request.user).filter(customer=customer)
    latest = list(visible.select_related("owner").order_by("-ordered_at", "-pk")[:ORDER_LIMIT])
    totals = visible.counted().aggregate(count=Count("*"), amount=Sum("amount"), cost=Sum("cost"))
    amount, cost = totals["amount"] or Decimal(0), totals["cost"] or Decimal(0)
    return {
        "orders": latest,
        "count": totals["count"],
        "amount": amount,
        "gross_profit": amount - cost,
        "margin": (amount - cost) / amount * 100 if amount else None,
        "list_url": f"{reverse('sales:order_list')}?customer={customer.pk}",
        "create_url": (
            f"{reverse('sales:order_create')}?customer={customer.pk}" if _can_sell_to(request.user, customer) else None
        ),
    }


def _month_starts(today: datetime.date, count: int) -> list[datetime.date]:
    """The first days of the last `count` months, oldest first, ending with this month."""
    year, month = today.year, today.month
    months = []
    for _i in range(count):
        months.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def purchase_history(request, customer):
    """Monthly revenue and gross profit of the customer's counted orders the reader may see, last 24 months."""
    from .models import Order

    months = _month_starts(timezone.localdate(), HISTORY_MONTHS)
    rows = (
        Order.objects.visible_to(request.user)
        .counted()
        .filter(customer=customer, ordered_at__gte=months[0])
        .annotate(month=TruncMonth("ordered_at"))
        .order_by()
        .values("month")
        .annotate(amount=Sum("amount"), cost=Sum("cost"))
    )
    by_month = {}
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, datetime.datetime) else month
        by_month[month] = (row["amount"] or Decimal(0), row["cost"] or Decimal(0))
    table = []
    for month in months:
        amount, cost = by_month.get(month, (Decimal(0), Decimal(0)))
        table.append({"month": month, "amount": amount, "gross_profit": amount - cost})
    return {
        "months": table,
        "has_purchases": bool(by_month),
        "chart": {
            "labels": [f"{row['month']:%Y-%m}" for row in table],
            "revenue": [float(row["amount"]) for row in table],
            "gross_profit": [float(row["gross_profit"]) for row in table],
            "revenue_label": str(_("Revenue")),
            "profit_label": str(_("Gross profit")),
        },
    }


def register_panels() -> None:
    """Register the opportunities, orders and purchase-history panels."""
    register(Panel("opportunities", _("Opportunities"), "sales/panels/opportunities.html", opportunities, 20, MAIN))
    register(Panel("orders", _("Orders"), "sales/panels/orders.html", orders, 30, MAIN))
    register(
        Panel(
            "purchase_history", _("Purchase history"), "sales/panels/purchase_history.html", purchase_history, 40, MAIN
        )
    )
    register_action("pool_release", "sales/partials/pool_release.html")
