"""The customer pool: recycling by the rule, claiming, assigning and releasing (DESIGN.md "Customer pool").

A customer is in the pool when it is active and has no owner. Every move in or out is a `PoolMove`
and a history row of the customer, so the pool page and the 360 history tell the same story.
"""

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import roles
from customers.models import Customer, Interaction, Task, managed_user_ids

from ..models import Order, PoolMove, PoolRule

# Change reasons written in the customer's history (the 360 history panel shows them).
REASON_RECYCLED = "recycled to the pool"
REASON_RELEASED = "released to the pool"
REASON_CLAIMED = "claimed from the pool"
REASON_ASSIGNED = "assigned from the pool"

TASK_SOURCE = "pool"
# Roles that work the pool: they see it, and reps and sales managers claim from it.
POOL_ROLES = (roles.SALES_REP, roles.SALES_MANAGER, roles.ADMIN)
CLOSED_ORDER = (Order.Status.CONFIRMED, Order.Status.DELIVERED)
# Rows per UPDATE … WHERE id IN (…): below SQLite's variable limit, large enough to be few statements.
CHUNK = 5000


class PoolError(Exception):
    """A pool move was refused; the message says why, in words for the user."""


def rule() -> PoolRule:
    return PoolRule.objects.get_or_create(pk=1)[0]


def can_use_pool(user) -> bool:
    return roles.has_role(user, *POOL_ROLES)


def can_claim(user) -> bool:
    return roles.has_role(user, roles.SALES_REP, roles.SALES_MANAGER)


def can_assign(user) -> bool:
    return roles.has_role(user, roles.SALES_MANAGER, roles.ADMIN)


def pool_customers(user):
    """Customers in the pool, for the roles that work it (none for others)."""
    if not can_use_pool(user):
        return Customer.objects.none()
    return Customer.objects.filter(owner__isnull=True, archived=False)


def assignable_reps(user):
    """Users `user` may hand pool customers to: a sales manager their teams' reps, an admin every sales user."""
    users = get_user_model().objects.filter(is_active=True)
    if roles.is_admin(user):
        return users.filter(groups__name__in=[roles.SALES_REP, roles.SALES_MANAGER]).distinct()
    if roles.has_role(user, roles.SALES_MANAGER):
        return users.filter(pk__in=managed_user_ids(user))
    return users.none()


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _tiers(rule_: PoolRule) -> list[tuple[Q, int]]:
    """(which customers, days) per tier; "ungraded" is every tier value that is not one of the four."""
    graded = [value for value, _label in Customer.Tier.choices]
    tiers = [(Q(tier=value), rule_.days_for(value)) for value in graded]
    tiers.append((~Q(tier__in=graded), rule_.days_ungraded))
    return tiers


def recyclable(*, today: datetime.date, rule_: PoolRule | None = None):
    """Owned active customers due back to the pool on `today`, as one queryset per tier with its days.

    Due when the owner's last own activity on the customer — an interaction they logged, an order of
    theirs confirmed or delivered (by order date), getting the customer (the latest PoolMove to them,
    else its creation) — is at least the tier's days before `today`: with 60 days, activity on
    today − 60 recycles, activity on today − 59 keeps. 0 days never recycles.
    """
    rule_ = rule_ or rule()
    result = []
    for tier_q, days in _tiers(rule_):
        if not days:
            continue
        # Activity on or after the first day that still counts keeps the customer.
        keep_from = today - datetime.timedelta(days=days - 1)
        keep_from_at = _local_midnight(keep_from)
        recent_interaction = Interaction.objects.filter(
            customer=OuterRef("pk"), actor=OuterRef("owner"), occurred_at__gte=keep_from_at
        )
        recent_order = Order.objects.filter(
            customer=OuterRef("pk"), owner=OuterRef("owner"), status__in=CLOSED_ORDER, ordered_at__gte=keep_from
        )
        recent_move = PoolMove.objects.filter(
            customer=OuterRef("pk"), to_owner=OuterRef("owner"), moved_at__gte=keep_from_at
        )
        result.append(
            (
                Customer.objects.filter(tier_q, owner__isnull=False, archived=False, created_at__lt=keep_from_at)
                .filter(~Exists(recent_interaction), ~Exists(recent_order), ~Exists(recent_move))
                .order_by(),
                days,
            )
        )
    return result


def _set_owner(customers: list[Customer], *, owner, actor, reason: str, now) -> None:
    """Write a new owner on already-locked customers: one UPDATE per chunk and one history row each."""
    ids = [c.pk for c in customers]
    for start in range(0, len(ids), CHUNK):
        Customer.objects.filter(pk__in=ids[start : start + CHUNK]).update(
            owner=owner, version=F("version") + 1, updated_at=now
        )
    for customer in customers:
        customer.owner = owner
        customer.version += 1
        customer.updated_at = now
    Customer.history.bulk_history_create(
        customers, batch_size=CHUNK, update=True, default_user=actor, default_change_reason=reason, default_date=now
    )


@transaction.atomic
def pool_recycle(*, today: datetime.date | None = None) -> dict:
    """Return to the pool every customer whose owner let it rest past its tier's days; tell each old owner
    in a task. Set-based (a constant number of statements); a second run on the same day finds nothing."""
    today = today or timezone.localdate()
    rule_ = rule()
    if not rule_.active:
        return {"recycled": 0, "tasks": 0}
    now = timezone.now()
    tier_labels = dict(Customer.Tier.choices)
    moves, tasks, recycled = [], [], []
    for candidates, days in recyclable(today=today, rule_=rule_):
        locked = list(candidates.select_for_update(of=("self",)))
        if not locked:
            continue
        for customer in locked:
            tier = tier_labels.get(customer.tier) or _("no tier")
            reason = _("No interaction or closed order by the account manager for %(days)s days (%(tier)s).") % {
                "days": days,
                "tier": tier,
            }
            moves.append(
                PoolMove(
                    customer=customer,
                    action=PoolMove.Action.RECYCLED,
                    from_owner_id=customer.owner_id,
                    reason=reason,
                    moved_at=now,
                )
            )
            tasks.append(
                Task(
                    customer=customer,
                    owner_id=customer.owner_id,
                    title=_("“%(name)s” went back to the customer pool") % {"name": customer.name},
                    notes=reason + " " + _("Claim it again from the pool if you are still working with them."),
                    due_date=today,
                    source=TASK_SOURCE,
                    created_at=now,
                )
            )
        _set_owner(locked, owner=None, actor=None, reason=REASON_RECYCLED, now=now)
        recycled += locked
    PoolMove.objects.bulk_create(moves, batch_size=CHUNK)
    Task.objects.bulk_create(tasks, batch_size=CHUNK)
    return {"recycled": len(recycled), "tasks": len(tasks)}


def owned_count(user) -> int:
    """Active customers the user owns: what the claim limit counts."""
    return Customer.objects.filter(owner=user, archived=False).count()


@transaction.atomic
def pool_claim(*, customer_id: int, actor) -> Customer:
    """Make `actor` the owner of a pool customer; refuse past the claim limit or when someone was quicker.

    The conditional UPDATE (owner still empty) decides between two reps claiming at once: the
    database serialises them on the row, and the second finds an owner and gets 0 rows."""
    if not can_claim(actor):
        raise PoolError(_("Only sales reps and sales managers can claim customers."))
    # Claims by one rep are serialised on their user row, so two tabs cannot both pass the limit.
    get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
    limit = rule().claim_limit
    owned = owned_count(actor)
    if owned >= limit:
        raise PoolError(
            _("You already own %(owned)s customers; the limit for claiming is %(limit)s. Release one first.")
            % {"owned": owned, "limit": limit}
        )
    now = timezone.now()
    won = Customer.objects.filter(pk=customer_id, owner__isnull=True, archived=False).update(
        owner=actor, version=F("version") + 1, updated_at=now
    )
    if not won:
        raise PoolError(_("Someone else claimed this customer a moment ago; it is no longer in the pool."))
    customer = Customer.objects.get(pk=customer_id)
    Customer.history.bulk_history_create(
        [customer], update=True, default_user=actor, default_change_reason=REASON_CLAIMED, default_date=now
    )
    PoolMove.objects.create(
        customer=customer, action=PoolMove.Action.CLAIMED, to_owner=actor, actor=actor, moved_at=now
    )
    return customer


@transaction.atomic
def pool_assign(*, customer_ids: list[int], rep, actor, reason: str = "") -> list[Customer]:
    """Hand pool customers to `rep` (a sales manager: a rep of their teams; an admin: anyone in sales).

    Returns the customers assigned; those claimed by someone meanwhile are left out."""
    if not assignable_reps(actor).filter(pk=rep.pk).exists():
        raise PoolError(_("You cannot assign customers to %(rep)s.") % {"rep": rep.get_full_name() or rep.username})
    locked = list(
        Customer.objects.select_for_update(of=("self",))
        .filter(pk__in=customer_ids, owner__isnull=True, archived=False)
        .order_by("pk")
    )
    if not locked:
        return []
    now = timezone.now()
    _set_owner(locked, owner=rep, actor=actor, reason=REASON_ASSIGNED, now=now)
    PoolMove.objects.bulk_create(
        [
            PoolMove(
                customer=c, action=PoolMove.Action.ASSIGNED, to_owner=rep, actor=actor, reason=reason, moved_at=now
            )
            for c in locked
        ]
    )
    return locked


@transaction.atomic
def pool_release(*, customer: Customer, actor, reason: str) -> Customer:
    """Put an owned customer back in the pool with a reason (its owner, their sales manager or an admin)."""
    reason = (reason or "").strip()
    if not reason:
        raise PoolError(_("Say why the customer goes back to the pool."))
    locked = Customer.objects.editable_by(actor).select_for_update(of=("self",)).filter(pk=customer.pk).first()
    if locked is None:
        raise PoolError(_("You cannot release this customer."))
    if locked.owner_id is None:
        raise PoolError(_("This customer is already in the pool."))
    now = timezone.now()
    from_owner_id = locked.owner_id
    _set_owner([locked], owner=None, actor=actor, reason=REASON_RELEASED, now=now)
    PoolMove.objects.create(
        customer=locked,
        action=PoolMove.Action.RELEASED,
        from_owner_id=from_owner_id,
        actor=actor,
        reason=reason[:255],
        moved_at=now,
    )
    return locked
