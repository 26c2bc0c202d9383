"""Views of the service app: reports."""

import csv

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import roles
from customers.export import neutralise

from .. import reporting
from ..services.reports import complaint_report, complaint_report_rows

# Who reads the monthly complaint report: it names customers and staff performance across all queues.
REPORT_ROLES = (roles.ADMIN, roles.MANAGER, roles.SERVICE_SUPERVISOR)


def _chart(rows: list[dict]) -> dict:
    return {
        "labels": [str(row["label"]) for row in rows],
        "current": [row["current"] for row in rows],
        "previous": [row["previous"] for row in rows],
    }


def complaint_report_view(request):
    """The monthly complaint report (`?month=YYYY-MM`, `?format=csv`); other roles get 404."""
    if not roles.has_role(request.user, *REPORT_ROLES):
        raise Http404(_("No such page."))
    today = timezone.localdate()
    month = reporting.parse_month(request.GET.get("month"), today=today)
    report = complaint_report(month=month)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="complaints-{month}.csv"'
        response.write("\ufeff")  # Excel reads UTF-8 (Chinese) only with a BOM
        writer = csv.writer(response)
        for row in complaint_report_rows(report):
            writer.writerow([neutralise(value) for value in row])
        return response
    charts = {
        "labels": {"current": str(month), "previous": str(report["previous_month"])},
        "category": _chart(report["by_category"][:12]),
        "channel": _chart(report["by_channel"]),
        "priority": _chart(report["by_priority"]),
    }
    context = {
        "report": report,
        "month": month,
        "max_month": f"{today:%Y-%m}",
        "previous_link": str(month.shift(-1)),
        "next_link": str(month.shift(1)) if month.shift(1).first_day <= today else "",
        "charts": charts,
        "generated_at": timezone.now(),
    }
    return render(request, "service/report_complaints.html", context)


urlpatterns = [path("reports/complaints/", complaint_report_view, name="complaint_report")]
