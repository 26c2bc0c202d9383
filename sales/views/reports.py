"""Sales reports (funnel, win rate, cycle, forecast, leaderboard) and the monthly target grid."""

import csv
import datetime

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from customers.export import neutralise

from .. import reporting
from ..forms.reports import ReportFilterForm, TargetFormSet
from ..models import Pipeline, SalesTarget
from ..services import reports as services


def _filters(form) -> services.ReportFilter:
    """The period and scope asked for, or this quarter in the default pipeline when the form is invalid."""
    if form.is_valid():
        data = form.cleaned_data
        return services.ReportFilter(
            start=data["start"], end=data["end"], pipeline=data["pipeline"], team=data["team"], rep=data["rep"]
        )
    start, end = reporting.quarter_of(timezone.localdate())
    return services.ReportFilter(start=start, end=end, pipeline=Pipeline.objects.filter(is_default=True).first())


def sales_reports(request):
    """The reports page; `?export=funnel|forecast|leaderboard` downloads that table as CSV."""
    user = request.user
    if not services.can_see_reports(user):
        raise Http404
    start, end = reporting.quarter_of(timezone.localdate())
    initial = {"start": start, "end": end, "measure": "orders"}
    default_pipeline = Pipeline.objects.filter(is_default=True).values_list("pk", flat=True).first()
    data = {**{k: v.isoformat() for k, v in initial.items() if isinstance(v, datetime.date)}, "measure": "orders"}
    if default_pipeline:
        data["pipeline"] = default_pipeline
    data.update(request.GET.dict())
    reps = services.reps_for(user)
    form = ReportFilterForm(data, teams=services.teams_for(user), reps=reps)
    filters = _filters(form)
    measure = form.cleaned_data.get("measure", "orders") if form.is_valid() else "orders"
    report = services.sales_report(user, filters, measure=measure)
    export = request.GET.get("export")
    if export in {"funnel", "forecast", "leaderboard"}:
        return _csv(export, report)
    chart_data = {
        "funnel": {
            "labels": [s.name for s in report.funnel],
            "counts": [s.count for s in report.funnel],
            "amounts": [float(s.amount) for s in report.funnel],
            "countLabel": _("Opportunities"),
        },
        "forecast": {
            "labels": [date_format(r["month"], "Y-m") for r in report.forecast],
            "weighted": [float(r["weighted"]) for r in report.forecast],
            "amount": [float(r["amount"]) for r in report.forecast],
            "weightedLabel": _("Weighted amount"),
            "amountLabel": _("Amount"),
        },
        "leaderboard": {
            "labels": [r["name"] for r in report.leaderboard],
            "actual": [float(r["actual"]) for r in report.leaderboard],
            "target": [float(r["target"]) if r["target"] is not None else None for r in report.leaderboard],
            "actualLabel": _("Actual"),
            "targetLabel": _("Target"),
        },
    }
    query = request.GET.copy()
    query.pop("export", None)
    return render(
        request,
        "sales/reports.html",
        {
            "form": form,
            "report": report,
            "filters": filters,
            "chart_data": chart_data,
            "querystring": query.urlencode(),
            "show_team": services.teams_for(user).exists(),
            "measure": measure,
            "forecast_total": {
                "count": sum(r["count"] for r in report.forecast),
                "amount": sum((r["amount"] for r in report.forecast), reporting.ZERO),
                "weighted": sum((r["weighted"] for r in report.forecast), reporting.ZERO),
            },
        },
    )


def _csv(table: str, report) -> HttpResponse:
    if table == "funnel":
        header = [_("Stage"), _("Opportunities"), _("Amount"), _("Conversion from previous stage (%)")]
        rows = [[s.name, s.count, s.amount, "" if s.conversion is None else s.conversion] for s in report.funnel]
    elif table == "forecast":
        header = [_("Close month"), _("Opportunities"), _("Amount"), _("Weighted amount")]
        rows = [[f"{r['month']:%Y-%m}", r["count"], r["amount"], r["weighted"]] for r in report.forecast]
    else:
        header = [_("Rep"), _("Order amount"), _("Won amount"), _("Target"), _("Target reached")]
        rows = [
            [
                r["name"],
                r["orders_amount"],
                r["won_amount"],
                r["target"] if r["target"] is not None else "",
                r["percent"] or "",
            ]
            for r in report.leaderboard
        ]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filters = report.filters
    response["Content-Disposition"] = (
        f'attachment; filename="sales-{table}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"'
    )
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
    return response


def target_list(request):
    """Monthly targets, rep × month for one year: sales managers edit their teams', admins everyone's;
    reps and managers read."""
    user = request.user
    if not services.can_see_reports(user):
        raise Http404
    today = timezone.localdate()
    year_text = request.GET.get("year", "")
    year = int(year_text) if year_text.isdigit() and 2000 <= int(year_text) <= 2100 else today.year
    can_edit = services.can_set_targets(user)
    reps = list((services.target_reps(user) if can_edit else services.reps_for(user)).order_by("username"))
    targets = SalesTarget.objects.visible_to(user).filter(rep__in=[r.pk for r in reps], month__year=year)
    amounts = {(t.rep_id, t.month.month): t.amount for t in targets}
    initial = [{"rep": rep.pk, **{f"m{m}": amounts.get((rep.pk, m)) for m in range(1, 13)}} for rep in reps]
    if request.method == "POST":
        if not can_edit:
            raise Http404
        formset = TargetFormSet(request.POST, initial=initial)
        if formset.is_valid():
            rows = {
                form.cleaned_data["rep"]: {m: form.cleaned_data.get(f"m{m}") for m in range(1, 13)}
                for form in formset
                if form.cleaned_data
            }
            try:
                counts = services.targets_save(actor=user, year=year, amounts=rows)
            except PermissionError as exc:
                raise Http404 from exc
            messages.success(
                request,
                _("Targets saved: %(created)s new, %(changed)s changed, %(cleared)s cleared.") % counts,
            )
            return redirect(f"{request.path}?year={year}")
    else:
        formset = TargetFormSet(initial=initial)
    by_rep = {rep.pk: rep for rep in reps}
    grid = []
    for form in formset:
        value = str(form["rep"].value())
        rep_id = int(value) if value.isdigit() else None
        values = [amounts.get((rep_id, m)) for m in range(1, 13)]
        grid.append(
            {
                "form": form,
                "rep": by_rep.get(rep_id),
                "values": values,
                "total": sum((v for v in values if v is not None), reporting.ZERO),
            }
        )
    months = [datetime.date(year, m, 1) for m in range(1, 13)]
    return render(
        request,
        "sales/target_list.html",
        {
            "formset": formset,
            "grid": grid,
            "months": months,
            "year": year,
            "years": [year - 1, year, year + 1],
            "can_edit": can_edit,
        },
    )


urlpatterns = [
    path("reports/", sales_reports, name="reports"),
    path("targets/", target_list, name="target_list"),
]
