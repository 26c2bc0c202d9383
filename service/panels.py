"""Service panels of the customer 360 page (registered from `ServiceConfig.ready`)."""

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.panels import MAIN, Panel, register

RECENT_TICKETS = 5


def tickets(request, customer):
    """The customer's latest tickets the user may see, with open and complaint counts (three queries)."""
    from .models import Ticket
    from .views.tickets import can_work, sla_state

    visible = Ticket.objects.visible_to(request.user).filter(customer=customer)
    recent = list(visible.select_related("assignee").order_by("-created_at", "-pk")[:RECENT_TICKETS])
    now = timezone.now()
    for ticket in recent:
        ticket.sla_state = sla_state(ticket, now)
    totals = visible.order_by().aggregate(
        total=Count("pk"),
        open=Count("pk", filter=~Q(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])),
        complaints=Count("pk", filter=Q(type=Ticket.Type.COMPLAINT)),
    )
    return {
        "tickets": recent,
        "totals": totals,
        "can_create": can_work(request.user),
    }


def register_panels() -> None:
    """Register the tickets panel (the survey-responses panel lives in `survey_panels`)."""
    register(Panel("tickets", _("Tickets"), "service/panels/tickets.html", tickets, 50, MAIN))
