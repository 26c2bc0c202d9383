"""Writes of tickets: create, assign, move through the workflow, reply, note, edit.

Every change that matters to the customer or the team is recorded as a TicketEvent (who, when,
from what to what): the ticket's timeline and the complaint report read them.
"""

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Contact, Customer, Team
from sales.services.numbers import next_number

from ..models import Ticket, TicketAssignmentRule, TicketEvent
from . import sla

logger = logging.getLogger(__name__)

TICKET_PREFIX = "T"
REPEAT_WINDOW = datetime.timedelta(days=90)

Status = Ticket.Status
# The workflow: new → assigned → in progress → waiting → resolved → closed; reopen goes back to in progress.
TRANSITIONS = {
    Status.NEW: (Status.ASSIGNED, Status.IN_PROGRESS),
    Status.ASSIGNED: (Status.IN_PROGRESS,),
    Status.IN_PROGRESS: (Status.WAITING, Status.RESOLVED),
    Status.WAITING: (Status.IN_PROGRESS, Status.RESOLVED),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),
    Status.CLOSED: (Status.IN_PROGRESS,),
}

# Fields a person edits on the ticket form (the complaint fields included), in the form's order.
EDITABLE_FIELDS = (
    "subject",
    "description",
    "type",
    "channel",
    "category",
    "contact",
    "order",
    "product",
    "resolution",
    "root_cause",
    "recovery_action",
    "feedback_to_customer",
    "customer_attitude",
)


class TicketError(ValueError):
    """A refused ticket action; the message says why, in words the user can act on."""


class ConflictError(Exception):
    """The ticket changed since the editor loaded it; carries the ticket as saved now."""

    def __init__(self, current: Ticket):
        super().__init__(_("This ticket was changed by someone else."))
        self.current = current


def _person(user) -> str:
    return ((user.get_full_name() or user.username) if user else "")[:64]


def _event(ticket, kind, *, actor=None, from_value="", to_value="", body="", at=None, emailed_at=None):
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor,
        from_value=str(from_value)[:64],
        to_value=str(to_value)[:64],
        body=body,
        created_at=at or timezone.now(),
        emailed_at=emailed_at,
    )


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _sync(target: Ticket, source: Ticket) -> None:
    """Copy the saved state back onto the caller's instance, so views show what was written."""
    for field in Ticket._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def is_repeat_complaint(*, customer: Customer, at: datetime.datetime, exclude_pk=None) -> bool:
    """True when the customer made another complaint in the 90 days before `at`."""
    earlier = Ticket.objects.filter(
        customer=customer, type=Ticket.Type.COMPLAINT, created_at__gte=at - REPEAT_WINDOW, created_at__lte=at
    )
    if exclude_pk:
        earlier = earlier.exclude(pk=exclude_pk)
    return earlier.exists()


def auto_assignee(*, team: Team, ticket_type: str):
    """The member the team's active rule picks for a new ticket of `ticket_type` (None: no rule applies).

    Round-robin takes the next member by id after the last one picked, under a row lock on the rule
    so two tickets created at once go to two people; "least open" the member with the fewest open tickets.
    """
    rule = TicketAssignmentRule.objects.select_for_update().filter(team=team, active=True).first()
    if rule is None:
        return None
    types = {t.strip() for t in rule.ticket_types.split(",") if t.strip()}
    if types and ticket_type not in types:
        return None
    members = get_user_model().objects.filter(teams=team, is_active=True).order_by("pk")
    if rule.mode == TicketAssignmentRule.Mode.LEAST_OPEN:
        open_statuses = [s for s in Status.values if s not in (Status.RESOLVED, Status.CLOSED)]
        chosen = (
            members.annotate(open_count=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=open_statuses)))
            .order_by("open_count", "pk")
            .first()
        )
    else:
        after = members.filter(pk__gt=rule.last_assigned_id) if rule.last_assigned_id else members
        chosen = after.first() or members.first()
    if chosen is not None:
        rule.last_assigned_id = chosen.pk
        rule.save(update_fields=["last_assigned_id"])
    return chosen


@transaction.atomic
def ticket_create(
    *,
    actor,
    customer: Customer,
    subject: str,
    type: str = Ticket.Type.INQUIRY,
    channel: str = Ticket.Channel.PHONE,
    priority: str = Ticket.Priority.NORMAL,
    description: str = "",
    category=None,
    contact: Contact | None = None,
    order=None,
    product=None,
    team: Team | None = None,
    assignee=None,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Open a ticket numbered T-<year>-<6 digits> with SLA due times from the most specific active policy,
    the repeat-complaint flag, and an assignee (the one given, or the team rule's pick); records
    CREATED and, when assigned, ASSIGNED events."""
    now = now or timezone.now()
    if contact is not None and contact.customer_id != customer.pk:
        raise TicketError(_("The contact belongs to another customer."))
    if order is not None and order.customer_id != customer.pk:
        raise TicketError(_("The order belongs to another customer."))
    ticket = Ticket(
        number=next_number(TICKET_PREFIX, year=timezone.localtime(now).year),
        type=type,
        channel=channel,
        priority=priority,
        subject=subject.strip(),
        description=description,
        category=category,
        customer=customer,
        contact=contact,
        order=order,
        product=product,
        team=team,
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    sla.apply_policy(ticket, tier=customer.tier)
    if type == Ticket.Type.COMPLAINT:
        ticket.is_repeat = is_repeat_complaint(customer=customer, at=now)
    if assignee is None and team is not None:
        assignee = auto_assignee(team=team, ticket_type=type)
    if assignee is not None:
        ticket.assignee = assignee
        ticket.status = Status.ASSIGNED
    ticket.save()
    _event(ticket, TicketEvent.Kind.CREATED, actor=actor, to_value=ticket.number, body=ticket.subject, at=now)
    if assignee is not None:
        _event(ticket, TicketEvent.Kind.ASSIGNED, actor=actor, to_value=_person(assignee), at=now)
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, actor, assignee=None, team: Team | None = None) -> Ticket:
    """Give the ticket to `assignee` (None: unassign) and/or `team`; a new ticket becomes "assigned"."""
    fresh = _locked(ticket)
    now = timezone.now()
    changed = []
    if team is not None and fresh.team_id != team.pk:
        fresh.team = team
        changed.append("team")
    if fresh.assignee_id != (assignee.pk if assignee else None):
        before = fresh.assignee
        fresh.assignee = assignee
        changed.append("assignee")
        _event(
            fresh,
            TicketEvent.Kind.ASSIGNED,
            actor=actor,
            from_value=_person(before),
            to_value=_person(assignee),
            at=now,
        )
        if assignee is not None and fresh.status == Status.NEW:
            fresh.status = Status.ASSIGNED
            changed.append("status")
            _event(fresh, TicketEvent.Kind.STATUS, actor=actor, from_value=Status.NEW, to_value=Status.ASSIGNED, at=now)
    if changed:
        fresh.updated_at = now
        fresh.save(update_fields=[*changed, "updated_at"])
    _sync(ticket, fresh)
    return ticket


def allowed_statuses(ticket: Ticket) -> tuple[str, ...]:
    """The statuses the ticket may move to next."""
    return TRANSITIONS.get(ticket.status, ())


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, actor, status: str, note: str = "") -> Ticket:
    """Move the ticket along the workflow (refusing other moves with TicketError), stamping resolved/closed
    times and the first response; records a STATUS event with from, to, who and when."""
    fresh = _locked(ticket)
    if status not in Status.values:
        raise TicketError(_("Unknown status."))
    if status == fresh.status:
        raise TicketError(_("The ticket is already “%(status)s”.") % {"status": fresh.get_status_display()})
    if status not in allowed_statuses(fresh):
        raise TicketError(
            _("A ticket that is “%(from)s” cannot become “%(to)s”.")
            % {"from": fresh.get_status_display(), "to": Status(status).label}
        )
    if status == Status.ASSIGNED and fresh.assignee_id is None:
        raise TicketError(_("Assign the ticket to someone first."))
    now = timezone.now()
    before = fresh.status
    fresh.status = status
    if status == Status.RESOLVED:
        fresh.resolved_at = now
        if note.strip():
            fresh.resolution = note.strip()
    elif status == Status.CLOSED:
        fresh.closed_at = now
    elif before in (Status.RESOLVED, Status.CLOSED):
        # Reopened: the ticket is open again until it is resolved anew.
        fresh.resolved_at = None
        fresh.closed_at = None
    if fresh.first_responded_at is None and actor is not None:
        fresh.first_responded_at = now
    fresh.updated_at = now
    fresh.save(update_fields=["status", "resolved_at", "closed_at", "resolution", "first_responded_at", "updated_at"])
    _event(fresh, TicketEvent.Kind.STATUS, actor=actor, from_value=before, to_value=status, body=note.strip(), at=now)
    _sync(ticket, fresh)
    return ticket


@transaction.atomic
def ticket_set_priority(*, ticket: Ticket, actor, priority: str) -> Ticket:
    """Change the priority and recompute the SLA due times from the ticket's creation; records a PRIORITY event."""
    if priority not in Ticket.Priority.values:
        raise TicketError(_("Unknown priority."))
    fresh = Ticket.objects.select_for_update(of=("self",)).select_related("customer").get(pk=ticket.pk)
    if fresh.priority == priority:
        return ticket
    before = fresh.priority
    fresh.priority = priority
    sla.apply_policy(fresh, tier=fresh.customer.tier)
    fresh.updated_at = timezone.now()
    fresh.save(update_fields=["priority", "sla_policy", "first_response_due", "resolution_due", "updated_at"])
    _event(fresh, TicketEvent.Kind.PRIORITY, actor=actor, from_value=before, to_value=priority, at=fresh.updated_at)
    _sync(ticket, fresh)
    return ticket


@transaction.atomic
def ticket_add_note(*, ticket: Ticket, actor, body: str) -> TicketEvent:
    """Add an internal note to the timeline (never shown or sent to the customer)."""
    if not body.strip():
        raise TicketError(_("Write the note first."))
    return _event(ticket, TicketEvent.Kind.NOTE, actor=actor, body=body.strip())


def reply_address(ticket: Ticket) -> str:
    """Where a reply goes: the ticket's contact's email, else the customer's."""
    if ticket.contact_id and ticket.contact.email:
        return ticket.contact.email
    return ticket.customer.email


@transaction.atomic
def ticket_reply(*, ticket: Ticket, actor, body: str) -> TicketEvent:
    """Email a reply to the customer (subject carries the ticket number) and keep it on the timeline as a
    REPLY event with `emailed_at`; the first staff reply sets `first_responded_at`, and a reply to a new or
    assigned ticket moves it to "in progress"."""
    body = body.strip()
    if not body:
        raise TicketError(_("Write the reply first."))
    fresh = Ticket.objects.select_for_update(of=("self",)).select_related("customer", "contact").get(pk=ticket.pk)
    address = reply_address(fresh)
    if not address:
        raise TicketError(_("Neither the contact nor the customer has an email address to reply to."))
    now = timezone.now()
    event = _event(fresh, TicketEvent.Kind.REPLY, actor=actor, to_value=address, body=body, at=now)
    context = {"ticket": fresh, "body": body, "company": settings.CRM_COMPANY_NAME, "agent": _person(actor)}
    subject = render_to_string("service/emails/ticket_reply_subject.txt", context).strip().replace("\n", " ")
    message = EmailMessage(
        subject=subject,
        body=render_to_string("service/emails/ticket_reply.txt", context),
        to=[address],
        headers={"X-CRM-Ticket": fresh.number},
    )
    try:
        message.send(fail_silently=False)
    except OSError:
        # The reply stays on the timeline without `emailed_at`: the page says it was not sent.
        logger.exception("Reply to ticket %s could not be emailed", fresh.number)
    else:
        event.emailed_at = timezone.now()
        event.save(update_fields=["emailed_at"])
    update_fields = ["updated_at"]
    if fresh.first_responded_at is None:
        fresh.first_responded_at = now
        update_fields.append("first_responded_at")
    if fresh.status in (Status.NEW, Status.ASSIGNED):
        _event(
            fresh, TicketEvent.Kind.STATUS, actor=actor, from_value=fresh.status, to_value=Status.IN_PROGRESS, at=now
        )
        fresh.status = Status.IN_PROGRESS
        update_fields.append("status")
    fresh.updated_at = now
    fresh.save(update_fields=update_fields)
    _sync(ticket, fresh)
    return event


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor, data: dict, expected_version: int) -> list[str]:
    """Save edits (plain and complaint fields) made to version `expected_version`; raise ConflictError when
    someone saved in between. Returns the names of the fields that changed (empty: nothing saved)."""
    claimed = Ticket.objects.filter(pk=ticket.pk, version=expected_version).update(version=F("version") + 1)
    if not claimed:
        raise ConflictError(Ticket.objects.get(pk=ticket.pk))
    fresh = Ticket.objects.get(pk=ticket.pk)
    changed = []
    for field in EDITABLE_FIELDS:
        if field not in data:
            continue
        value = data[field].strip() if isinstance(data[field], str) else data[field]
        if value is None and not Ticket._meta.get_field(field).null:
            value = ""
        if getattr(fresh, field) != value:
            setattr(fresh, field, value)
            changed.append(field)
    if fresh.contact_id and fresh.contact.customer_id != fresh.customer_id:
        raise TicketError(_("The contact belongs to another customer."))
    if fresh.order_id and fresh.order.customer_id != fresh.customer_id:
        raise TicketError(_("The order belongs to another customer."))
    if not changed:
        Ticket.objects.filter(pk=fresh.pk).update(version=expected_version)
        ticket.refresh_from_db()
        return []
    if "type" in changed and fresh.type == Ticket.Type.COMPLAINT:
        fresh.is_repeat = is_repeat_complaint(customer=fresh.customer, at=fresh.created_at, exclude_pk=fresh.pk)
    fresh.updated_at = timezone.now()
    fresh.save()
    _sync(ticket, fresh)
    return changed
