"""The "Suggested next products" panel of the customer 360 page (registered from `AnalyticsConfig.ready`)."""

from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.panels import MAIN, Panel, register

from .services import crosssell
from .views.base import DASHBOARD_ROLES


def suggested_products(request, customer) -> dict | None:
    """Cross-sell and up-sell suggestions for readers of the dashboards (six queries at most)."""
    if not roles.has_role(request.user, *DASHBOARD_ROLES):
        # Margins and what sells with what are commercial figures: service agents get no panel.
        return None
    run = crosssell.latest_association_run()
    return {"run": run, **crosssell.customer_suggestions(request.user, customer=customer, run=run)}


def register_panel() -> None:
    """Register the "Suggested next products" panel."""
    register(
        Panel(
            "suggested_products",
            _("Suggested next products"),
            "analytics/panels/suggested_products.html",
            suggested_products,
            45,
            MAIN,
        )
    )
