"""Ticket services: numbers, SLA due times, repeat complaints, auto-assignment, workflow, replies, edits."""

import datetime
import re

import pytest
import time_machine
from django.utils import timezone

from customers import roles
from customers.models import Customer
from service.models import Ticket, TicketAssignmentRule, TicketEvent
from service.services import tickets as services
from tests.factories import ContactFactory, CustomerFactory, TeamFactory, UserFactory
from tests.service.factories import SlaPolicyFactory, TicketFactory

pytestmark = pytest.mark.django_db
TZ = timezone.get_fixed_timezone(8 * 60)
Status = Ticket.Status


def local(*args):
    return datetime.datetime(*args, tzinfo=TZ)


@pytest.fixture
def agent(db):
    return UserFactory(username="agent1", roles=[roles.SERVICE_AGENT])


def create(agent, customer, **kwargs):
    kwargs.setdefault("subject", "It broke")
    return services.ticket_create(actor=agent, customer=customer, **kwargs)


def test_numbers_are_t_year_six_digits_and_unique(agent):
    customer = CustomerFactory()
    first, second = create(agent, customer), create(agent, customer)
    year = timezone.localdate().year
    assert re.fullmatch(rf"T-{year}-\d{{6}}", first.number)
    assert first.number != second.number


def test_created_ticket_records_a_created_event(agent):
    ticket = create(agent, CustomerFactory())
    event = ticket.events.get()
    assert event.kind == TicketEvent.Kind.CREATED and event.actor == agent
    assert ticket.status == Status.NEW and ticket.created_by == agent


def test_due_times_from_the_any_tier_policy(agent):
    SlaPolicyFactory(priority="high", first_response_minutes=60, resolution_minutes=480)
    opened = local(2026, 3, 3, 10, 0)
    ticket = create(agent, CustomerFactory(), priority="high", now=opened)
    assert ticket.first_response_due == local(2026, 3, 3, 11, 0)
    assert ticket.resolution_due == local(2026, 3, 3, 18, 0)


def test_vip_policy_is_faster_than_the_any_tier_one(agent):
    SlaPolicyFactory(priority="normal", first_response_minutes=240, resolution_minutes=1440)
    vip_policy = SlaPolicyFactory(priority="normal", tier="vip", first_response_minutes=30, resolution_minutes=240)
    opened = local(2026, 3, 3, 10, 0)
    vip = create(agent, CustomerFactory(tier=Customer.Tier.VIP), now=opened)
    small = create(agent, CustomerFactory(tier=Customer.Tier.SMALL), now=opened)
    assert vip.sla_policy == vip_policy
    assert vip.first_response_due == local(2026, 3, 3, 10, 30)
    assert vip.resolution_due == local(2026, 3, 3, 14, 0)
    assert small.first_response_due == local(2026, 3, 3, 14, 0)
    assert small.resolution_due == local(2026, 3, 4, 10, 0)


def test_inactive_policy_is_ignored(agent):
    SlaPolicyFactory(priority="normal", tier="vip", first_response_minutes=30, active=False)
    ticket = create(agent, CustomerFactory(tier=Customer.Tier.VIP))
    assert ticket.sla_policy is None and ticket.resolution_due is None


def test_business_hours_policy_skips_the_weekend(agent, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    SlaPolicyFactory(priority="normal", first_response_minutes=120, resolution_minutes=9 * 60, business_hours_only=True)
    # Friday 17:00 Shanghai: first response = 1 h Friday + 1 h Monday → Monday 10:00;
    # resolution 9 h = 1 h Friday + 8 h Monday → Monday 17:00.
    with timezone.override("Asia/Shanghai"):
        ticket = create(agent, CustomerFactory(), now=local(2026, 3, 6, 17, 0))
    assert ticket.first_response_due == local(2026, 3, 9, 10, 0)
    assert ticket.resolution_due == local(2026, 3, 9, 17, 0)


def test_repeat_complaint_within_90_days_is_flagged(agent):
    customer = CustomerFactory()
    first = create(agent, customer, type="complaint", now=timezone.now() - datetime.timedelta(days=30))
    second = create(agent, customer, type="complaint")
    inquiry = create(agent, customer, type="inquiry")
    assert not first.is_repeat and second.is_repeat and not inquiry.is_repeat


def test_complaint_after_90_days_is_not_a_repeat(agent):
    customer = CustomerFactory()
    create(agent, customer, type="complaint", now=timezone.now() - datetime.timedelta(days=91))
    assert not create(agent, customer, type="complaint").is_repeat
    assert not create(agent, CustomerFactory(), type="complaint").is_repeat


def test_round_robin_assigns_members_in_turn_by_id(agent):
    members = [UserFactory(roles=[roles.SERVICE_AGENT]) for _ in range(3)]
    team = TeamFactory(members=members)
    TicketAssignmentRule.objects.create(team=team, mode=TicketAssignmentRule.Mode.ROUND_ROBIN)
    customer = CustomerFactory()
    picked = [create(agent, customer, team=team).assignee for _ in range(4)]
    by_id = sorted(members, key=lambda u: u.pk)
    assert picked == [*by_id, by_id[0]]
    ticket = Ticket.objects.filter(assignee=by_id[0]).first()
    assert ticket.status == Status.ASSIGNED
    assert ticket.events.filter(kind=TicketEvent.Kind.ASSIGNED).exists()


def test_least_open_picks_the_member_with_fewest_open_tickets(agent):
    busy, free = UserFactory(roles=[roles.SERVICE_AGENT]), UserFactory(roles=[roles.SERVICE_AGENT])
    team = TeamFactory(members=[busy, free])
    TicketAssignmentRule.objects.create(team=team, mode=TicketAssignmentRule.Mode.LEAST_OPEN)
    TicketFactory.create_batch(2, assignee=busy)
    TicketFactory.create_batch(3, assignee=free, status=Status.CLOSED)
    assert create(agent, CustomerFactory(), team=team).assignee == free


def test_rule_limited_to_types_leaves_other_types_unassigned(agent):
    team = TeamFactory(members=[UserFactory(roles=[roles.SERVICE_AGENT])])
    TicketAssignmentRule.objects.create(team=team, ticket_types="complaint")
    assert create(agent, CustomerFactory(), team=team, type="inquiry").assignee is None
    assert create(agent, CustomerFactory(), team=team, type="complaint").assignee is not None


def test_workflow_forward_and_reopen(agent):
    ticket = create(agent, CustomerFactory())
    services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    assert ticket.status == Status.ASSIGNED
    for status in (Status.IN_PROGRESS, Status.WAITING, Status.IN_PROGRESS, Status.RESOLVED):
        services.ticket_set_status(ticket=ticket, actor=agent, status=status, note="Replaced the part")
    assert ticket.resolved_at is not None and ticket.resolution == "Replaced the part"
    services.ticket_set_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    assert ticket.closed_at is not None
    services.ticket_set_status(ticket=ticket, actor=agent, status=Status.IN_PROGRESS)
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS and ticket.resolved_at is None and ticket.closed_at is None
    moves = list(ticket.events.filter(kind=TicketEvent.Kind.STATUS).values_list("from_value", "to_value", "actor"))
    assert moves == [
        ("new", "assigned", agent.pk),
        ("assigned", "in_progress", agent.pk),
        ("in_progress", "waiting", agent.pk),
        ("waiting", "in_progress", agent.pk),
        ("in_progress", "resolved", agent.pk),
        ("resolved", "closed", agent.pk),
        ("closed", "in_progress", agent.pk),
    ]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.NEW, Status.CLOSED),
        (Status.NEW, Status.RESOLVED),
        (Status.NEW, Status.WAITING),
        (Status.IN_PROGRESS, Status.CLOSED),
        (Status.CLOSED, Status.RESOLVED),
        (Status.WAITING, Status.NEW),
    ],
)
def test_disallowed_transitions_are_refused_with_a_message(agent, start, target):
    ticket = TicketFactory(status=start)
    with pytest.raises(services.TicketError, match="cannot become"):
        services.ticket_set_status(ticket=ticket, actor=agent, status=target)
    ticket.refresh_from_db()
    assert ticket.status == start and not ticket.events.exists()


def test_assigned_status_needs_an_assignee(agent):
    ticket = TicketFactory(status=Status.NEW)
    with pytest.raises(services.TicketError, match="Assign"):
        services.ticket_set_status(ticket=ticket, actor=agent, status=Status.ASSIGNED)


def test_first_status_change_counts_as_first_response(agent):
    ticket = create(agent, CustomerFactory())
    assert ticket.first_responded_at is None
    services.ticket_set_status(ticket=ticket, actor=agent, status=Status.IN_PROGRESS)
    assert ticket.first_responded_at is not None


def test_reply_is_emailed_to_the_contact_with_the_number_in_the_subject(agent, mailoutbox):
    customer = CustomerFactory(email="shop@example.com")
    contact = ContactFactory(customer=customer, email="buyer@example.com")
    ticket = create(agent, customer, contact=contact)
    event = services.ticket_reply(ticket=ticket, actor=agent, body="We are sending a new one.")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["buyer@example.com"] and ticket.number in mail.subject
    assert "We are sending a new one." in mail.body
    assert event.kind == TicketEvent.Kind.REPLY and event.emailed_at is not None and event.to_value == mail.to[0]
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None and ticket.status == Status.IN_PROGRESS


def test_reply_goes_to_the_customer_without_a_contact_email(agent, mailoutbox):
    customer = CustomerFactory(email="shop@example.com")
    ticket = create(agent, customer, contact=ContactFactory(customer=customer, email=""))
    services.ticket_reply(ticket=ticket, actor=agent, body="Hello")
    assert mailoutbox[0].to == ["shop@example.com"]


def test_reply_without_any_address_is_refused(agent, mailoutbox):
    ticket = create(agent, CustomerFactory(email=""))
    with pytest.raises(services.TicketError):
        services.ticket_reply(ticket=ticket, actor=agent, body="Hello")
    assert not mailoutbox and not ticket.events.filter(kind="reply").exists()


def test_later_replies_keep_the_first_response_time(agent, mailoutbox):
    ticket = create(agent, CustomerFactory())
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        services.ticket_reply(ticket=ticket, actor=agent, body="One")
    first = Ticket.objects.get(pk=ticket.pk).first_responded_at
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=3)):
        services.ticket_reply(ticket=ticket, actor=agent, body="Two")
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at == first
    assert len(mailoutbox) == 2


def test_note_is_internal_and_sends_nothing(agent, mailoutbox):
    ticket = create(agent, CustomerFactory())
    services.ticket_add_note(ticket=ticket, actor=agent, body="Customer sounded upset")
    assert not mailoutbox
    assert ticket.events.filter(kind=TicketEvent.Kind.NOTE, body="Customer sounded upset").exists()
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None


def test_priority_change_recomputes_due_times_from_creation(agent):
    SlaPolicyFactory(priority="normal", first_response_minutes=240, resolution_minutes=1440)
    SlaPolicyFactory(priority="urgent", first_response_minutes=15, resolution_minutes=120)
    opened = local(2026, 3, 3, 10, 0)
    ticket = create(agent, CustomerFactory(), now=opened)
    services.ticket_set_priority(ticket=ticket, actor=agent, priority="urgent")
    ticket.refresh_from_db()
    assert ticket.first_response_due == local(2026, 3, 3, 10, 15)
    assert ticket.resolution_due == local(2026, 3, 3, 12, 0)
    event = ticket.events.get(kind=TicketEvent.Kind.PRIORITY)
    assert (event.from_value, event.to_value, event.actor) == ("normal", "urgent", agent)


def test_update_saves_complaint_fields(agent):
    ticket = create(agent, CustomerFactory(), type="complaint")
    changed = services.ticket_update(
        ticket=ticket,
        actor=agent,
        expected_version=ticket.version,
        data={
            "root_cause": "Courier dropped the box",
            "recovery_action": "replacement",
            "feedback_to_customer": "Replacement sent",
            "customer_attitude": "satisfied",
        },
    )
    assert set(changed) == {"root_cause", "recovery_action", "feedback_to_customer", "customer_attitude"}
    ticket.refresh_from_db()
    assert ticket.recovery_action == "replacement" and ticket.customer_attitude == "satisfied" and ticket.version == 2


def test_update_on_a_stale_version_raises_conflict(agent):
    ticket = create(agent, CustomerFactory())
    services.ticket_update(ticket=ticket, actor=agent, expected_version=1, data={"subject": "Mine"})
    with pytest.raises(services.ConflictError) as clash:
        services.ticket_update(ticket=ticket, actor=agent, expected_version=1, data={"subject": "Theirs"})
    assert clash.value.current.subject == "Mine"
    assert Ticket.objects.get(pk=ticket.pk).subject == "Mine"


def test_contact_of_another_customer_is_refused(agent):
    with pytest.raises(services.TicketError):
        create(agent, CustomerFactory(), contact=ContactFactory(customer=CustomerFactory()))
