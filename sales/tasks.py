"""Celery tasks of the sales app: thin adapters over services."""

import datetime

from celery import shared_task

from customers.services import job_run

from .services.pool import pool_recycle


@shared_task(name="sales.tasks.recycle_customer_pool", acks_late=True)
def recycle_customer_pool(today: str | None = None) -> dict:
    """Return idle customers to the pool (daily); `today` is an ISO date, default today."""
    as_of = datetime.date.fromisoformat(today) if today else None
    with job_run("recycle_customer_pool", as_of=as_of) as run:
        counts = pool_recycle(today=as_of)
        run.count(**counts)
    return counts


@shared_task(name="sales.tasks.run_order_import", acks_late=True)
def run_order_import(import_job_id: int) -> None:
    """Process an uploaded order file, reporting progress on its ImportJob."""
    from .importing import run_order_import_job

    run_order_import_job(import_job_id)
