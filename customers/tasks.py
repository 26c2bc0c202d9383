"""Celery tasks of the customers app: thin adapters over services."""

import datetime

from celery import shared_task

from . import importing, services


@shared_task(name="customers.tasks.summarise_overdue_tasks", acks_late=True)
def summarise_overdue_tasks(today: str | None = None) -> dict:
    """Record how many follow-up tasks are overdue (the heartbeat job shown on the jobs page)."""
    as_of = datetime.date.fromisoformat(today) if today else None
    with services.job_run("summarise_overdue_tasks", as_of=as_of) as run:
        counts = services.overdue_task_summary(today=as_of)
        run.count(**counts)
    return counts


@shared_task(name="customers.tasks.run_customer_import", acks_late=True)
def run_customer_import(import_job_id: int) -> None:
    """Process an uploaded customer file, reporting progress on its ImportJob."""
    importing.run_import_job(import_job_id)
