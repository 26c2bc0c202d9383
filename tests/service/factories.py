"""Factories of the service app (the customers' ones are in tests/factories.py)."""

import datetime

import factory
from django.utils import timezone

from service.models import Priority, SlaPolicy, Ticket, TicketCategory, TicketEvent
from tests.factories import CustomerFactory


class TicketCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketCategory

    name = factory.Sequence(lambda n: f"Category {n}")


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"SLA {n}")
    priority = Priority.NORMAL
    tier = ""
    first_response_minutes = 240
    resolution_minutes = 24 * 60
    business_hours_only = False
    day_starts = datetime.time(9)
    day_ends = datetime.time(18)


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket written directly (no SLA computation or events: use services.tickets.ticket_create for those)."""

    class Meta:
        model = Ticket

    # Year 2000 keeps factory numbers apart from the ones `ticket_create` hands out this year.
    number = factory.Sequence(lambda n: f"T-2000-{n + 1:06d}")
    type = Ticket.Type.INQUIRY
    channel = Ticket.Channel.PHONE
    priority = Priority.NORMAL
    status = Ticket.Status.NEW
    subject = factory.Sequence(lambda n: f"Ticket subject {n}")
    customer = factory.SubFactory(CustomerFactory)
    created_at = factory.LazyFunction(timezone.now)


class TicketEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketEvent

    ticket = factory.SubFactory(TicketFactory)
    kind = TicketEvent.Kind.NOTE
    body = "A note"
