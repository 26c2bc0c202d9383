"""What every analytics page shares: who may read it, which run it shows, and "compute as of"."""

import datetime

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customers import roles

from ..models import GradingRun

# Customer value and profit are commercial secrets: service agents see only the satisfaction page.
DASHBOARD_ROLES = (
    roles.ADMIN,
    roles.MANAGER,
    roles.SALES_MANAGER,
    roles.SALES_REP,
    roles.MARKETING,
    roles.SERVICE_SUPERVISOR,
)
SATISFACTION_ROLES = (*DASHBOARD_ROLES, roles.SERVICE_AGENT)
# Who may start a computation as of another date (it grades every customer).
COMPUTE_ROLES = (roles.ADMIN, roles.MANAGER)


def require_reader(user, allowed=DASHBOARD_ROLES) -> None:
    """404 for users whose roles do not open the page (as for any object they may not see)."""
    if not roles.has_role(user, *allowed):
        raise Http404(_("No such page."))


def parse_as_of(value: str | None) -> datetime.date | None:
    """The `as_of` query parameter as a date; None when absent or not a date."""
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def selected_run(request) -> tuple[GradingRun | None, datetime.date | None]:
    """The grading run the page shows and the date asked for.

    `?as_of=YYYY-MM-DD` picks the run of that date (None when there is none, so the page can offer
    to compute it); without it, the latest succeeded run."""
    asked = parse_as_of(request.GET.get("as_of"))
    runs = GradingRun.objects.succeeded().select_related("rule")
    if asked is not None:
        return runs.filter(as_of=asked).first(), asked
    return runs.order_by("-as_of").first(), None


def as_of_context(request, run: GradingRun | None, asked: datetime.date | None) -> dict:
    """Context of `partials/as_of.html`: the run shown, the other runs to pick, the compute offer."""
    return {
        "run": run,
        "asked_as_of": asked,
        "recent_runs": list(GradingRun.objects.succeeded().order_by("-as_of").values_list("as_of", flat=True)[:24]),
        "can_compute": roles.has_role(request.user, *COMPUTE_ROLES),
        "today": timezone.localdate(),
    }


@require_POST
def compute_as_of(request):
    """Queue grading and churn detection as of the posted date (admins and managers)."""
    from .. import tasks

    require_reader(request.user, COMPUTE_ROLES)
    as_of = parse_as_of(request.POST.get("as_of"))
    today = timezone.localdate()
    back = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    if as_of is None or as_of > today:
        messages.error(request, _("Give a date that is not in the future."))
        return redirect(back)
    tasks.detect_churn.delay_on_commit(as_of.isoformat())
    messages.success(
        request,
        _("The figures as of %(date)s are being computed; reload this page in a minute.") % {"date": as_of},
    )
    return redirect(back)


urlpatterns = [path("compute/", compute_as_of, name="compute")]
