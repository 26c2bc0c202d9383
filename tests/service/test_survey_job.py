"""The hourly survey job: who is invited, once; one reminder; expiry; a killed and rerun job sends each email once."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from customers.models import JobRun
from service.models import SurveyInvitation, SurveyRule, Ticket
from service.services import surveys
from service.tasks import send_survey_invitations
from tests.factories import ContactFactory, CustomerFactory
from tests.sales.factories import OrderFactory
from tests.service.factories import TicketFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def closed_ticket(*, closed_at=START, customer=None, type=Ticket.Type.COMPLAINT, **kwargs):
    customer = customer or CustomerFactory(marketing_consent=True)
    return TicketFactory(
        customer=customer,
        type=type,
        status=Ticket.Status.CLOSED,
        closed_at=closed_at,
        created_at=closed_at - datetime.timedelta(days=2),
        **kwargs,
    )


def run_job_at(moment):
    with time_machine.travel(moment, tick=False):
        return send_survey_invitations()


@pytest.fixture
def rule():
    rule = SurveyRule.objects.get_or_create(pk=1)[0]
    rule.delay_hours = 24
    rule.ticket_types = "complaint,repair"
    rule.min_days_between = 30
    rule.reminder_after_days = 3
    rule.expires_after_days = 14
    rule.after_delivery = True
    rule.save()
    return rule


def test_a_closed_ticket_is_invited_once_after_the_delay(rule, mailoutbox):
    ticket = closed_ticket()
    assert run_job_at(START + datetime.timedelta(hours=23)) == {"written": 0, "sent": 0, "reminded": 0}
    counts = run_job_at(START + datetime.timedelta(hours=25))
    assert counts == {"written": 1, "sent": 1, "reminded": 0}
    invitation = SurveyInvitation.objects.get()
    assert invitation.ticket == ticket and invitation.email == ticket.customer.email
    assert invitation.expires_at == START + datetime.timedelta(hours=25, days=14)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [ticket.customer.email]
    assert f"http://testserver.example/survey/{invitation.token}/" in message.body
    assert ticket.number in message.body
    # The next hours find nothing new to send.
    run_job_at(START + datetime.timedelta(hours=26))
    run_job_at(START + datetime.timedelta(hours=27))
    assert len(mailoutbox) == 1
    assert SurveyInvitation.objects.count() == 1
    assert JobRun.objects.filter(job="send_survey_invitations", status=JobRun.Status.SUCCEEDED).count() == 4


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.CRM_BASE_URL = "http://testserver.example"
    settings.CRM_COMPANY_NAME = "Acme Service Co"


def test_one_reminder_after_the_rule_days_then_nothing(rule, mailoutbox):
    closed_ticket()
    sent_at = START + datetime.timedelta(hours=25)
    run_job_at(sent_at)
    assert run_job_at(sent_at + datetime.timedelta(days=2, hours=23))["reminded"] == 0
    assert run_job_at(sent_at + datetime.timedelta(days=3, hours=1))["reminded"] == 1
    assert run_job_at(sent_at + datetime.timedelta(days=4))["reminded"] == 0
    assert run_job_at(sent_at + datetime.timedelta(days=8))["reminded"] == 0
    assert len(mailoutbox) == 2
    assert "Reminder" in mailoutbox[1].subject or "提醒" in mailoutbox[1].subject
    assert SurveyInvitation.objects.get().reminded_at == sent_at + datetime.timedelta(days=3, hours=1)


def test_no_reminder_once_answered(rule, mailoutbox):
    closed_ticket()
    sent_at = START + datetime.timedelta(hours=25)
    run_job_at(sent_at)
    SurveyInvitation.objects.update(responded_at=sent_at + datetime.timedelta(days=1))
    assert run_job_at(sent_at + datetime.timedelta(days=4))["reminded"] == 0
    assert len(mailoutbox) == 1


def test_an_expired_invitation_gets_nothing(rule, mailoutbox):
    rule.reminder_after_days = 20  # after the link expires
    rule.save()
    closed_ticket()
    run_job_at(START + datetime.timedelta(hours=25))
    # Written but never sent (say the mail server was down for weeks), then expired: no late email.
    SurveyInvitation.objects.update(sent_at=None)
    mail.outbox.clear()
    run_job_at(START + datetime.timedelta(days=16))
    assert mailoutbox == []
    run_job_at(START + datetime.timedelta(days=22))
    assert mailoutbox == []


def test_only_customers_with_consent_and_an_email_are_invited(rule, mailoutbox):
    closed_ticket(customer=CustomerFactory(marketing_consent=False))
    closed_ticket(customer=CustomerFactory(marketing_consent=True, email=""))
    with_contact = CustomerFactory(marketing_consent=True, email="")
    ContactFactory(customer=with_contact, email="buyer@example.com", is_primary=True)
    ticket_contact = ContactFactory(customer=CustomerFactory(marketing_consent=True), email="direct@example.com")
    closed_ticket(customer=with_contact)
    closed_ticket(customer=ticket_contact.customer, contact=ticket_contact)
    run_job_at(START + datetime.timedelta(hours=25))
    assert sorted(m.to[0] for m in mailoutbox) == ["buyer@example.com", "direct@example.com"]


def test_ticket_types_and_status_follow_the_rule(rule, mailoutbox):
    closed_ticket(type=Ticket.Type.INQUIRY)
    closed_ticket(type=Ticket.Type.REPAIR)
    open_again = closed_ticket()
    Ticket.objects.filter(pk=open_again.pk).update(status=Ticket.Status.IN_PROGRESS)
    run_job_at(START + datetime.timedelta(hours=25))
    assert [inv.ticket.type for inv in SurveyInvitation.objects.select_related("ticket")] == [Ticket.Type.REPAIR]


def test_at_most_one_invitation_per_customer_in_the_window(rule, mailoutbox):
    customer = CustomerFactory(marketing_consent=True)
    first = closed_ticket(customer=customer)
    closed_ticket(customer=customer, closed_at=START + datetime.timedelta(hours=1))
    run_job_at(START + datetime.timedelta(hours=30))
    assert list(SurveyInvitation.objects.values_list("ticket", flat=True)) == [first.pk]
    # A ticket closed 20 days later is still inside the 30-day window: no second survey.
    closed_ticket(customer=customer, closed_at=START + datetime.timedelta(days=20))
    run_job_at(START + datetime.timedelta(days=21))
    assert SurveyInvitation.objects.count() == 1
    # 35 days on, a new closed ticket is invited again.
    closed_ticket(customer=customer, closed_at=START + datetime.timedelta(days=35))
    run_job_at(START + datetime.timedelta(days=36))
    assert SurveyInvitation.objects.count() == 2
    assert len(mailoutbox) == 2


def test_delivered_orders_are_invited_when_the_rule_says_so(rule, mailoutbox):
    customer = CustomerFactory(marketing_consent=True)
    order = OrderFactory(customer=customer, status="delivered", delivered_at=START)
    OrderFactory(customer=CustomerFactory(marketing_consent=True), status="confirmed")
    run_job_at(START + datetime.timedelta(hours=25))
    invitation = SurveyInvitation.objects.get()
    assert invitation.order == order and invitation.ticket is None
    assert order.number in mailoutbox[0].body
    rule.after_delivery = False
    rule.save()
    OrderFactory(customer=CustomerFactory(marketing_consent=True), status="delivered", delivered_at=START)
    run_job_at(START + datetime.timedelta(hours=26))
    assert SurveyInvitation.objects.count() == 1


def test_an_inactive_rule_sends_nothing(rule, mailoutbox):
    rule.active = False
    rule.save()
    closed_ticket()
    assert run_job_at(START + datetime.timedelta(hours=25)) == {"written": 0, "sent": 0, "reminded": 0}
    assert mailoutbox == []


class FailingAfter(EmailBackend):
    """The mail server dies after `limit` messages, as a killed worker would stop mid-batch."""

    limit = 0
    delivered = 0

    def send_messages(self, messages):
        if FailingAfter.delivered >= FailingAfter.limit:
            raise ConnectionError("mail server went away")
        FailingAfter.delivered += len(messages)
        return super().send_messages(messages)


def test_a_killed_job_rerun_sends_each_invitation_exactly_once(rule, settings, mailoutbox):
    tickets = [closed_ticket() for _n in range(6)]
    settings.EMAIL_BACKEND = "tests.service.test_survey_job.FailingAfter"
    FailingAfter.limit, FailingAfter.delivered = 3, 0
    moment = START + datetime.timedelta(hours=25)
    with pytest.raises(ConnectionError):
        run_job_at(moment)
    # The invitations were all written before any was sent; half went out.
    assert SurveyInvitation.objects.count() == 6
    assert SurveyInvitation.objects.filter(sent_at__isnull=False).count() == 3
    assert len(mailoutbox) == 3
    assert JobRun.objects.get(job="send_survey_invitations").status == JobRun.Status.FAILED
    # Rerun with a working server: only the three unsent ones go out.
    FailingAfter.limit = 100
    run_job_at(moment + datetime.timedelta(hours=1))
    run_job_at(moment + datetime.timedelta(hours=2))
    recipients = sorted(m.to[0] for m in mailoutbox)
    assert recipients == sorted(t.customer.email for t in tickets)
    assert SurveyInvitation.objects.filter(sent_at__isnull=True).count() == 0


def test_a_claimed_invitation_is_never_sent_by_a_second_worker(rule, mailoutbox):
    closed_ticket()
    with time_machine.travel(START + datetime.timedelta(hours=25), tick=False):
        surveys.survey_write_invitations()
        invitation = SurveyInvitation.objects.get()
        # Another worker claimed it (and may be sending it right now).
        SurveyInvitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
        assert surveys.survey_send_pending() == 0
    assert mailoutbox == []
