"""The churn dashboard: customers at risk, churn rate by month, P(alive), lost and won back, the fitted models.

`?export=<table>` downloads one table as CSV (at_risk, risk_totals, churn_rate, p_alive, transitions, models).
"""

from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from customers.export import csv_response, table_rows
from customers.models import Customer

from .. import reasons
from ..models import ChurnModelRun, RunStatus
from ..services import churn_dashboard
from ..services.summaries import scoped_figures
from .base import as_of_context, require_reader, selected_run

EXPORTS = ("at_risk", "risk_totals", "churn_rate", "p_alive", "transitions", "models")


def churn_dashboard_view(request):
    """The churn dashboard of the selected run, over the customers the reader may see."""
    user = request.user
    require_reader(user)
    run, asked = selected_run(request)
    churn_run = None
    if run is not None:
        churn_run = ChurnModelRun.objects.filter(grading_run=run).select_related("fallback_from").first()
    ready = churn_run is not None and churn_run.status == RunStatus.SUCCEEDED
    figures = None
    if ready:
        figures = scoped_figures(user, run=run, key=churn_dashboard.KEY, compute=churn_dashboard.churn_figures)
        export = request.GET.get("export")
        if export in EXPORTS:
            return _csv(export, figures, churn_run)
    context = {
        **as_of_context(request, run, asked),
        "keep_params": [],
        "churn_run": churn_run,
        "ready": ready,
    }
    if ready:
        context.update(_page(figures, run, churn_run, asked))
    return render(request, "analytics/churn.html", context)


def _risk_label(code: str) -> str:
    return str(Customer.ChurnRisk(code).label) if code in Customer.ChurnRisk.values else code


def _percent(share) -> float | None:
    return None if share is None else round(100 * share, 1)


def _page(figures: dict, run, churn_run, asked) -> dict:
    """What the template shows, made from the figures (reasons in the reader's language, links)."""
    at_risk = [
        {
            **row,
            "risk_label": _risk_label(row["churn_risk"]),
            "reason_texts": [reasons.describe(reason) for reason in row["reasons"]],
            "url": reverse("customers:detail", args=[row["customer_id"]]),
        }
        for row in figures["at_risk"]
    ]
    totals = [{**row, "risk_label": _risk_label(row["churn_risk"])} for row in figures["risk_totals"]]
    churn_rate = [{**row, "percent": _percent(row["rate"])} for row in figures["churn_rate"]]
    bins = figures["p_alive_bins"]
    query = {"churn_risk": Customer.ChurnRisk.HIGH}
    if asked:
        query["as_of"] = run.as_of.isoformat()
    by_risk = {row["churn_risk"]: row for row in totals}
    k, floor = churn_dashboard.churn_rule(run)
    chart_data = {
        "riskTotals": {
            "labels": [row["risk_label"] for row in totals],
            "customers": [row["customers"] for row in totals],
            "value": [row["value"] for row in totals],
            "customersLabel": _("Customers"),
            "valueLabel": _("Value at risk"),
        },
        "churnRate": {
            "labels": [row["month"] for row in churn_rate],
            "percent": [row["percent"] for row in churn_rate],
            "label": _("Churn rate (%)"),
        },
        "pAlive": {
            "labels": [_bin_label(row) for row in bins],
            "counts": [row["count"] for row in bins],
            "label": _("Customers"),
        },
    }
    return {
        "figures": figures,
        "at_risk": at_risk,
        "at_risk_total": by_risk["high"]["customers"] + by_risk["medium"]["customers"],
        "high": by_risk["high"],
        "medium": by_risk["medium"],
        "risk_totals": totals,
        "churn_rate": churn_rate,
        "p_alive_bins": [{**row, "label": _bin_label(row)} for row in bins],
        "transitions": figures["transitions"],
        "full_list_url": f"{reverse('analytics:grade_list')}?{urlencode(query)}",
        "chart_data": chart_data,
        "rule_k": f"{k:g}",
        "rule_floor": floor,
        "models": _models(churn_run),
    }


def _bin_label(row: dict) -> str:
    return f"{row['low']:.1f}–{row['high']:.1f}"


def _models(churn_run: ChurnModelRun) -> dict:
    """The fitted parameters as shown, with where they come from when a fit did not converge."""
    fallback = churn_run.fallback_from
    return {
        "bgnbd": [
            ("r", churn_run.bgnbd_r),
            ("α", churn_run.bgnbd_alpha),
            ("a", churn_run.bgnbd_a),
            ("b", churn_run.bgnbd_b),
            (_("log-likelihood"), churn_run.bgnbd_loglik),
            ("n", churn_run.bgnbd_n),
        ],
        "gammagamma": [
            ("p", churn_run.gg_p),
            ("q", churn_run.gg_q),
            ("γ", churn_run.gg_gamma),
            (_("log-likelihood"), churn_run.gg_loglik),
            ("n", churn_run.gg_n),
        ],
        "bgnbd_converged": churn_run.bgnbd_converged,
        "gg_converged": churn_run.gg_converged,
        "fallback_date": fallback.as_of if fallback else None,
    }


def _csv(table: str, figures: dict, churn_run: ChurnModelRun):
    stem = f"churn-{table}-{churn_run.as_of:%Y%m%d}"
    if table == "at_risk":
        columns = [
            (_("Customer"), lambda r: r["name"]),
            (_("Account manager"), lambda r: r["owner"]),
            (_("Churn risk"), lambda r: _risk_label(r["churn_risk"])),
            (_("P(alive)"), lambda r: "" if r["p_alive"] is None else round(r["p_alive"], 4)),
            (_("Value at risk"), lambda r: r["value"]),
            (_("Reasons"), lambda r: " ".join(reasons.describe(reason) for reason in r["reasons"])),
        ]
        rows = figures["at_risk"]
    elif table == "risk_totals":
        columns = [
            (_("Churn risk"), lambda r: _risk_label(r["churn_risk"])),
            (_("Customers"), lambda r: r["customers"]),
            (_("Value at risk"), lambda r: r["value"]),
        ]
        rows = figures["risk_totals"]
    elif table == "churn_rate":
        columns = [
            (_("Month"), lambda r: r["month"]),
            (_("Active at the start"), lambda r: r["active"]),
            (_("Churned"), lambda r: r["churned"]),
            (_("Churn rate (%)"), lambda r: "" if r["rate"] is None else round(100 * r["rate"], 2)),
        ]
        rows = figures["churn_rate"]
    elif table == "p_alive":
        columns = [(_("P(alive)"), _bin_label), (_("Customers"), lambda r: r["count"])]
        rows = figures["p_alive_bins"]
    elif table == "transitions":
        transitions = figures["transitions"]
        columns = [
            (_("Period"), lambda r: r[0]),
            (_("Lost"), lambda r: r[1]["lost"]),
            (_("Won back"), lambda r: r[1]["won_back"]),
        ]
        rows = [
            (_("This run (%(date)s)") % {"date": churn_run.as_of.isoformat()}, transitions["run"]),
            (_("12 months since %(date)s") % {"date": transitions["since"]}, transitions["year"]),
        ]
    else:
        models = _models(churn_run)
        columns = [(_("Model"), lambda r: r[0]), (_("Parameter"), lambda r: str(r[1])), (_("Value"), lambda r: r[2])]
        rows = [("BG/NBD", name, value) for name, value in models["bgnbd"]]
        rows += [("Gamma-Gamma", name, value) for name, value in models["gammagamma"]]
        rows += [
            ("BG/NBD", _("converged"), _("yes") if models["bgnbd_converged"] else _("no")),
            ("Gamma-Gamma", _("converged"), _("yes") if models["gg_converged"] else _("no")),
        ]
    return csv_response(table_rows(columns, rows), stem=stem)


urlpatterns = [path("churn/", churn_dashboard_view, name="churn")]
