"""Analytics demo data for `seed_demo`: monthly inventory snapshots for the turnover rate, then the
grading and churn runs the dashboards show — month ends of the last half year and today, so that
tier movements, state changes and the churn history have something to compare.

`register_demo()` adds the step to `customers.demo_steps` (called from `AnalyticsConfig.ready`); it
runs after the sales and service steps, whose orders and survey answers it reads.
"""

import datetime
from decimal import Decimal

from django.utils import timezone

from customers.demo_steps import DemoContext, DemoStep, register
from customers.models import Customer
from sales.models import Product

from .models import InventorySnapshot
from .services.churn import detect_churn

HISTORY_MONTHS = 6
# Above this many customers (the bench), one run as of today: every past run is a full grading and fit.
HISTORY_CUSTOMERS = 20_000
SNAPSHOT_MONTHS = 12


def register_demo() -> None:
    register(DemoStep(key="analytics", run=run_demo, order=90))


def month_ends(today: datetime.date, months: int) -> list[datetime.date]:
    """The last days of the `months` months before today's month, oldest first."""
    ends, day = [], today.replace(day=1)
    for _n in range(months):
        day -= datetime.timedelta(days=1)
        ends.append(day)
        day = day.replace(day=1)
    return ends[::-1]


def run_demo(ctx: DemoContext) -> dict:
    """Inventory snapshots (first run), then the runs as of the month ends and today."""
    today = timezone.localdate(ctx.now)
    counts = {"inventory snapshots": write_snapshots(ctx, today) if ctx.first_run else 0}
    history = Customer.objects.count() <= HISTORY_CUSTOMERS
    dates = [*(month_ends(today, HISTORY_MONTHS) if history else []), today]
    for as_of in dates:
        churn_run = detect_churn(as_of=as_of)
    counts["grading runs"] = len(dates)
    counts["churn alerts"] = churn_run.counts.get("alerts_opened", 0)
    return counts


def write_snapshots(ctx: DemoContext, today: datetime.date) -> int:
    """Stock of every active product at each month end of the last year, valued at cost."""
    rng = ctx.rng
    rows = []
    for product in Product.objects.active().order_by("sku"):
        level = rng.randrange(40, 400)
        for day in month_ends(today, SNAPSHOT_MONTHS):
            level = max(5, round(level * rng.uniform(0.7, 1.3)))
            rows.append(
                InventorySnapshot(
                    product=product,
                    taken_on=day,
                    quantity=Decimal(level),
                    value_at_cost=(product.unit_cost * level).quantize(Decimal("0.01")),
                )
            )
    InventorySnapshot.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
