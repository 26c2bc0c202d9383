"""Due-time arithmetic for SLAs: a number of minutes after a start, by the clock or in business hours.

Pure (no ORM): the SLA service passes the policy's hours in, tests pass hand-worked datetimes.
Business hours are counted on the local wall clock of the start's time zone, so "09:00–18:00"
means nine to six where the company works, whatever zone the database keeps datetimes in.
"""

import datetime
from dataclasses import dataclass

# Enough to cross a year of public-holiday-free weekends; stops a bad calendar from looping forever.
_MAX_DAYS = 3660


@dataclass(frozen=True)
class BusinessHours:
    """Working days (ISO weekdays, Monday = 1) and the working day's start and end times."""

    day_starts: datetime.time
    day_ends: datetime.time
    working_days: frozenset[int]

    def __post_init__(self):
        if self.day_starts >= self.day_ends:
            raise ValueError("The business day must start before it ends.")
        if not self.working_days or not self.working_days <= set(range(1, 8)):
            raise ValueError("Working days must be ISO weekdays 1–7, at least one.")


def parse_working_days(text: str) -> frozenset[int]:
    """ "1,2,3,4,5" → {1, 2, 3, 4, 5}; blanks and values outside 1–7 are ignored."""
    days = set()
    for part in (text or "").split(","):
        part = part.strip()
        if part.isdigit() and 1 <= int(part) <= 7:
            days.add(int(part))
    return frozenset(days)


def add_minutes(
    start: datetime.datetime, minutes: int, *, hours: BusinessHours | None = None, tz: datetime.tzinfo | None = None
) -> datetime.datetime:
    """The moment `minutes` after `start`: by the clock, or counting only business hours when given.

    In business hours, a start outside them counts from the next opening; a due time that falls
    exactly on the close of a day stays there (not the next morning). `tz` is the zone whose wall
    clock the hours are read on (default: the start's own zone). The result is in that zone.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    if hours is None:
        return start + datetime.timedelta(minutes=minutes)
    zone = tz or start.tzinfo
    local = start.astimezone(zone).replace(tzinfo=None) if zone is not None else start
    remaining = datetime.timedelta(minutes=minutes)
    day = local.date()
    for _ in range(_MAX_DAYS):
        opens = datetime.datetime.combine(day, hours.day_starts)
        closes = datetime.datetime.combine(day, hours.day_ends)
        if day.isoweekday() in hours.working_days and local < closes:
            cursor = max(local, opens)
            available = closes - cursor
            if remaining <= available:
                due = cursor + remaining
                return due.replace(tzinfo=zone) if zone is not None else due
            remaining -= available
        day += datetime.timedelta(days=1)
        local = datetime.datetime.combine(day, datetime.time(0))
    raise ValueError("No working time found within ten years.")
