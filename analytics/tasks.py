"""Celery tasks of analytics: thin wrappers over the services (schedules in settings)."""

import datetime

from celery import shared_task


def _date(as_of: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(as_of) if as_of else None


@shared_task(name="analytics.tasks.grade_customers", acks_late=True)
def grade_customers(as_of: str | None = None) -> dict:
    """Nightly grading: RFM, tier, state and lifecycle of every customer."""
    from django.utils import timezone

    from .services.grading import grade_customers as grade

    run = grade(as_of=_date(as_of) or timezone.localdate())
    return run.counts


@shared_task(name="analytics.tasks.detect_churn", acks_late=True)
def detect_churn(as_of: str | None = None) -> dict:
    """Nightly churn detection and CLV, after grading (grades first when that date has no run)."""
    from django.utils import timezone

    from .services.churn import detect_churn as detect

    run = detect(as_of=_date(as_of) or timezone.localdate())
    return run.counts
