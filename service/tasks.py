"""Celery tasks of the service app: thin adapters over services."""

from celery import shared_task


@shared_task(name="service.tasks.send_survey_invitations", acks_late=True)
def send_survey_invitations(now: str | None = None) -> dict:
    """Write due survey invitations, email the unsent ones and remind once (hourly; safe to rerun)."""
    import datetime

    from customers.services import job_run

    from .services.surveys import survey_invite_due

    moment = datetime.datetime.fromisoformat(now) if now else None
    with job_run("send_survey_invitations") as run:
        counts = survey_invite_due(now=moment)
        run.count(**counts)
    return counts


@shared_task(name="service.tasks.escalate_tickets", acks_late=True)
def escalate_tickets(now: str | None = None) -> dict:
    """Raise tickets that breached or are about to breach their SLA one level (every few minutes; safe to rerun)."""
    import datetime

    from customers.services import job_run

    from .services.sla import ticket_escalate_due

    moment = datetime.datetime.fromisoformat(now) if now else None
    with job_run("escalate_tickets") as run:
        counts = ticket_escalate_due(now=moment)
        run.count(**counts)
    return counts
