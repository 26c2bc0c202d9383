"""Satisfaction surveys: who is invited when, sending each email at most once, and recording answers.

The hourly job writes every due invitation first (committed), then sends each unsent one after
claiming it with a conditional UPDATE. A job killed between the two phases, or halfway through
sending, is simply run again: nothing is sent twice, nothing due is forgotten.
"""

import datetime
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Contact, Customer
from customers.services import task_create
from sales.models import Order

from ..models import DIMENSIONS, SurveyInvitation, SurveyResponse, SurveyRule, Ticket, TicketEvent

# A job that was down for a while still invites for what closed meanwhile, but never about
# tickets or orders from long ago (a fresh rule would otherwise mail about last year's ticket).
CATCH_UP = datetime.timedelta(days=7)
TASK_SOURCE = "survey"
FOLLOW_UP_DAYS = 1


class SurveyClosed(Exception):
    """The invitation cannot take an answer: already answered or expired."""


def survey_rule() -> SurveyRule:
    """The one survey rule row (created with defaults on first use)."""
    return SurveyRule.objects.get_or_create(pk=1)[0]


def company_name() -> str:
    return getattr(settings, "CRM_COMPANY_NAME", "CRM")


def survey_link(invitation: SurveyInvitation) -> str:
    """The absolute link a customer opens from the email."""
    base = getattr(settings, "CRM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + reverse("survey:answer", kwargs={"token": invitation.token})


def _ticket_types(rule: SurveyRule) -> list[str]:
    valid = set(Ticket.Type.values)
    return [t.strip() for t in rule.ticket_types.split(",") if t.strip() in valid]


@dataclass
class _Candidate:
    customer_id: int
    email: str
    when: datetime.datetime  # closed or delivered
    ticket_id: int | None = None
    order_id: int | None = None


def _candidates(rule: SurveyRule, now: datetime.datetime) -> list[_Candidate]:
    """Closed tickets and delivered orders due for an invitation that have none yet (a few queries)."""
    due_before = now - datetime.timedelta(hours=rule.delay_hours)
    not_before = due_before - CATCH_UP
    consenting = Q(customer__marketing_consent=True, customer__archived=False)
    found: list[_Candidate] = []
    types = _ticket_types(rule)
    if types:
        tickets = (
            Ticket.objects.filter(
                consenting,
                type__in=types,
                status=Ticket.Status.CLOSED,
                closed_at__lte=due_before,
                closed_at__gt=not_before,
                survey_invitations__isnull=True,
            )
            .order_by("closed_at", "pk")
            .values_list("pk", "customer_id", "customer__email", "contact__email", "closed_at")
        )
        for pk, customer_id, customer_email, contact_email, closed_at in tickets:
            found.append(_Candidate(customer_id, contact_email or customer_email or "", closed_at, ticket_id=pk))
    if rule.after_delivery:
        orders = (
            Order.objects.filter(
                consenting,
                status=Order.Status.DELIVERED,
                delivered_at__lte=due_before,
                delivered_at__gt=not_before,
                survey_invitations__isnull=True,
            )
            .order_by("delivered_at", "pk")
            .values_list("pk", "customer_id", "customer__email", "delivered_at")
        )
        for pk, customer_id, customer_email, delivered_at in orders:
            found.append(_Candidate(customer_id, customer_email or "", delivered_at, order_id=pk))
    # Customers without their own email may still have a contact with one (primary first).
    missing = {c.customer_id for c in found if not c.email}
    if missing:
        fallback = {}
        contacts = (
            Contact.objects.filter(customer_id__in=missing)
            .exclude(email="")
            .order_by("customer_id", "-is_primary", "pk")
            .values_list("customer_id", "email")
        )
        for customer_id, email in contacts:
            fallback.setdefault(customer_id, email)
        for candidate in found:
            candidate.email = candidate.email or fallback.get(candidate.customer_id, "")
    return [c for c in found if c.email]


@transaction.atomic
def survey_write_invitations(*, now: datetime.datetime | None = None) -> int:
    """Write the due invitations (unsent) and return how many; at most one per customer per rule window."""
    now = now or timezone.now()
    rule = survey_rule()
    if not rule.active:
        return 0
    candidates = _candidates(rule, now)
    if not candidates:
        return 0
    window_start = now - datetime.timedelta(days=rule.min_days_between)
    recently_invited = set(
        SurveyInvitation.objects.filter(
            customer_id__in={c.customer_id for c in candidates}, created_at__gt=window_start
        ).values_list("customer_id", flat=True)
    )
    expires_at = now + datetime.timedelta(days=rule.expires_after_days)
    rows = []
    # Oldest first: the customer is asked about what happened first in the window.
    for candidate in sorted(candidates, key=lambda c: (c.when, c.ticket_id or 0, c.order_id or 0)):
        if candidate.customer_id in recently_invited:
            continue
        recently_invited.add(candidate.customer_id)
        rows.append(
            SurveyInvitation(
                token=secrets.token_urlsafe(24),
                customer_id=candidate.customer_id,
                ticket_id=candidate.ticket_id,
                order_id=candidate.order_id,
                email=candidate.email,
                created_at=now,
                expires_at=expires_at,
            )
        )
    # A concurrent run may have written the same ticket's invitation: the unique constraints keep one.
    SurveyInvitation.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _claim(invitation_id: int, field: str, now: datetime.datetime) -> bool:
    """Mark the invitation as sent (or reminded) if nobody did yet; True when this caller got it."""
    return SurveyInvitation.objects.filter(pk=invitation_id, **{f"{field}__isnull": True}).update(**{field: now}) == 1


def _unclaim(invitation_id: int, field: str, now: datetime.datetime) -> None:
    # The backend refused the message: let the next run try again rather than never sending it.
    SurveyInvitation.objects.filter(pk=invitation_id, **{field: now}).update(**{field: None})


def _message(invitation: SurveyInvitation, *, reminder: bool, connection) -> EmailMessage:
    context = {
        "company": company_name(),
        "customer": invitation.customer,
        "ticket": invitation.ticket,
        "order": invitation.order,
        "link": survey_link(invitation),
        "expires_at": invitation.expires_at,
        "reminder": reminder,
    }
    subject = render_to_string("service/emails/survey_subject.txt", context).strip()
    body = render_to_string("service/emails/survey_invitation.txt", context)
    return EmailMessage(subject=subject, body=body, to=[invitation.email], connection=connection)


def _send_claimed(invitations, *, field: str, reminder: bool, now: datetime.datetime) -> int:
    sent = 0
    connection = get_connection()
    for invitation in invitations:
        # Claim first, in its own committed statement: a run killed after this line never sends it again.
        if not _claim(invitation.pk, field, now):
            continue
        try:
            _message(invitation, reminder=reminder, connection=connection).send()
        except BaseException:
            _unclaim(invitation.pk, field, now)
            raise
        sent += 1
    return sent


def survey_send_pending(*, now: datetime.datetime | None = None) -> int:
    """Email every written, unsent, unexpired invitation once; return how many were sent."""
    now = now or timezone.now()
    pending = (
        SurveyInvitation.objects.filter(sent_at__isnull=True, responded_at__isnull=True, expires_at__gt=now)
        .select_related("customer", "ticket", "order")
        .order_by("pk")
    )
    return _send_claimed(pending, field="sent_at", reminder=False, now=now)


def survey_send_reminders(*, now: datetime.datetime | None = None) -> int:
    """Remind once those who have not answered after the rule's days, unless the link expired."""
    now = now or timezone.now()
    rule = survey_rule()
    due = (
        SurveyInvitation.objects.filter(
            sent_at__lte=now - datetime.timedelta(days=rule.reminder_after_days),
            reminded_at__isnull=True,
            responded_at__isnull=True,
            expires_at__gt=now,
        )
        .select_related("customer", "ticket", "order")
        .order_by("pk")
    )
    return _send_claimed(due, field="reminded_at", reminder=True, now=now)


def survey_invite_due(*, now: datetime.datetime | None = None) -> dict:
    """The hourly job: write due invitations, send the unsent ones, remind once; return the counts."""
    now = now or timezone.now()
    if not survey_rule().active:
        return {"written": 0, "sent": 0, "reminded": 0}
    written = survey_write_invitations(now=now)
    sent = survey_send_pending(now=now)
    reminded = survey_send_reminders(now=now)
    return {"written": written, "sent": sent, "reminded": reminded}


# ---------------------------------------------------------------------------------------------
# The public page


class TokenState:
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


def invitation_for_token(token: str) -> SurveyInvitation | None:
    """The invitation of a survey link, with what the page shows about it (one query)."""
    if not token or len(token) > 64:
        return None
    return SurveyInvitation.objects.select_related("ticket", "order").filter(token=token).first()


def token_state(invitation: SurveyInvitation | None, *, now: datetime.datetime | None = None) -> str:
    if invitation is None:
        return TokenState.UNKNOWN
    if invitation.responded_at:
        return TokenState.ANSWERED
    if invitation.expires_at <= (now or timezone.now()):
        return TokenState.EXPIRED
    return TokenState.OPEN


def is_low_score(response: SurveyResponse, rule: SurveyRule) -> bool:
    """A score at or below the rule's bars calls for service recovery."""
    return (
        response.overall_satisfaction <= rule.low_satisfaction or response.likelihood_to_recommend <= rule.low_recommend
    )


def _scores_text(response: SurveyResponse) -> str:
    gaps = ", ".join(
        f"{dim} {getattr(response, f'{dim}_perceived') - getattr(response, f'{dim}_expected'):+d}" for dim in DIMENSIONS
    )
    text = _("Overall satisfaction %(overall)s/5, likelihood to recommend %(nps)s/10. Gaps: %(gaps)s.") % {
        "overall": response.overall_satisfaction,
        "nps": response.likelihood_to_recommend,
        "gaps": gaps,
    }
    if response.comment:
        text += "\n" + _("Comment: %(comment)s") % {"comment": response.comment}
    return text


@transaction.atomic
def survey_record_response(*, invitation: SurveyInvitation, answers: dict) -> SurveyResponse:
    """Save the answers to an open invitation (once); a low score opens a service-recovery task for the owner.

    Raises SurveyClosed when the invitation was answered meanwhile or has expired."""
    now = timezone.now()
    # The row lock serialises two submissions of the same link (double click, two tabs).
    locked = SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
    if token_state(locked, now=now) != TokenState.OPEN:
        raise SurveyClosed(token_state(locked, now=now))
    fields = [f"{dim}_{side}" for dim in DIMENSIONS for side in ("expected", "perceived")]
    fields += ["overall_satisfaction", "likelihood_to_recommend", "comment"]
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                invitation=locked,
                customer_id=locked.customer_id,
                ticket_id=locked.ticket_id,
                order_id=locked.order_id,
                answered_at=now,
                **{name: answers[name] for name in fields if name in answers},
            )
    except IntegrityError as exc:  # the one-to-one caught a response this lock did not see (SQLite)
        raise SurveyClosed(TokenState.ANSWERED) from exc
    locked.responded_at = now
    locked.save(update_fields=["responded_at"])

    rule = survey_rule()
    low = is_low_score(response, rule)
    ticket = Ticket.objects.select_related("assignee").filter(pk=locked.ticket_id).first() if locked.ticket_id else None
    order = Order.objects.select_related("owner").filter(pk=locked.order_id).first() if locked.order_id else None
    customer = Customer.objects.select_related("owner").get(pk=locked.customer_id)
    summary = _scores_text(response)
    if low:
        owner = (ticket and ticket.assignee) or (order and order.owner) or customer.owner
        if owner is not None:
            about = ticket.number if ticket else (order.number if order else customer.name)
            task_create(
                owner=owner,
                customer=customer,
                title=_("Service recovery: low survey score about %(about)s") % {"about": about},
                notes=summary,
                due_date=timezone.localdate(now) + datetime.timedelta(days=FOLLOW_UP_DAYS),
                source=TASK_SOURCE,
            )
    if ticket is not None:
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.SURVEY,
            to_value="low" if low else "",
            body=(_("Low score: a service-recovery follow-up was opened.") + "\n" if low else "") + summary,
            created_at=now,
        )
    return response


# ---------------------------------------------------------------------------------------------
# Showing responses (ticket, order, customer 360)


def response_summaries(responses) -> list[dict]:
    """Responses with their per-dimension gaps (perceived − expected) and NPS group, ready for
    `service/partials/survey_response.html`; pass a queryset with select_related("ticket", "order")
    when the partial should name them."""
    from ..forms.surveys import DIMENSION_TEXT

    rows = []
    for response in responses:
        dims = []
        for dim in DIMENSIONS:
            expected, perceived = getattr(response, f"{dim}_expected"), getattr(response, f"{dim}_perceived")
            dims.append(
                {
                    "title": DIMENSION_TEXT[dim][0],
                    "expected": expected,
                    "perceived": perceived,
                    "gap": perceived - expected,
                }
            )
        rows.append({"response": response, "dimensions": dims, "nps_group": response.nps_group})
    return rows
