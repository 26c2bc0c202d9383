"""Writes of orders and their lines. An order's `amount` and `cost` are always the sums of its lines."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from customers.models import Customer

from ..models import Opportunity, Order, OrderLine, Product
from .numbers import next_number

ORDER_PREFIX = "SO"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineDraft:
    """What a new order line needs; unit price and cost default to the product's current ones."""

    product: Product | None
    quantity: Decimal
    unit_price: Decimal | None = None
    unit_cost: Decimal | None = None
    description: str = ""


def line_values(draft: LineDraft) -> dict:
    """Field values of an order line, with amount and cost worked out (as of the sale)."""
    unit_price = draft.unit_price if draft.unit_price is not None else draft.product.unit_price
    if draft.unit_cost is not None:
        unit_cost = draft.unit_cost
    else:
        unit_cost = draft.product.unit_cost if draft.product else Decimal(0)
    return {
        "product": draft.product,
        "description": draft.description or (draft.product.name if draft.product else ""),
        "quantity": draft.quantity,
        "unit_price": unit_price,
        "unit_cost": unit_cost,
        "amount": (draft.quantity * unit_price).quantize(CENT),
        "cost": (draft.quantity * unit_cost).quantize(CENT),
    }


def order_recalculate(order: Order) -> None:
    """Set the order's amount and cost to the sums of its lines and save them."""
    totals = order.lines.aggregate(amount=Sum("amount"), cost=Sum("cost"))
    order.amount = totals["amount"] or Decimal(0)
    order.cost = totals["cost"] or Decimal(0)
    order.updated_at = timezone.now()
    order.save(update_fields=["amount", "cost", "updated_at"])


@transaction.atomic
def order_create(
    *,
    customer: Customer,
    owner,
    lines: list[LineDraft],
    actor=None,
    status: str = Order.Status.DRAFT,
    ordered_at: datetime.date | None = None,
    opportunity: Opportunity | None = None,
    notes: str = "",
) -> Order:
    """Create an order with its lines and totals, numbered `SO-<year>-<n>`."""
    ordered_at = ordered_at or timezone.localdate()
    now = timezone.now()
    order = Order.objects.create(
        number=next_number(ORDER_PREFIX, year=ordered_at.year),
        customer=customer,
        owner=owner,
        opportunity=opportunity,
        status=status,
        ordered_at=ordered_at,
        confirmed_at=now if status in (Order.Status.CONFIRMED, Order.Status.DELIVERED) else None,
        delivered_at=now if status == Order.Status.DELIVERED else None,
        notes=notes,
        created_by=actor,
    )
    OrderLine.objects.bulk_create([OrderLine(order=order, **line_values(draft)) for draft in lines])
    order_recalculate(order)
    return order
