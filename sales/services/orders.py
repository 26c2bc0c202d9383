"""Writes of orders and their lines. An order's `amount` and `cost` are always the sums of its lines."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer

from ..models import Opportunity, Order, OrderLine, Product
from .numbers import next_number

ORDER_PREFIX = "SO"
CENT = Decimal("0.01")

# Where each status may go next; delivered and cancelled orders are final.
TRANSITIONS = {
    Order.Status.DRAFT: (Order.Status.CONFIRMED, Order.Status.CANCELLED),
    Order.Status.CONFIRMED: (Order.Status.DELIVERED, Order.Status.CANCELLED),
    Order.Status.DELIVERED: (),
    Order.Status.CANCELLED: (),
}
# The timestamp each status sets when an order enters it.
STATUS_STAMPS = {
    Order.Status.CONFIRMED: "confirmed_at",
    Order.Status.DELIVERED: "delivered_at",
    Order.Status.CANCELLED: "cancelled_at",
}


class OrderConflictError(Exception):
    """The order changed since the editor loaded it; carries the order as saved now."""

    def __init__(self, current: Order):
        super().__init__(_("This order was changed by someone else."))
        self.current = current


class OrderStateError(Exception):
    """The order's status does not allow this change (e.g. editing the lines of a confirmed order)."""


@dataclass(frozen=True)
class LineDraft:
    """What a new order line needs; unit price and cost default to the product's current ones.

    `line_id` names the existing line of the order this draft replaces, when editing: that line's
    unit cost (as of the sale) is kept while the product stays the same."""

    product: Product | None
    quantity: Decimal
    unit_price: Decimal | None = None
    unit_cost: Decimal | None = None
    description: str = ""
    line_id: int | None = None


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


def _claim(order: Order, expected_version: int) -> Order:
    """Compare-and-set on the version (takes the row lock); the order as saved now, or OrderConflictError."""
    claimed = Order.objects.filter(pk=order.pk, version=expected_version).update(version=F("version") + 1)
    if not claimed:
        raise OrderConflictError(Order.objects.select_related("customer", "owner").get(pk=order.pk))
    return Order.objects.get(pk=order.pk)


def _keep_unit_costs(order: Order, lines: list[LineDraft]) -> list[LineDraft]:
    """Drafts whose existing line keeps its unit cost as of the sale (same product, no cost given)."""
    existing = {line.pk: line for line in order.lines.all()}
    kept = []
    for draft in lines:
        line = existing.get(draft.line_id)
        if (
            draft.unit_cost is None
            and line is not None
            and line.product_id == (draft.product.pk if draft.product else None)
        ):
            draft = LineDraft(
                product=draft.product,
                quantity=draft.quantity,
                unit_price=draft.unit_price,
                unit_cost=line.unit_cost,
                description=draft.description,
                line_id=draft.line_id,
            )
        kept.append(draft)
    return kept


@transaction.atomic
def order_update(
    *,
    order: Order,
    actor,
    expected_version: int,
    lines: list[LineDraft],
    owner,
    ordered_at: datetime.date,
    notes: str = "",
) -> Order:
    """Replace a draft order's lines and header fields as edited from version `expected_version`.

    Raises OrderConflictError if someone saved the order since, OrderStateError if it is no longer a draft."""
    if not lines:
        raise ValueError(_("An order needs at least one line."))
    fresh = _claim(order, expected_version)
    if fresh.status != Order.Status.DRAFT:
        raise OrderStateError(
            _("Only draft orders can be edited; this one is %(status)s.") % {"status": fresh.get_status_display()}
        )
    lines = _keep_unit_costs(fresh, lines)
    fresh.lines.all().delete()
    OrderLine.objects.bulk_create([OrderLine(order=fresh, **line_values(draft)) for draft in lines])
    fresh.owner = owner
    fresh.ordered_at = ordered_at
    fresh.notes = notes
    fresh.save(update_fields=["owner", "ordered_at", "notes"])
    order_recalculate(fresh)
    return fresh


def allowed_statuses(order: Order) -> tuple[str, ...]:
    """The statuses the order may move to next."""
    return TRANSITIONS[order.status]


@transaction.atomic
def order_set_status(*, order: Order, actor, status: str, expected_version: int) -> Order:
    """Move the order to `status` (draft → confirmed → delivered; any but delivered → cancelled), stamping when.

    Raises OrderConflictError if the order changed since version `expected_version`, OrderStateError if the
    move is not allowed from its current status."""
    fresh = _claim(order, expected_version)
    if status not in TRANSITIONS[fresh.status]:
        raise OrderStateError(
            _("A %(current)s order cannot become %(new)s.")
            % {
                "current": fresh.get_status_display(),
                "new": Order.Status(status).label if status in Order.Status.values else status,
            }
        )
    now = timezone.now()
    fresh.status = status
    setattr(fresh, STATUS_STAMPS[status], now)
    fresh.updated_at = now
    fresh.save(update_fields=["status", STATUS_STAMPS[status], "updated_at"])
    return fresh
