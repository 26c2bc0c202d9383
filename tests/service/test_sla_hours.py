"""Due-time arithmetic, checked against hand-worked datetimes (no database)."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from service.sla_hours import BusinessHours, add_minutes, parse_working_days

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = BusinessHours(datetime.time(9), datetime.time(18), frozenset({1, 2, 3, 4, 5}))


def at(*args):
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def test_clock_minutes_ignore_business_hours():
    # Friday 2026-03-06 17:00 + 4 h = 21:00 the same evening.
    assert add_minutes(at(2026, 3, 6, 17, 0), 240) == at(2026, 3, 6, 21, 0)


def test_business_minutes_within_one_day():
    # Tuesday 10:00 + 2 h = 12:00.
    assert add_minutes(at(2026, 3, 3, 10, 0), 120, hours=OFFICE) == at(2026, 3, 3, 12, 0)


def test_business_minutes_carry_over_the_night():
    # Tuesday 17:00: one hour left today, three more from Wednesday 09:00 → Wednesday 12:00.
    assert add_minutes(at(2026, 3, 3, 17, 0), 240, hours=OFFICE) == at(2026, 3, 4, 12, 0)


def test_business_minutes_skip_the_weekend():
    # Friday 2026-03-06 16:30: 90 min left Friday, 150 min from Monday 09:00 → Monday 2026-03-09 11:30.
    assert add_minutes(at(2026, 3, 6, 16, 30), 240, hours=OFFICE) == at(2026, 3, 9, 11, 30)


def test_a_start_on_saturday_counts_from_monday_morning():
    assert add_minutes(at(2026, 3, 7, 11, 0), 60, hours=OFFICE) == at(2026, 3, 9, 10, 0)


def test_a_start_before_opening_counts_from_opening():
    assert add_minutes(at(2026, 3, 3, 7, 15), 30, hours=OFFICE) == at(2026, 3, 3, 9, 30)


def test_a_due_time_on_closing_stays_on_that_day():
    assert add_minutes(at(2026, 3, 3, 17, 0), 60, hours=OFFICE) == at(2026, 3, 3, 18, 0)


def test_several_working_days():
    # 3 business days = 27 h from Thursday 09:00: Thu 9 h, Fri 9 h, Mon 9 h → Monday 18:00.
    assert add_minutes(at(2026, 3, 5, 9, 0), 27 * 60, hours=OFFICE) == at(2026, 3, 9, 18, 0)


def test_hours_are_read_on_the_given_zone_wall_clock():
    # 01:00 UTC on Tuesday is 09:00 in Shanghai: one business hour later is 10:00 Shanghai.
    start = datetime.datetime(2026, 3, 3, 1, 0, tzinfo=datetime.UTC)
    assert add_minutes(start, 60, hours=OFFICE, tz=SHANGHAI) == at(2026, 3, 3, 10, 0)


def test_parse_working_days_ignores_junk():
    assert parse_working_days("1, 2,3,,9,x,7") == frozenset({1, 2, 3, 7})


def test_business_hours_refuse_an_inverted_day():
    with pytest.raises(ValueError):
        BusinessHours(datetime.time(18), datetime.time(9), frozenset({1}))
