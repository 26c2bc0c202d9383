"""Celery tasks of analytics: thin wrappers over the services (schedules in settings)."""

import datetime

from celery import shared_task
from django.utils import timezone

from customers.services import job_run


def _date(as_of: str | None) -> datetime.date:
    return datetime.date.fromisoformat(as_of) if as_of else timezone.localdate()


@shared_task(name="analytics.tasks.grade_customers", acks_late=True)
def grade_customers(as_of: str | None = None) -> dict:
    """Nightly grading: RFM, tier, state and lifecycle of every customer."""
    from .services.grading import grade_customers as grade

    day = _date(as_of)
    with job_run("grade_customers", as_of=day) as recorder:
        run = grade(as_of=day)
        recorder.count(customers=run.counts["customers"], buyers=run.counts["buyers"])
    return run.counts


@shared_task(name="analytics.tasks.detect_churn", acks_late=True)
def detect_churn(as_of: str | None = None) -> dict:
    """Nightly churn detection and CLV, after grading (grades first when that date has no run)."""
    from .services.churn import detect_churn as detect

    day = _date(as_of)
    with job_run("detect_churn", as_of=day) as recorder:
        run = detect(as_of=day)
        recorder.count(**{k: v for k, v in run.counts.items() if type(v) is int})
    return run.counts
