"""The sales app's sidebar section and home-dashboard cards (registered from `SalesConfig.ready`)."""

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from customers import context_processors, home_cards, roles

from .models import Lead, Opportunity
from .services.pool import pool_customers

SALES_PEOPLE = (roles.ADMIN, roles.SALES_MANAGER, roles.SALES_REP)
SALES_READERS = (roles.ADMIN, roles.MANAGER, roles.SALES_MANAGER, roles.SALES_REP)


def register() -> None:
    context_processors.add_section(
        _("Sales"),
        [
            (_("Leads"), "sales:lead_list", "person-plus", SALES_READERS),
            (_("Opportunities"), "sales:opportunity_list", "briefcase", SALES_READERS),
            (_("Pipeline"), "sales:pipeline", "kanban", SALES_READERS),
            (_("Orders"), "sales:order_list", "receipt", (*SALES_READERS, *roles.SERVICE_ROLES)),
            (_("Products"), "sales:product_list", "box-seam", SALES_READERS),
            (_("Customer pool"), "sales:pool", "inboxes", SALES_PEOPLE),
            (_("Sales targets"), "sales:target_list", "bullseye", SALES_PEOPLE),
            (_("Sales reports"), "sales:reports", "graph-up", SALES_READERS),
            (_("Import orders"), "sales:order_import", "upload", (roles.ADMIN, roles.SALES_MANAGER)),
        ],
    )
    home_cards.register("sales", cards, order=10)


def cards(request) -> list[home_cards.HomeCard]:
    """Open leads, open opportunities and their weighted value, and the pool size, for sales people."""
    user = request.user
    if not roles.has_role(user, *SALES_READERS):
        return []
    weighted = ExpressionWrapper(F("amount") * F("probability") / 100, output_field=DecimalField())
    pipeline = Opportunity.objects.visible_to(user).open().aggregate(count=Count("pk"), weighted=Sum(weighted))
    result = [
        home_cards.HomeCard(_("Open leads"), Lead.objects.visible_to(user).open().count(), reverse("sales:lead_list")),
        home_cards.HomeCard(_("Open opportunities"), pipeline["count"], reverse("sales:opportunity_list")),
        home_cards.HomeCard(
            _("Weighted pipeline"),
            number_format(pipeline["weighted"] or 0, decimal_pos=0, force_grouping=True),
            reverse("sales:pipeline"),
        ),
    ]
    if roles.has_role(user, *SALES_PEOPLE):
        in_pool = pool_customers(user).count()
        result.append(home_cards.HomeCard(_("Customers in the pool"), in_pool, reverse("sales:pool")))
    return result
