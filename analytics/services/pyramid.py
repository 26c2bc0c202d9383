"""The customer pyramid dashboard's figures: tiers, movement between runs, state changes, the
Pareto curve, the RFM heatmap and the segment sizes — all from one compute function.

`pyramid_figures(run, grades)` takes the grades of `run` a reader may see and returns JSON-safe
figures keyed by codes (tier, segment, state keys), never by translated names: the job stores the
everyone-scope result once (`summaries_store`), and each page names the keys in its own language.
It runs a constant number of queries (at most seven), aggregating in SQL, whatever the number of
customers.
"""

from django.db import connections
from django.db.models import Avg, Count, F, Q, RowRange, Sum, Window
from django.db.models.functions import RowNumber

from customers.models import Customer

from ..models import CustomerGrade, GradingRun, StateTransition

TIERS = [code for code, _label in Customer.Tier.choices]
# Rows and columns of the movement matrix besides the tiers.
NEW = "new"
NO_TIER = "none"
MOVEMENT_FROM = [*TIERS, NO_TIER, NEW]
MOVEMENT_TO = [*TIERS, NO_TIER]
STATES = [code for code, _label in Customer.State.choices]
# The Pareto curve is sampled at each whole percent of customers (at most 101 points).
PARETO_STEPS = 100
HEADLINE_PERCENT = 20


def _share(part, whole):
    """`part` as a fraction of `whole`; None when the whole is not positive (no meaningful share)."""
    return float(part) / float(whole) if whole and whole > 0 else None


def previous_run(run: GradingRun) -> GradingRun | None:
    """The latest succeeded run with an earlier as-of date than `run` (one query)."""
    return GradingRun.objects.succeeded().filter(as_of__lt=run.as_of).order_by("-as_of").first()


def _tiers(grades) -> tuple[list[dict], dict]:
    """Counts and value per tier, and the totals of all graded customers (one query)."""
    rows = (
        grades.order_by()
        .values("tier")
        .annotate(customers=Count("pk"), buyers=Count("pk", filter=Q(frequency__gt=0)), value=Sum("value"))
    )
    by_tier = {row["tier"]: row for row in rows}
    ranked = [by_tier.get(tier, {"customers": 0, "value": 0}) for tier in TIERS]
    ranked_customers = sum(row["customers"] for row in ranked)
    ranked_value = sum((row["value"] or 0) for row in ranked)
    tiers = [
        {
            "tier": tier,
            "customers": row["customers"],
            "customer_share": _share(row["customers"], ranked_customers),
            "value": float(row["value"] or 0),
            "value_share": _share(row["value"] or 0, ranked_value),
        }
        for tier, row in zip(TIERS, ranked, strict=True)
    ]
    totals = {
        "customers": sum(row["customers"] for row in by_tier.values()),
        "buyers": sum(row["buyers"] for row in by_tier.values()),
        "ranked": ranked_customers,
        "value": float(ranked_value),
    }
    return tiers, totals


def _movement(run: GradingRun, grades) -> dict:
    """From-tier × to-tier counts of the visible customers since the previous run (two queries)."""
    previous = previous_run(run)
    if previous is None:
        return {"previous_as_of": None, "counts": {}}
    # A join, not a correlated subquery per customer: the ORM cannot join two runs' grades (the
    # customer has no reverse relation to them), and a subquery per row took 1 s at 50,000 customers
    # on PostgreSQL against 0.05 s for the hash join. The visible grades stay an ORM subquery.
    current, params = (
        grades.order_by().annotate(now_customer=F("customer_id"), now_tier=F("tier")).values("now_customer", "now_tier")
    ).query.sql_with_params()
    database = connections[grades.db]
    table = database.ops.quote_name(CustomerGrade._meta.db_table)
    sql = (
        f"SELECT earlier.tier, graded.now_tier, COUNT(*) FROM ({current}) graded "  # noqa: S608 (no user input)
        f"LEFT JOIN {table} earlier ON earlier.customer_id = graded.now_customer AND earlier.run_id = %s "
        "GROUP BY earlier.tier, graded.now_tier"
    )
    with database.cursor() as cursor:
        cursor.execute(sql, [*params, previous.pk])
        rows = cursor.fetchall()
    counts = {source: dict.fromkeys(MOVEMENT_TO, 0) for source in MOVEMENT_FROM}
    for earlier, now, customers in rows:
        # No row in the earlier run (NULL from the outer join): the customer is new.
        source = NEW if earlier is None else (earlier or NO_TIER)
        counts[source][now or NO_TIER] += customers
    return {"previous_as_of": previous.as_of.isoformat(), "counts": counts}


def _transitions(run: GradingRun, grades) -> list[dict]:
    """Counts of the run's state changes among the visible customers (one query)."""
    rows = (
        StateTransition.objects.filter(run=run, customer_id__in=grades.order_by().values("customer_id"))
        .order_by()
        .values("from_state", "to_state")
        .annotate(customers=Count("pk"))
    )
    order = {state: index for index, state in enumerate(STATES)}
    found = [
        {
            "from": row["from_state"],
            "to": row["to_state"],
            "customers": row["customers"],
            "won_back": row["from_state"] == Customer.State.LOST,
        }
        for row in rows
    ]
    return sorted(found, key=lambda row: (order.get(row["to"], 99), order.get(row["from"], 99)))


def pareto_positions(ranked: int) -> list[int]:
    """How many of the `ranked` customers (best first) each point of the curve covers: the nearest
    whole number to k % of them for k = 0…100, each once."""
    return sorted({(k * ranked + PARETO_STEPS // 2) // PARETO_STEPS for k in range(PARETO_STEPS + 1)})


def _pareto(grades, ranked: int, total_value: float) -> dict:
    """The 80/20 curve: share of customers by value, highest first, against the cumulative share of
    value; only the ≤ 101 sampled rows leave the database (one query)."""
    headline_customers = (HEADLINE_PERCENT * ranked + PARETO_STEPS // 2) // PARETO_STEPS
    if not ranked:
        return {"points": [], "headline_customers": 0, "headline_share": None}
    positions = pareto_positions(ranked)
    order = [F("value").desc(), F("pk").asc()]
    rows = (
        grades.exclude(tier="")
        .order_by()
        .annotate(
            position=Window(RowNumber(), order_by=order),
            # ROWS, not the default RANGE: customers of equal value are still counted one by one.
            cumulative=Window(Sum("value"), order_by=order, frame=RowRange(start=None, end=0)),
        )
        .filter(position__in=[p for p in positions if p])
        .values_list("position", "cumulative")
    )
    cumulative = {0: 0.0, **{position: float(value) for position, value in rows}}
    points = [
        {
            "customers": position,
            "customer_share": position / ranked,
            "value_share": _share(cumulative[position], total_value) if position else 0.0,
        }
        for position in positions
    ]
    headline = next(point for point in points if point["customers"] == headline_customers)
    return {"points": points, "headline_customers": headline_customers, "headline_share": headline["value_share"]}


def _heatmap(grades) -> list[dict]:
    """Per R × F cell of the buyers: how many, their average monetary amount and M score (one query)."""
    rows = (
        grades.filter(r__isnull=False, f__isnull=False)
        .order_by()
        .values("r", "f")
        .annotate(customers=Count("pk"), avg_monetary=Avg("monetary"), avg_m=Avg("m"))
    )
    return sorted(
        (
            {
                "r": row["r"],
                "f": row["f"],
                "customers": row["customers"],
                "avg_monetary": float(row["avg_monetary"] or 0),
                "avg_m": float(row["avg_m"]) if row["avg_m"] is not None else None,
            }
            for row in rows
        ),
        key=lambda cell: (-cell["r"], cell["f"]),
    )


def _segments(grades) -> list[dict]:
    """Customers and value per segment among the buyers (one query)."""
    rows = grades.buyers().order_by().values("segment").annotate(customers=Count("pk"), value=Sum("value"))
    return sorted(
        ({"segment": row["segment"], "customers": row["customers"], "value": float(row["value"] or 0)} for row in rows),
        key=lambda row: (-row["customers"], row["segment"]),
    )


def pyramid_figures(run: GradingRun, grades, user=None) -> dict:
    """Every figure of the pyramid dashboard over `grades` (the run's grades a reader may see); JSON-safe."""
    tiers, totals = _tiers(grades)
    return {
        "as_of": run.as_of.isoformat(),
        "totals": totals,
        "tiers": tiers,
        "movement": _movement(run, grades),
        "transitions": _transitions(run, grades),
        "pareto": _pareto(grades, totals["ranked"], totals["value"]),
        "heatmap": _heatmap(grades),
        "segments": _segments(grades),
    }
