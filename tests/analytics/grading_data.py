"""Orders for grading tests, and a second, deliberately simple implementation of DESIGN.md's
grading definitions that the SQL of the grading job is checked against."""

import datetime
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from sales.models import Order

_numbers = itertools.count(1)


def buy(customer, day: datetime.date, amount, cost=0, *, status=Order.Status.CONFIRMED) -> Order:
    """One order of `customer` on `day` (amounts as given; the grading reads the order totals)."""
    return Order.objects.create(
        number=f"SO-GRADE-{next(_numbers):07d}",
        customer=customer,
        owner=customer.owner,
        status=status,
        ordered_at=day,
        amount=Decimal(str(amount)),
        cost=Decimal(str(cost)),
    )


@dataclass
class Expected:
    occasions: int = 0
    first: datetime.date | None = None
    last: datetime.date | None = None
    recency: int | None = None
    frequency: int = 0
    monetary: Decimal = Decimal(0)
    profit: Decimal = Decimal(0)
    r: int | None = None
    f: int | None = None
    m: int | None = None
    tier: str = ""
    state: str = "potential"
    lifecycle: str = "exploration"
    extra: dict = field(default_factory=dict)


def expected_grades(orders, customer_ids, as_of, *, n_scores=5, lookback=None, shares=(1, 4, 15), rule=None):
    """Every customer's grade by the book, from (customer_id, day, amount, cost, status) tuples.

    Loops and dictionaries only: counts "strictly worse" customers one pair at a time."""
    days = {}  # customer -> {day: [amount, profit]}
    for customer_id, day, amount, cost, status in orders:
        if status == Order.Status.CANCELLED or day > as_of:
            continue
        entry = days.setdefault(customer_id, {}).setdefault(day, [Decimal(0), Decimal(0)])
        entry[0] += Decimal(str(amount))
        entry[1] += Decimal(str(amount)) - Decimal(str(cost))
    result = {cid: Expected() for cid in customer_ids}
    for cid, by_day in days.items():
        e = result[cid]
        e.occasions, e.first, e.last = len(by_day), min(by_day), max(by_day)
        window = {d: v for d, v in by_day.items() if lookback is None or (as_of - d).days < lookback}
        if window:
            e.recency = (as_of - max(window)).days
            e.frequency = len(window)
            e.monetary = sum(v[0] for v in window.values())
            e.profit = sum(v[1] for v in window.values())
    buyers = [cid for cid, e in result.items() if e.frequency]
    n = len(buyers)
    for cid in buyers:
        e = result[cid]
        r_worse = sum(1 for o in buyers if result[o].recency > e.recency)
        f_worse = sum(1 for o in buyers if result[o].frequency < e.frequency)
        m_worse = sum(1 for o in buyers if result[o].monetary < e.monetary)
        better = sum(1 for o in buyers if result[o].profit > e.profit)
        e.r, e.f, e.m = (1 + (n_scores * b) // n for b in (r_worse, f_worse, m_worse))
        cumulative = [sum(shares[: i + 1]) for i in range(3)]
        e.tier = next(
            (t for t, c in zip(("vip", "key", "ordinary"), cumulative, strict=True) if better / n < c / 100),
            "small",
        )
    if rule is not None:
        for cid, by_day in days.items():
            e = result[cid]
            e.state, e.lifecycle = _state_and_stage(sorted(by_day.items()), as_of, rule)
    return result


def _state_and_stage(occasions, as_of, rule):
    first, last, count = occasions[0][0], occasions[-1][0], len(occasions)
    silent = (as_of - last).days
    limit = rule.churn_min_days
    if count > 1:
        limit = max(float(rule.churn_interval_multiple) * (last - first).days / (count - 1), rule.churn_min_days)
    lost = silent > limit
    recent = sum(1 for d, _v in occasions if (as_of - d).days < 365)
    if lost:
        state = "lost"
    elif count == 1:
        state = "first_time"
    elif recent >= rule.loyal_min_occasions and silent <= rule.loyal_max_recency_days:
        state = "loyal"
    else:
        state = "repeat"
    period = rule.spend_period_days
    last_spend = sum(v[0] for d, v in occasions if (as_of - d).days < period)
    previous_spend = sum(v[0] for d, v in occasions if period <= (as_of - d).days < 2 * period)
    tenure = (as_of - first).days
    if lost or (previous_spend > 0 and last_spend < previous_spend * (1 - rule.decline_share)):
        stage = "decline"
    elif tenure < rule.exploration_days:
        stage = "exploration"
    elif tenure >= rule.stability_days:
        stage = "stability"
    else:
        stage = "formation"
    return state, stage
