"""Arithmetic of the sales reports, with no database access: periods, funnel, rates, targets."""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")


def quarter_of(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """First and last day of the calendar quarter holding `day`."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = datetime.date(day.year, first_month, 1)
    return start, add_months(start, 3) - datetime.timedelta(days=1)


def add_months(first: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months` after the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def months_between(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """First days of every month that overlaps [start, end]."""
    month, last = start.replace(day=1), end.replace(day=1)
    months = []
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def percent(part, whole, places: str = "0.1") -> Decimal | None:
    """part / whole as a percentage rounded half-up, or None when `whole` is zero or missing."""
    if not whole:
        return None
    return (Decimal(part or 0) * 100 / Decimal(whole)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def money(value) -> Decimal:
    """A sum from the database (None for no rows, a float on SQLite) as a Decimal with 2 places."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FunnelStage:
    name: str
    count: int
    amount: Decimal
    conversion: Decimal | None  # share of the previous stage's opportunities that reached this one


def funnel(stages: list[tuple[str, int]], reached: list[tuple[int, int, object]]) -> list[FunnelStage]:
    """The funnel from the stages (name, position; lost stages left out) and, per furthest position
    reached, (position, opportunities, amount): a stage counts every opportunity that reached it or
    a later one."""
    rows, previous = [], None
    for name, position in sorted(stages, key=lambda s: s[1]):
        count = sum(n for pos, n, _amount in reached if pos is not None and pos >= position)
        amount = sum((money(a) for pos, _n, a in reached if pos is not None and pos >= position), ZERO)
        rows.append(FunnelStage(name, count, amount, None if previous is None else percent(count, previous)))
        previous = count
    return rows


def average_days(total_seconds, count) -> Decimal | None:
    """Mean length in days (one decimal) from a total in seconds over `count` items."""
    if not count:
        return None
    return (Decimal(str(total_seconds)) / count / 86400).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
