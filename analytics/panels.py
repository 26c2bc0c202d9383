"""360-page panels of analytics: the customer's grade history and state changes.

Both are for readers of the analytics dashboards only (`DASHBOARD_ROLES`): customer value is a
commercial secret, so for anyone else the context is None and the templates render nothing. The
360 view has already checked that the reader may see the customer. Each panel runs a constant
number of queries, whatever the customer's history.
"""

from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.panels import MAIN, SIDE, Panel, register

from .models import CustomerGrade, RfmSegment, StateTransition
from .segments import segment_label
from .views.base import DASHBOARD_ROLES

HISTORY_RUNS = 12
TRANSITION_LIMIT = 20


def _reads_analytics(user) -> bool:
    return roles.has_role(user, *DASHBOARD_ROLES)


def grade_history(request, customer) -> dict | None:
    """The customer's grades in the last 12 succeeded runs, newest first (two queries)."""
    if not _reads_analytics(request.user):
        return None
    grades = list(
        CustomerGrade.objects.filter(customer=customer, run__status="succeeded")
        .select_related("run")
        .order_by("-run__as_of")[:HISTORY_RUNS]
    )
    # Segment names as each run's rule gives them (one query for all rules).
    names: dict[int, dict[str, str]] = {}
    segments = RfmSegment.objects.filter(rule_id__in={g.run.rule_id for g in grades})
    for rule_id, key, name in segments.values_list("rule_id", "key", "name"):
        names.setdefault(rule_id, {})[key] = name
    return {
        "rows": [
            {
                "grade": grade,
                "segment": segment_label(grade.segment, names.get(grade.run.rule_id)) if grade.segment else "",
            }
            for grade in grades
        ]
    }


def state_changes(request, customer) -> dict | None:
    """The customer's state changes between runs, newest first (one query)."""
    if not _reads_analytics(request.user):
        return None
    rows = list(StateTransition.objects.filter(customer=customer).order_by("-as_of", "-pk")[: TRANSITION_LIMIT + 1])
    return {"transitions": rows[:TRANSITION_LIMIT], "more": len(rows) > TRANSITION_LIMIT}


def register_panels() -> None:
    """Register the analytics panels of the customer 360 page."""
    register(Panel("grade_history", _("Grade history"), "analytics/panels/grade_history.html", grade_history, 70, MAIN))
    register(Panel("state_changes", _("State changes"), "analytics/panels/state_changes.html", state_changes, 30, SIDE))
