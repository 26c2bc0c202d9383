"""Human-friendly, unique document numbers: `SO-2026-000123`, `T-2026-000042`."""

from django.db import transaction
from django.utils import timezone

from ..models import Sequence


@transaction.atomic
def next_number(prefix: str, *, year: int | None = None) -> str:
    """The next number for `prefix` in `year` (default: this year); two callers never get the same one."""
    year = year or timezone.localdate().year
    Sequence.objects.get_or_create(prefix=prefix, year=year)
    # The row lock serialises concurrent callers (PostgreSQL); SQLite serialises writers anyway.
    sequence = Sequence.objects.select_for_update().get(prefix=prefix, year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"{prefix}-{year}-{sequence.last:06d}"
