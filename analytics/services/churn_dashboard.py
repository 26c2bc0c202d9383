"""Figures of the churn dashboard, from one grading run's grades and its churn run.

`churn_figures(run, grades)` is the compute function of `summaries.scoped_figures` (key "churn",
stored per scope by the churn job): JSON-safe values only, a constant number of queries
whatever the number of grades.

Churn rate by month (the definition the page states): a buyer churns on the first day their
silence exceeds the silence rule's limit, i.e. `last_purchase + floor(limit) + 1`, where
limit = max(k × own mean inter-purchase interval, churn_min_days) days (customers with one purchase
occasion: churn_min_days) — the same test by which the grading job judges a customer lost. A
month's rate is the buyers who churned in that month over the buyers active at its start (first
purchase before the month, not churned before it). It is read from the run's grades, so it knows
each customer's purchases only up to the run's date: a customer who went silent and later came back
before that date is not counted as churned in the months of their silence.
"""

import datetime
import math
from bisect import bisect_right
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When

from customers.models import Customer

from ..models import GradingRun, StateTransition

KEY = "churn"
# Rows of the at-risk table; the full list is the grade list filtered by risk.
AT_RISK_LIMIT = 50
AT_RISK = (Customer.ChurnRisk.HIGH, Customer.ChurnRisk.MEDIUM)
RISK_LEVELS = (Customer.ChurnRisk.HIGH, Customer.ChurnRisk.MEDIUM, Customer.ChurnRisk.LOW)
MONTHS = 12
# P(alive) histogram: ten bins of 0.1; a value on an edge belongs to the bin above it ([0.1, 0.2)),
# 1.0 to the last bin. Edges are i / 10, the same floats as the literals 0.1 … 0.9.
BIN_EDGES = [i / 10 for i in range(1, 10)]


def churn_figures(run: GradingRun, grades, user=None) -> dict:
    """The churn dashboard's figures over `grades` (the run's grades a reader may see); four queries."""
    grades = grades.order_by()
    return {
        "at_risk": _at_risk(grades),
        "risk_totals": _risk_totals(grades),
        **_by_customer_pass(run, grades),
        "transitions": _transitions(run, grades),
    }


def _float(value) -> float:
    return float(value) if value is not None else 0.0


def _at_risk(grades) -> list[dict]:
    """The high-risk, then medium-risk customers with most value at risk (one query)."""
    rank = Case(When(churn_risk=Customer.ChurnRisk.HIGH, then=Value(0)), default=Value(1), output_field=IntegerField())
    rows = (
        grades.filter(churn_risk__in=AT_RISK)
        .annotate(risk_rank=rank)
        .order_by("risk_rank", "-value", "customer_id")
        .values(
            "customer_id",
            "customer__name",
            "customer__owner__username",
            "customer__owner__first_name",
            "customer__owner__last_name",
            "churn_risk",
            "p_alive",
            "value",
            "clv",
            "churn_reasons",
        )[:AT_RISK_LIMIT]
    )
    return [
        {
            "customer_id": row["customer_id"],
            "name": row["customer__name"],
            "owner": _person(
                row["customer__owner__username"], row["customer__owner__first_name"], row["customer__owner__last_name"]
            ),
            "churn_risk": row["churn_risk"],
            "p_alive": row["p_alive"],
            "value": _float(row["value"]),
            "clv": None if row["clv"] is None else float(row["clv"]),
            "reasons": list(row["churn_reasons"] or []),
        }
        for row in rows
    ]


def _person(username, first_name, last_name) -> str:
    full = f"{first_name or ''} {last_name or ''}".strip()
    return full or username or ""


def _risk_totals(grades) -> list[dict]:
    """Customers and value at risk per risk level, high first (one query)."""
    rows = {
        row["churn_risk"]: row
        for row in grades.filter(churn_risk__in=RISK_LEVELS)
        .values("churn_risk")
        .annotate(customers=Count("pk"), value=Sum("value"))
    }
    return [
        {
            "churn_risk": risk.value,
            "customers": rows.get(risk, {}).get("customers", 0),
            "value": _float(rows.get(risk, {}).get("value")),
        }
        for risk in RISK_LEVELS
    ]


def month_starts(as_of: datetime.date, count: int = MONTHS) -> list[datetime.date]:
    """The first days of the `count` months up to and including the month of `as_of`, oldest first."""
    starts = []
    year, month = as_of.year, as_of.month
    for _ in range(count):
        starts.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def churn_rule(run: GradingRun) -> tuple[float, int]:
    """(k, churn_min_days) of the silence rule as the run used it (its snapshot, else its rule)."""
    snapshot = run.rule_snapshot or {}
    k = snapshot.get("churn_interval_multiple")
    floor = snapshot.get("churn_min_days")
    if k is None or floor is None:
        rule = run.rule
        k = rule.churn_interval_multiple if k is None else k
        floor = rule.churn_min_days if floor is None else floor
    return float(Decimal(str(k))), int(floor)


def churn_day(first: datetime.date, last: datetime.date, occasions: int, *, k: float, floor: int) -> datetime.date:
    """The first day on which a buyer's silence exceeds the silence rule's limit."""
    limit = float(floor)
    if occasions > 1:
        # The same arithmetic as the grading job's SQL: k × span / (occasions − 1), at least the floor.
        own = k * (last - first).days / (occasions - 1)
        limit = max(own, limit)
    return last + datetime.timedelta(days=math.floor(limit) + 1)


def _month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def _by_customer_pass(run: GradingRun, grades) -> dict:
    """Churn rate by month and the P(alive) histogram, in one pass over the buyers (one query)."""
    k, floor = churn_rule(run)
    starts = month_starts(run.as_of)
    base = _month_index(starts[0])
    # Month i counts a buyer as active when first < start_i <= churn day, i.e. for the months after
    # the first purchase's month up to the churn day's month: a difference array keeps this O(n).
    active_delta = [0] * (MONTHS + 1)
    churned = [0] * MONTHS
    bins = [0] * (len(BIN_EDGES) + 1)
    rows = (
        grades.filter(Q(first_purchase__isnull=False) | Q(p_alive__isnull=False))
        .values_list("first_purchase", "last_purchase", "occasions", "p_alive")
        .iterator(chunk_size=5000)
    )
    for first, last, occasions, p_alive in rows:
        if p_alive is not None:
            bins[bisect_right(BIN_EDGES, p_alive)] += 1
        if first is None or last is None:
            continue
        gone = churn_day(first, last, max(occasions, 1), k=k, floor=floor)
        from_month = max(_month_index(first) + 1 - base, 0)
        to_month = min(_month_index(gone) - base, MONTHS - 1)
        if from_month > to_month:
            continue
        active_delta[from_month] += 1
        active_delta[to_month + 1] -= 1
        if gone <= run.as_of and _month_index(gone) - base == to_month:
            churned[to_month] += 1
    active, running = [], 0
    for delta in active_delta[:MONTHS]:
        running += delta
        active.append(running)
    churn_rate = [
        {
            "month": start.strftime("%Y-%m"),
            "active": active[i],
            "churned": churned[i],
            "rate": churned[i] / active[i] if active[i] else None,
        }
        for i, start in enumerate(starts)
    ]
    lows = [0.0, *BIN_EDGES]
    highs = [*BIN_EDGES, 1.0]
    p_alive_bins = [{"low": lows[i], "high": highs[i], "count": bins[i]} for i in range(len(bins))]
    return {"churn_rate": churn_rate, "p_alive_bins": p_alive_bins, "scored": sum(bins)}


def year_before(day: datetime.date) -> datetime.date:
    """The same day a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _transitions(run: GradingRun, grades) -> dict:
    """Customers lost and won back in this run and in the 12 months up to it (one query)."""
    since = year_before(run.as_of)
    lost = Q(to_state=Customer.State.LOST)
    won_back = Q(from_state=Customer.State.LOST)
    this_run = Q(run=run)
    counts = StateTransition.objects.filter(
        customer_id__in=grades.values("customer_id"), as_of__gt=since, as_of__lte=run.as_of
    ).aggregate(
        run_lost=Count("pk", filter=this_run & lost),
        run_won_back=Count("pk", filter=this_run & won_back),
        year_lost=Count("pk", filter=lost),
        year_won_back=Count("pk", filter=won_back),
    )
    return {
        "since": since.isoformat(),
        "run": {"lost": counts["run_lost"], "won_back": counts["run_won_back"]},
        "year": {"lost": counts["year_lost"], "won_back": counts["year_won_back"]},
    }
