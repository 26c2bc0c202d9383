"""Writes of opportunities: create, edit (with conflict detection), stage moves, won and lost.

Every stage change goes through `opportunity_move`, which records a `StageChange` row: the
funnel, cycle-time and conversion reports read those rows, so no code sets `stage` directly.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Contact, Customer
from customers.services import ConflictError

from ..models import Opportunity, OpportunityLine, Order, Product, Stage, StageChange
from .orders import LineDraft, order_create

# Fields a person edits on the opportunity form; stage changes go through the move services.
EDITABLE_FIELDS = (
    "name",
    "customer",
    "contact",
    "owner",
    "amount",
    "probability",
    "expected_close",
    "next_step",
    "competitor",
    "notes",
)


class OpportunityConflict(ConflictError):
    """The opportunity changed since the editor loaded it; carries the opportunity as saved now."""

    def __init__(self, current: Opportunity):
        Exception.__init__(self, _("This opportunity was changed by someone else."))
        self.current = current


class MoveRefused(ValueError):
    """A stage move that the rules do not allow (message says why, for the user)."""


@dataclass(frozen=True)
class OpportunityLineDraft:
    """A product the opportunity is about; the unit price defaults to the product's list price."""

    product: Product
    quantity: Decimal
    unit_price: Decimal | None = None


def first_open_stage(pipeline_id: int) -> Stage:
    """Where new opportunities of a pipeline start: its first stage that is neither won nor lost."""
    return Stage.objects.filter(pipeline_id=pipeline_id, is_won=False, is_lost=False).order_by("position", "pk")[0]


def default_start_stage() -> Stage:
    """The first open stage of the default pipeline (or of the first active pipeline)."""
    stages = Stage.objects.filter(is_won=False, is_lost=False, pipeline__active=True)
    return stages.order_by("-pipeline__is_default", "pipeline__position", "pipeline_id", "position", "pk")[0]


def _set_lines(opportunity: Opportunity, lines: list[OpportunityLineDraft]) -> None:
    """Replace the opportunity's products; its amount becomes their total when there are any."""
    opportunity.lines.all().delete()
    rows = [
        OpportunityLine(
            opportunity=opportunity,
            product=line.product,
            quantity=line.quantity,
            unit_price=line.unit_price if line.unit_price is not None else line.product.unit_price,
        )
        for line in lines
    ]
    OpportunityLine.objects.bulk_create(rows)
    if rows:
        opportunity.amount = sum((row.quantity * row.unit_price for row in rows), Decimal(0)).quantize(Decimal("0.01"))


@transaction.atomic
def opportunity_create(
    *,
    actor,
    customer: Customer,
    name: str,
    stage: Stage | None = None,
    owner=None,
    amount: Decimal = Decimal(0),
    probability: int | None = None,
    expected_close: datetime.date | None = None,
    contact: Contact | None = None,
    next_step: str = "",
    competitor: str = "",
    notes: str = "",
    lines: list[OpportunityLineDraft] | None = None,
) -> Opportunity:
    """Create an open opportunity (default: first stage of the default pipeline) and its first StageChange."""
    stage = stage or default_start_stage()
    if stage.is_won or stage.is_lost:
        raise MoveRefused(_("A new opportunity starts in an open stage; mark it won or lost afterwards."))
    now = timezone.now()
    opportunity = Opportunity.objects.create(
        name=name.strip(),
        customer=customer,
        contact=contact,
        owner=owner if owner is not None else customer.owner or actor,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        amount=amount or Decimal(0),
        probability=stage.probability if probability is None else probability,
        expected_close=expected_close,
        next_step=next_step.strip(),
        competitor=competitor.strip(),
        notes=notes,
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    if lines:
        _set_lines(opportunity, lines)
        opportunity.save(update_fields=["amount"])
    StageChange.objects.create(
        opportunity=opportunity, from_stage=None, to_stage=stage, changed_by=actor, changed_at=now
    )
    return opportunity


@transaction.atomic
def opportunity_update(
    *,
    opportunity: Opportunity,
    actor,
    data: dict,
    expected_version: int,
    lines: list[OpportunityLineDraft] | None = None,
) -> list[str]:
    """Save edits made to version `expected_version` (raise OpportunityConflict if it is no longer
    current); `lines`, when given, replace the products. Returns the names of the changed fields."""
    # Compare-and-set on the version takes the row lock, so two editors cannot both win.
    claimed = Opportunity.objects.filter(pk=opportunity.pk, version=expected_version).update(version=F("version") + 1)
    if not claimed:
        raise OpportunityConflict(Opportunity.objects.select_related("customer", "owner").get(pk=opportunity.pk))
    fresh = Opportunity.objects.get(pk=opportunity.pk)
    changed = []
    for field in EDITABLE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if isinstance(value, str):
            value = value.strip()
        if getattr(fresh, field) != value:
            setattr(fresh, field, value)
            changed.append(field)
    if lines is not None:
        before = sorted(fresh.lines.values_list("product_id", "quantity", "unit_price"))
        amount_before = fresh.amount
        _set_lines(fresh, lines)
        after = sorted((line.product.pk, line.quantity, line.unit_price or line.product.unit_price) for line in lines)
        if before != after:
            changed.append("lines")
        if fresh.amount != amount_before and "amount" not in changed:
            changed.append("amount")
    if not changed:
        # Nothing to record: undo the version claim so other editors are not disturbed.
        Opportunity.objects.filter(pk=fresh.pk).update(version=expected_version)
        opportunity.refresh_from_db()
        return []
    fresh.updated_at = timezone.now()
    fresh.save()
    opportunity.refresh_from_db()
    return changed


@transaction.atomic
def opportunity_move(*, opportunity: Opportunity, stage: Stage, actor, lost_reason: str | None = None) -> bool:
    """Move to `stage` of the same pipeline, recording a StageChange; the probability becomes the stage's,
    `closed_at` is set on won/lost and cleared on reopening. A lost stage needs a reason.
    Returns False when the opportunity already was in that stage (nothing recorded)."""
    current = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if stage.pipeline_id != current.pipeline_id:
        raise MoveRefused(_("That stage belongs to another pipeline."))
    reason = (lost_reason or "").strip()
    if stage.is_lost and not reason:
        raise MoveRefused(_("Say why the opportunity was lost."))
    if stage.pk == current.stage_id:
        if stage.is_lost and reason != current.lost_reason:
            current.lost_reason = reason
            current.save(update_fields=["lost_reason"])
            opportunity.refresh_from_db()
        return False
    now = timezone.now()
    StageChange.objects.create(
        opportunity=current, from_stage_id=current.stage_id, to_stage=stage, changed_by=actor, changed_at=now
    )
    current.stage = stage
    current.probability = stage.probability
    current.closed_at = now if stage.is_closed else None
    current.lost_reason = reason if stage.is_lost else ""
    current.version += 1
    current.updated_at = now
    current.save(update_fields=["stage", "probability", "closed_at", "lost_reason", "version", "updated_at"])
    opportunity.refresh_from_db()
    return True


def _closing_stage(opportunity: Opportunity, *, won: bool, stage: Stage | None) -> Stage:
    if stage is not None:
        if (stage.is_won if won else stage.is_lost) and stage.pipeline_id == opportunity.pipeline_id:
            return stage
        raise MoveRefused(
            _("That stage is not a won stage of this pipeline.")
            if won
            else _("That stage is not a lost stage of this pipeline.")
        )
    flag = {"is_won": True} if won else {"is_lost": True}
    found = Stage.objects.filter(pipeline_id=opportunity.pipeline_id, **flag).order_by("position", "pk").first()
    if found is None:
        raise MoveRefused(_("This pipeline has no won stage.") if won else _("This pipeline has no lost stage."))
    return found


@transaction.atomic
def opportunity_mark_won(*, opportunity: Opportunity, actor, stage: Stage | None = None) -> Order:
    """Move to the pipeline's won stage and make an order draft from the opportunity's products
    (or one line named after it at its amount). Returns the opportunity's order: never a second one."""
    opportunity_move(opportunity=opportunity, stage=_closing_stage(opportunity, won=True, stage=stage), actor=actor)
    # The move locked the opportunity row, so two people marking it won at once make one order.
    existing = opportunity.orders.exclude(status=Order.Status.CANCELLED).order_by("pk").first()
    if existing is not None:
        return existing
    lines = [
        LineDraft(product=line.product, quantity=line.quantity, unit_price=line.unit_price)
        for line in opportunity.lines.select_related("product")
    ] or [
        LineDraft(
            product=None,
            quantity=Decimal(1),
            unit_price=opportunity.amount,
            unit_cost=Decimal(0),
            description=opportunity.name[:200],
        )
    ]
    return order_create(
        customer=opportunity.customer,
        owner=opportunity.owner or actor,
        lines=lines,
        opportunity=opportunity,
        actor=actor,
        status=Order.Status.DRAFT,
        notes=_("From opportunity “%(name)s”.") % {"name": opportunity.name},
    )


@transaction.atomic
def opportunity_mark_lost(*, opportunity: Opportunity, actor, reason: str, stage: Stage | None = None) -> None:
    """Move to the pipeline's lost stage with the reason (required)."""
    opportunity_move(
        opportunity=opportunity,
        stage=_closing_stage(opportunity, won=False, stage=stage),
        actor=actor,
        lost_reason=reason,
    )
