"""Month arithmetic and month-over-month figures for the service reports (pure: no database)."""

import datetime
import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __str__(self):
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> datetime.date:
        return datetime.date(self.year, self.month, 1)

    def shift(self, months: int) -> "Month":
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)


def last_full_month(today: datetime.date) -> Month:
    """The month before the one `today` is in: the report managers discuss at the start of a month."""
    return Month(today.year, today.month).shift(-1)


def parse_month(text: str | None, *, today: datetime.date) -> Month:
    """`YYYY-MM` from the month picker; anything else (or a month not yet begun) gives the last full month."""
    match = _MONTH.match((text or "").strip())
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and year >= 2000 and Month(year, month) <= Month(today.year, today.month):
            return Month(year, month)
    return last_full_month(today)


def change(current: float | int | None, previous: float | int | None) -> dict:
    """The difference and the relative change in percent (None when there is nothing to compare with)."""
    if current is None or previous is None:
        return {"delta": None, "percent": None}
    delta = current - previous
    percent = round(100 * delta / previous, 1) if previous else None
    return {"delta": delta, "percent": percent}


def percent(part: int, whole: int) -> float | None:
    """Share in percent, one decimal; None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None


def hours(duration: datetime.timedelta | None) -> float | None:
    """A duration in hours, one decimal."""
    return None if duration is None else round(duration.total_seconds() / 3600, 1)
