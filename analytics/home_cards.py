"""Home-dashboard cards of analytics: at-risk customers and open churn alerts.

Registered from `AnalyticsConfig.ready` (`home_cards.register()`)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from customers import home_cards, roles

from .models import ChurnAlert, ChurnModelRun, CustomerGrade, RunStatus
from .services import churn_dashboard
from .services.summaries import scope_of, stored_figures
from .views.base import DASHBOARD_ROLES


def register() -> None:
    home_cards.register("analytics", cards, order=30)


def high_risk_count(user, churn_run: ChurnModelRun) -> int:
    """High-risk customers the user may see in `churn_run`'s grades: from the figures the job stored
    for the user's scope, else one count."""
    stored = stored_figures(run=churn_run.grading_run_id, key=churn_dashboard.KEY, scope=scope_of(user))
    if stored:
        totals = {row["churn_risk"]: row["customers"] for row in stored["risk_totals"]}
        return totals.get("high", 0)
    grades = CustomerGrade.objects.visible_to(user).filter(run_id=churn_run.grading_run_id)
    return grades.filter(churn_risk="high").count()


def cards(request) -> list[home_cards.HomeCard]:
    """A rep's own high-risk customers and unresolved alerts; everyone's for those who see every customer."""
    user = request.user
    if not roles.has_role(user, *DASHBOARD_ROLES):
        return []
    latest = ChurnModelRun.objects.filter(status=RunStatus.SUCCEEDED).only("pk", "grading_run_id")
    churn_run = latest.order_by("-as_of").first()
    at_risk = high_risk_count(user, churn_run) if churn_run else 0
    open_alerts = ChurnAlert.objects.visible_to(user).unresolved().count()
    return [
        home_cards.HomeCard(_("At-risk customers"), at_risk, reverse("analytics:churn"), alert=at_risk > 0),
        home_cards.HomeCard(
            _("Open churn alerts"), open_alerts, reverse("analytics:alert_list"), alert=open_alerts > 0
        ),
    ]
