"""Churn alerts: the list (filters, sorting, CSV), an alert's page, and the status change.

Every view starts from `ChurnAlert.objects.visible_to(user)` behind the dashboard roles, so an alert
on a customer the user may not see is a 404, for pages and POST actions alike. Changes need the
right to edit the customer (`Customer.objects.editable_by`): managers read only.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_filters.views import FilterView

from customers.export import csv_response, table_rows

from .. import reasons
from ..forms import AlertStatusForm, ChurnAlertFilter
from ..models import ChurnAlert
from ..services import alerts as services
from .base import require_reader

PAGE_SIZE = 25


def _alerts(user):
    """The alerts `user` may see, with what the list and the page show (404 for other roles)."""
    require_reader(user)
    return ChurnAlert.objects.visible_to(user).select_related("customer__owner", "task", "updated_by")


def _reason_texts(alert: ChurnAlert) -> list[str]:
    return [reasons.describe(reason) for reason in alert.reasons or []]


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


class AlertListView(FilterView):
    filterset_class = ChurnAlertFilter
    template_name = "analytics/alert_list.html"
    context_object_name = "alerts"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        return _alerts(self.request.user)

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "user": self.request.user}

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            self.filterset = self.get_filterset(self.get_filterset_class())
            rows = self.filterset.qs if self.filterset.is_valid() else self.get_queryset().none()
            return _csv(rows)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for alert in context["alerts"]:
            alert.reason_texts = _reason_texts(alert)
        query = self.request.GET.copy()
        for key in ("page", "export"):
            query.pop(key, None)
        context.update(
            querystring=query.urlencode(),
            show_owner=self.filterset.show_owner,
            filtered=self.filterset.has_filters,
        )
        return context


def _csv(alerts):
    columns = [
        (_("Customer"), lambda a: a.customer.name),
        (_("Account manager"), lambda a: _person(a.customer.owner)),
        (_("Status"), lambda a: a.get_status_display()),
        (_("Opened on"), lambda a: a.opened_on.isoformat()),
        (_("P(alive)"), lambda a: "" if a.p_alive is None else round(a.p_alive, 4)),
        (_("Value at risk"), lambda a: a.value_at_risk),
        (_("Reasons"), lambda a: " ".join(_reason_texts(a))),
        (_("Win-back task done"), lambda a: "" if a.task is None else (_("yes") if a.task.done else _("no"))),
        (_("Updated by"), lambda a: _person(a.updated_by)),
        (_("Closed"), lambda a: a.closed_at.strftime("%Y-%m-%d %H:%M") if a.closed_at else ""),
        (_("Note"), lambda a: a.note),
    ]
    return csv_response(table_rows(columns, alerts.iterator(chunk_size=2000)), stem="churn-alerts")


def _detail(request, alert: ChurnAlert, *, form=None, conflict=None, status=200):
    """The alert's page; `form` and `conflict` when a change is shown again (invalid or stale)."""
    user = request.user
    can_change = services.can_change_alert(user, alert)
    next_statuses = services.next_statuses(alert)
    if can_change and next_statuses and form is None:
        form = AlertStatusForm(alert=alert, next_statuses=next_statuses)
    context = {
        "alert": alert,
        "reason_texts": _reason_texts(alert),
        "can_change": can_change,
        "form": form if can_change and next_statuses else None,
        "conflict": conflict,
        "updated_by": _person(alert.updated_by),
    }
    return render(request, "analytics/alert_detail.html", context, status=status)


def alert_detail(request, pk):
    """One alert: the customer, why, what is at stake, the win-back task, and the status change."""
    alert = get_object_or_404(_alerts(request.user), pk=pk)
    return _detail(request, alert)


@require_POST
def alert_set_status(request, pk):
    """Move an alert on (contacted, won back, lost); a stale form is shown again with the person's input."""
    alert = get_object_or_404(_alerts(request.user), pk=pk)
    if not services.can_change_alert(request.user, alert):
        raise PermissionDenied(_("You can see this alert but not change it."))
    form = AlertStatusForm(request.POST, alert=alert, next_statuses=services.next_statuses(alert))
    posted_version = request.POST.get("version", "")
    if posted_version.isdigit() and int(posted_version) != alert.version:
        # Someone changed the alert since this form was loaded: whatever the form says, show it
        # again over the alert as it is now, with the person's status and note kept.
        return _conflict(request, alert, form)
    if not services.next_statuses(alert):
        messages.error(request, _("This alert is resolved; its status no longer changes."))
        return _detail(request, alert, status=400)
    if not form.is_valid():
        return _detail(request, alert, form=form, status=400)
    data = form.cleaned_data
    try:
        services.alert_set_status(
            alert=alert, status=data["status"], note=data["note"], actor=request.user, version=data["version"]
        )
    except services.AlertConflict as conflict:
        return _conflict(request, conflict.current, form)
    except ValidationError as error:
        form.add_error(None, error)
        return _detail(request, alert, form=form, status=400)
    messages.success(request, _("The alert is now “%(status)s”.") % {"status": ChurnAlert.Status(data["status"]).label})
    return HttpResponseRedirect(reverse("analytics:alert_detail", args=[alert.pk]))


def _conflict(request, current: ChurnAlert, stale_form):
    """The alert as saved now, with a form at its version holding what the person posted."""
    current = get_object_or_404(_alerts(request.user), pk=current.pk)
    next_statuses = services.next_statuses(current)
    posted = {
        "status": stale_form.data.get("status", ""),
        "note": stale_form.data.get("note", ""),
        "version": current.version,
    }
    if posted["status"] not in next_statuses:
        posted["status"] = ""
    form = AlertStatusForm(initial=posted, alert=current, next_statuses=next_statuses)
    conflict = {
        "by": _person(current.updated_by),
        "at": current.updated_at,
        "status": current.get_status_display(),
        "note": stale_form.data.get("note", ""),
    }
    return _detail(request, current, form=form, conflict=conflict, status=409)


urlpatterns = [
    path("alerts/", AlertListView.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/status/", alert_set_status, name="alert_set_status"),
]
