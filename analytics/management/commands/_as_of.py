"""The `--as-of YYYY-MM-DD` option the analytics commands share."""

import datetime

from django.core.management.base import CommandError
from django.utils import timezone


def add_as_of(parser) -> None:
    parser.add_argument("--as-of", metavar="YYYY-MM-DD", help="the date to compute as of (default: today)")


def parse_as_of(value: str | None) -> datetime.date:
    """The date asked for, today when absent; a CommandError for a bad or future date."""
    today = timezone.localdate()
    if not value:
        return today
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value}: not a date (YYYY-MM-DD)") from None
    if day > today:
        raise CommandError(f"--as-of {value}: in the future (today is {today})")
    return day
