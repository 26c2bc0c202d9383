"""Analytics for `make bench`: a million orders, the grading and churn jobs timed against the bare
aggregate over the orders (the floor), and the dashboards to time.

bench/run.py (after seeding) calls `ensure_orders()`, then `measure_jobs()`, and adds
`pages_for(user)` to the pages it times.

Targets (issue 5): grading in no more than about twice the floor, the churn fit under a minute,
dashboards under 150 ms median.
"""

import datetime
import statistics
import time

from bench.service import progress

ORDERS = 1_000_000
# The floor: what any grading must at least do, one pass grouping the orders by customer. The outer
# query reads every aggregate (PostgreSQL drops the ones nobody reads) without sending 100,000 rows.
FLOOR_SQL = """
    SELECT SUM(orders), SUM(amount), MAX(last_day) FROM (
        SELECT customer_id, COUNT(*) AS orders, SUM(amount) AS amount, MAX(ordered_at) AS last_day
        FROM sales_order WHERE status <> 'cancelled' AND ordered_at <= %s
        GROUP BY customer_id
    ) per_customer
"""


def ensure_orders(n: int = ORDERS, *, seed: str = "bench-analytics") -> dict:
    """Top the database up to `n` orders with the sales demo generator (more orders for random customers)."""
    import random

    from customers.models import Customer
    from sales import demo as sales_demo
    from sales.models import Order
    from service.demo import bench_context

    existing = Order.objects.count()
    if existing >= n:
        progress(f"{existing} orders already there; not adding")
        return {"existing": existing, "added": 0, "seconds": None}
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return {"existing": existing, "added": 0, "seconds": None}
    progress(f"Adding orders up to {n} (this database has {existing})")
    started = time.perf_counter()
    context = bench_context(seed=f"{seed}/{existing}")
    generator = sales_demo.SalesDemo(context, sales_demo.ensure_products(context, {}))
    rng = random.Random(seed)
    count, lines = existing, 0
    while count < n:  # a pass over every customer adds about as many orders as the demo seeded
        rng.shuffle(ids)
        for start in range(0, len(ids), 2000):
            added, added_lines = generator.write_orders(sorted(ids[start : start + 2000]))
            count, lines = count + added, lines + added_lines
            if count >= n:
                break
    seconds = time.perf_counter() - started
    progress(f"Added {count - existing} orders with {lines} lines in {seconds:.1f} s")
    return {"existing": existing, "added": count - existing, "seconds": seconds}


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def measure_jobs(as_of: datetime.date | None = None) -> dict:
    """Seconds of the floor aggregate (median of 3), the nightly grading (yesterday graded first, so
    that only what changed in a day is copied onto customers), a rerun of the same date, and the churn job."""
    from django.db import connection
    from django.utils import timezone

    from analytics.models import GradingRun
    from analytics.services.churn import detect_churn
    from analytics.services.grading import grade_customers

    as_of = as_of or timezone.localdate()
    yesterday = as_of - datetime.timedelta(days=1)
    # A nightly run meets a date with no run yet: earlier bench runs of these dates go first.
    GradingRun.objects.filter(as_of__in=[yesterday, as_of]).delete()
    floors = []
    for _n in range(3):
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(FLOOR_SQL, [as_of])
            cursor.fetchone()
            floors.append(time.perf_counter() - started)
    progress(f"Floor aggregate: {statistics.median(floors):.2f} s")
    progress("Grading as of yesterday (sets the customers' current grades)")
    grade_customers(as_of=yesterday)
    progress("Grading as of today (the nightly run)")
    nightly, nightly_seconds = _timed(grade_customers, as_of=as_of)
    progress(f"Nightly grading: {nightly_seconds:.2f} s; rerunning the same date")
    rerun, rerun_seconds = _timed(grade_customers, as_of=as_of)
    progress("Churn detection and CLV")
    churn, churn_seconds = _timed(detect_churn, as_of=as_of)
    return {
        "floor": statistics.median(floors),
        "nightly": nightly_seconds,
        "nightly_phases": nightly.counts.get("seconds", {}),
        "nightly_changed": nightly.counts.get("customers_changed"),
        "rerun": rerun_seconds,
        "customers": nightly.counts.get("customers"),
        "buyers": nightly.counts.get("buyers"),
        "churn": churn_seconds,
        "churn_counts": churn.counts,
        "bgnbd": (churn.bgnbd_r, churn.bgnbd_alpha, churn.bgnbd_a, churn.bgnbd_b, churn.bgnbd_converged),
    }


def report_lines(jobs: dict) -> list[str]:
    """The jobs' part of the bench report."""
    if not jobs:
        return []
    floor = jobs["floor"]
    phases = jobs["nightly_phases"]
    grading = phases["grades"] + phases["customers"]
    r, alpha, a, b, converged = jobs["bgnbd"]
    return [
        f"- Floor (bare `GROUP BY customer` over the counted orders, every aggregate read): **{floor:.2f} s** "
        "(median of 3; PostgreSQL runs it with parallel workers, which an INSERT … SELECT never gets).",
        f"- Nightly grading of {jobs['customers']:,} customers ({jobs['buyers']:,} buyers): grades written "
        f"{phases['grades']:.2f} s, current grades copied onto the {jobs['nightly_changed']:,} customers whose "
        f"grade changed since yesterday and state changes recorded {phases['customers']:.2f} s: "
        f"**{grading:.2f} s = {grading / floor:.1f}× the floor**. Then products bought together and the stored "
        f"dashboard figures {phases['associations_and_figures']:.2f} s; the whole job {phases['total']:.2f} s.",
        f"- Rerunning the same date (replacing its rows), whole job: {jobs['rerun']:.2f} s.",
        f"- Churn detection and CLV (BG/NBD and Gamma-Gamma fits, writes, alerts): **{jobs['churn']:.1f} s**; "
        f"BG/NBD r={r:.3g} alpha={alpha:.3g} a={a:.3g} b={b:.3g}, converged: {converged}.",
    ]


def pages_for(user) -> list[tuple[str, str, dict]]:
    """The analytics pages to time for `user`: the dashboards their role opens."""
    from analytics.views.base import DASHBOARD_ROLES, SATISFACTION_ROLES
    from customers import roles

    pages = []
    if roles.has_role(user, *DASHBOARD_ROLES):
        pages += [
            ("Customer pyramid", "/analytics/pyramid/", {}),
            ("Churn and CLV", "/analytics/churn/", {}),
            ("Graded customers: VIP", "/analytics/customers/", {"tier": "vip"}),
            ("Churn alerts", "/analytics/alerts/", {}),
            ("Product analysis", "/analytics/products/", {}),
        ]
    if roles.has_role(user, *SATISFACTION_ROLES):
        pages.append(("Satisfaction", "/analytics/satisfaction/", {}))
    return pages
