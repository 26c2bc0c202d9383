"""SLA targets of tickets and the escalation job that raises tickets breaching them."""

import datetime
import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import roles
from customers.models import Task

from .. import sla_hours
from ..models import SlaPolicy, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# A ticket is escalated when a due time is this close: 20% of its target, at most half an hour.
WARNING_SHARE = 0.2
WARNING_CAP = datetime.timedelta(minutes=30)
ESCALATION_TASK_SOURCE = "escalation"


def policy_for(*, priority: str, tier: str) -> SlaPolicy | None:
    """The active policy for a priority and customer tier: the tier's own before the any-tier one."""
    candidates = SlaPolicy.objects.filter(active=True, priority=priority).filter(Q(tier=tier) | Q(tier=""))
    # Tier-specific ("vip") sorts before blank only in descending order.
    return candidates.order_by("-tier").first() if tier else candidates.filter(tier="").first()


def due_times(policy: SlaPolicy | None, start: datetime.datetime) -> tuple[datetime.datetime | None, ...]:
    """(first response due, resolution due) for a ticket opened at `start` under `policy`."""
    if policy is None:
        return None, None
    hours = None
    if policy.business_hours_only:
        days = sla_hours.parse_working_days(policy.working_days)
        if days:
            hours = sla_hours.BusinessHours(policy.day_starts, policy.day_ends, days)
    zone = timezone.get_current_timezone()
    return (
        sla_hours.add_minutes(start, policy.first_response_minutes, hours=hours, tz=zone),
        sla_hours.add_minutes(start, policy.resolution_minutes, hours=hours, tz=zone),
    )


def apply_policy(ticket: Ticket, *, tier: str) -> None:
    """Set the ticket's policy and due times from its priority, counted from its creation (not saved)."""
    ticket.sla_policy = policy_for(priority=ticket.priority, tier=tier)
    ticket.first_response_due, ticket.resolution_due = due_times(ticket.sla_policy, ticket.created_at)


def warning_margin(created_at: datetime.datetime, due: datetime.datetime) -> datetime.timedelta:
    """How long before `due` a ticket counts as about to breach: 20% of its target, at most 30 minutes."""
    return min(max(due - created_at, datetime.timedelta(0)) * WARNING_SHARE, WARNING_CAP)


def _about_to_breach(ticket: Ticket, now: datetime.datetime) -> bool:
    dues = [ticket.resolution_due]
    if ticket.first_responded_at is None:
        dues.append(ticket.first_response_due)
    return any(due is not None and due - warning_margin(ticket.created_at, due) <= now for due in dues)


def _recipients(level: int, ticket: Ticket, supervisors: list, managers: list) -> list:
    if level == Ticket.EscalationLevel.SUPERVISOR and ticket.team_id and ticket.team.manager_id:
        return [ticket.team.manager]
    return supervisors if level == Ticket.EscalationLevel.SUPERVISOR else managers


def _escalate(ticket: Ticket, level: int, now: datetime.datetime, recipients: list) -> bool:
    """Raise one ticket to `level` unless another run already did; True when this run did."""
    with transaction.atomic():
        # Compare-and-set on the level, then the unique event: overlapping runs raise a level once.
        raised = Ticket.objects.filter(pk=ticket.pk, escalation_level=level - 1).update(
            escalation_level=level, updated_at=now
        )
        if not raised:
            return False
        try:
            with transaction.atomic():
                TicketEvent.objects.create(
                    ticket=ticket,
                    kind=TicketEvent.Kind.ESCALATED,
                    from_value=str(level - 1),
                    to_value=str(level),
                    body=str(Ticket.EscalationLevel(level).label),
                    created_at=now,
                )
        except IntegrityError:
            # The level was recorded before (e.g. the level was lowered by hand): do not notify twice.
            return False
        title = _("Escalated ticket %(number)s: %(subject)s") % {"number": ticket.number, "subject": ticket.subject}
        notes = _("SLA breached or about to breach. Resolution due %(due)s.") % {
            "due": timezone.localtime(ticket.resolution_due).strftime("%Y-%m-%d %H:%M")
            if ticket.resolution_due
            else "—"
        }
        Task.objects.bulk_create(
            Task(
                owner=user,
                title=title[:200],
                notes=notes,
                due_date=timezone.localdate(now),
                customer_id=ticket.customer_id,
                source=ESCALATION_TASK_SOURCE,
                created_at=now,
            )
            for user in recipients
        )
    return True


def ticket_escalate_due(*, now: datetime.datetime | None = None) -> dict:
    """Raise open tickets that breached or are about to breach their SLA by one level (0 → supervisor,
    1 → manager once the resolution is overdue), with an ESCALATED event and a Task for whoever must act.

    Idempotent: each level is raised once per ticket, so a rerun at the same moment changes nothing.
    Returns counts: {"checked": candidates read, "supervisor": n raised to 1, "manager": n raised to 2}.
    """
    now = now or timezone.now()
    open_tickets = Ticket.objects.open().select_related("team__manager")
    # One set-based read each: the warning margin is at most WARNING_CAP, so nothing later can qualify.
    horizon = now + WARNING_CAP
    level_one = list(
        open_tickets.filter(escalation_level=Ticket.EscalationLevel.NONE).filter(
            Q(first_responded_at__isnull=True, first_response_due__lte=horizon) | Q(resolution_due__lte=horizon)
        )
    )
    level_one = [ticket for ticket in level_one if _about_to_breach(ticket, now)]
    # Read before any ticket is raised, so that no ticket climbs two levels in one run.
    level_two = list(open_tickets.filter(escalation_level=Ticket.EscalationLevel.SUPERVISOR, resolution_due__lt=now))
    users = get_user_model().objects.filter(is_active=True).order_by("pk")
    supervisors = list(users.filter(groups__name=roles.SERVICE_SUPERVISOR).distinct()) if level_one else []
    managers = list(users.filter(groups__name=roles.MANAGER).distinct()) if level_two else []
    counts = {"checked": len(level_one) + len(level_two), "supervisor": 0, "manager": 0}
    for ticket in level_one:
        recipients = _recipients(Ticket.EscalationLevel.SUPERVISOR, ticket, supervisors, managers)
        if _escalate(ticket, Ticket.EscalationLevel.SUPERVISOR, now, recipients):
            counts["supervisor"] += 1
    for ticket in level_two:
        if _escalate(ticket, Ticket.EscalationLevel.MANAGER, now, managers):
            counts["manager"] += 1
    if counts["supervisor"] or counts["manager"]:
        logger.info("Escalated tickets: %s", counts)
    return counts
