"""The sidebar section of analytics (registered from `AnalyticsConfig.ready`)."""

from django.utils.translation import gettext_lazy as _

from customers import context_processors

from .views.base import DASHBOARD_ROLES, SATISFACTION_ROLES


def register() -> None:
    context_processors.add_section(
        _("Analytics"),
        [
            (_("Customer pyramid"), "analytics:pyramid", "diagram-3", DASHBOARD_ROLES),
            (_("Graded customers"), "analytics:grade_list", "list-ol", DASHBOARD_ROLES),
            (_("Churn and CLV"), "analytics:churn", "activity", DASHBOARD_ROLES),
            (_("Churn alerts"), "analytics:alert_list", "bell", DASHBOARD_ROLES),
            (_("Satisfaction"), "analytics:satisfaction", "emoji-smile", SATISFACTION_ROLES),
            (_("Product analysis"), "analytics:products", "bar-chart", DASHBOARD_ROLES),
        ],
    )
