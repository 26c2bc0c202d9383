"""The service app's sidebar section and home-dashboard cards (registered from `ServiceConfig.ready`)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from customers import context_processors, home_cards, roles

from .models import Ticket

REPORT_READERS = (roles.ADMIN, roles.MANAGER, roles.SERVICE_SUPERVISOR)
# Sales people see the tickets of their own customers (Ticket.objects.visible_to).
TICKET_READERS = (*REPORT_READERS, roles.SERVICE_AGENT, roles.SALES_MANAGER, roles.SALES_REP)


def register() -> None:
    context_processors.add_section(
        _("Service"),
        [
            (_("Tickets"), "service:ticket_list", "life-preserver", TICKET_READERS),
            (_("Complaint report"), "service:complaint_report", "clipboard-data", REPORT_READERS),
        ],
    )
    home_cards.register("service", cards, order=20)


def cards(request) -> list[home_cards.HomeCard]:
    """My open tickets and the tickets breaching their SLA, for service staff."""
    user = request.user
    if not roles.has_role(user, *roles.SERVICE_ROLES):
        return []
    tickets = Ticket.objects.visible_to(user)
    queue = reverse("service:ticket_list")
    breaching = tickets.breaching().count()
    return [
        home_cards.HomeCard(_("My open tickets"), tickets.open().filter(assignee=user).count(), f"{queue}?tab=mine"),
        home_cards.HomeCard(_("Breaching SLA"), breaching, f"{queue}?tab=breaching", alert=breaching > 0),
    ]
