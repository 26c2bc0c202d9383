"""Service demo data: configuration, tickets for about half the customers, timelines and survey answers."""

import io
import random

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import timezone

from customers import demo_steps
from customers.models import Customer
from service import demo
from service.models import (
    SlaPolicy,
    SurveyInvitation,
    SurveyResponse,
    Ticket,
    TicketAssignmentRule,
    TicketCategory,
    TicketEvent,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registered():
    # The lead wires register_demo() into ServiceConfig.ready; until then the test registers it.
    demo.register_demo()
    yield


def seed(customers=400, seed=7, append=False):
    call_command("seed_demo", customers=customers, seed=seed, append=append, stdout=io.StringIO())


def snapshot():
    return list(
        Ticket.objects.order_by("number").values_list(
            "number", "customer__name", "type", "status", "priority", "first_responded_at", "closed_at", "is_repeat"
        )
    )


def test_demo_tickets_are_realistic():
    seed()
    tickets = Ticket.objects.all()
    assert tickets.count() == 200  # half of the 400 customers
    assert TicketCategory.objects.filter(parent__isnull=True).count() == len(demo.CATEGORY_TREE)
    assert SlaPolicy.objects.filter(tier="vip").count() == 4 and SlaPolicy.objects.filter(tier="").count() == 4
    assert TicketAssignmentRule.objects.filter(
        team__name=demo.SERVICE_TEAM, team__members__username="service1"
    ).exists()
    complaints = tickets.filter(type="complaint").count()
    assert 40 <= complaints <= 80  # about 30%
    assert tickets.filter(status="closed").count() > tickets.count() / 2
    # Every ticket has a timeline that starts with its creation.
    assert not tickets.annotate(n=Count("events")).filter(n=0).exists()
    assert TicketEvent.objects.filter(kind="created").count() == 200
    # Due times follow the policy, and some tickets miss them.
    assert not tickets.filter(first_response_due__lte=F("created_at")).exists()
    assert tickets.filter(resolved_at__gt=F("resolution_due")).exists()
    assert (
        tickets.filter(resolved_at__lte=F("resolution_due")).count()
        > tickets.filter(resolved_at__gt=F("resolution_due")).count()
    )
    assert all(n.startswith("T-") for n in tickets.values_list("number", flat=True))
    # Closed tickets of customers who agreed were surveyed; some answered.
    invitations = SurveyInvitation.objects.select_related("customer", "ticket")
    assert invitations.exists()
    assert all(inv.customer.marketing_consent and inv.ticket.status == "closed" for inv in invitations)
    assert SurveyResponse.objects.exists()
    assert SurveyResponse.objects.count() == SurveyInvitation.objects.filter(responded_at__isnull=False).count()
    assert TicketEvent.objects.filter(kind="survey").count() == SurveyResponse.objects.count()


def rerun(ids, now):
    """The service step alone, for `ids`, with a fixed generator and clock."""
    context = demo_steps.DemoContext(
        rng=random.Random("same"), users=demo.bench_context(seed="-").users, customer_ids=ids, now=now, first_run=False
    )
    return demo.ServiceDemo(context, demo.ensure_setup(context, {}))


def drafted():
    return list(
        Ticket.objects.order_by("created_at", "customer_id").values_list(
            "customer__name", "type", "status", "priority", "channel", "subject", "created_at", "closed_at", "is_repeat"
        )
    )


def test_demo_is_deterministic():
    seed(customers=120)
    ids = sorted(Customer.objects.values_list("pk", flat=True))
    now = timezone.now()
    Ticket.objects.all().delete()
    rerun(ids, now).run(60)
    first, first_numbers = drafted(), set(Ticket.objects.values_list("number", flat=True))
    Ticket.objects.all().delete()
    rerun(ids, now).run(60)
    assert drafted() == first and len(first) == 60
    # Numbers are reserved, never reused.
    assert not first_numbers & set(Ticket.objects.values_list("number", flat=True))


def test_demo_makes_a_constant_number_of_queries(django_assert_max_num_queries):
    seed(customers=600)
    ids = sorted(Customer.objects.values_list("pk", flat=True))
    now = timezone.now()
    Ticket.objects.all().delete()
    step = rerun(ids, now)
    # Customers, ids and numbers (a few per ticket year), then one batch per table: not one per row.
    with django_assert_max_num_queries(25):
        counts = step.run(600)
    assert counts["tickets"] == 600 and counts["ticket events"] > 1200
