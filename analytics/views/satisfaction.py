"""The satisfaction dashboard (NPS, mean satisfaction, the service-quality gap, the satisfaction–loyalty
matrix) and the customers of one quadrant of the matrix."""

import datetime

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.export import csv_response, table_rows
from service.models import SurveyResponse

from ..models import CustomerGrade, GradingRun
from ..services import satisfaction as services
from ..services.summaries import scoped_figures
from .base import SATISFACTION_ROLES, as_of_context, require_reader, selected_run

PER_PAGE = 50
DIMENSION_LABELS = {
    "tangibles": gettext_lazy("Tangibles"),
    "reliability": gettext_lazy("Reliability"),
    "responsiveness": gettext_lazy("Responsiveness"),
    "assurance": gettext_lazy("Assurance"),
    "empathy": gettext_lazy("Empathy"),
}
QUADRANT_TEXT = {
    services.LOYALISTS: (gettext_lazy("Loyalists (apostles)"), gettext_lazy("Satisfied and loyal")),
    services.HOSTAGES: (gettext_lazy("Hostages"), gettext_lazy("Loyal but dissatisfied")),
    services.MERCENARIES: (gettext_lazy("Mercenaries"), gettext_lazy("Satisfied but not loyal")),
    services.DEFECTORS: (gettext_lazy("Defectors"), gettext_lazy("Neither satisfied nor loyal")),
}
# The matrix as Jones & Sasser draw it: loyalty rising upwards, satisfaction rising to the right.
GRID = ((services.HOSTAGES, services.LOYALISTS), (services.DEFECTORS, services.MERCENARIES))
NPS_GROUP_LABELS = {
    "promoter": gettext_lazy("Promoter"),
    "passive": gettext_lazy("Passive"),
    "detractor": gettext_lazy("Detractor"),
}


def page_as_of(request) -> tuple[GradingRun | None, datetime.date | None, datetime.date]:
    """The run shown (as `selected_run` picks it), the date asked, and the as-of date of the whole page:
    the date asked, else the run's, else today — so the survey figures and the matrix share one date."""
    run, asked = selected_run(request)
    return run, asked, asked or (run.as_of if run else timezone.localdate())


def _customers_url(quadrant: str, as_of: datetime.date) -> str:
    return reverse("analytics:satisfaction_customers") + "?" + urlencode({"quadrant": quadrant, "as_of": as_of})


def _quadrant_rows(matrix: dict, as_of: datetime.date) -> dict:
    rows = {}
    for key in services.QUADRANTS:
        label, description = QUADRANT_TEXT[key]
        rows[key] = {
            "key": key,
            "label": label,
            "description": description,
            **matrix["quadrants"][key],
            "url": _customers_url(key, as_of),
        }
    return rows


def _chart_data(survey: dict) -> dict:
    return {
        "monthly": {
            "labels": [row["month"] for row in survey["monthly"]],
            "nps": [row["nps"] for row in survey["monthly"]],
            "satisfaction": [row["satisfaction"] for row in survey["monthly"]],
            "npsLabel": _("NPS"),
            "satisfactionLabel": _("Mean satisfaction (1–5)"),
        },
        "gaps": {
            "labels": [str(DIMENSION_LABELS[row["dimension"]]) for row in survey["gaps"]],
            "expected": [row["expected"] for row in survey["gaps"]],
            "perceived": [row["perceived"] for row in survey["gaps"]],
            "gap": [row["gap"] for row in survey["gaps"]],
            "expectedLabel": _("Expected"),
            "perceivedLabel": _("Perceived"),
            "gapLabel": _("Gap (perceived − expected)"),
        },
    }


def _export(table: str, *, survey: dict, quadrants: list[dict], as_of: datetime.date):
    if table == "monthly":
        columns = [
            (_("Month"), lambda r: r["month"]),
            (_("Responses"), lambda r: r["responses"]),
            (_("NPS"), lambda r: r["nps"]),
            (_("Mean satisfaction"), lambda r: r["satisfaction"]),
            (_("Promoters"), lambda r: r["promoters"]),
            (_("Passives"), lambda r: r["passives"]),
            (_("Detractors"), lambda r: r["detractors"]),
        ]
        rows = survey["monthly"]
    elif table == "gap":
        columns = [
            (_("Dimension"), lambda r: str(r["label"])),
            (_("Mean expected"), lambda r: r["expected"]),
            (_("Mean perceived"), lambda r: r["perceived"]),
            (_("Gap"), lambda r: r["gap"]),
        ]
        rows = survey["gaps"]
    else:
        columns = [
            (_("Quadrant"), lambda r: str(r["label"])),
            (_("Customers"), lambda r: r["count"]),
            (_("Share (%)"), lambda r: r["share"]),
        ]
        rows = quadrants
    return csv_response(table_rows(columns, rows), stem=f"satisfaction-{table}-{as_of:%Y%m%d}")


def satisfaction_dashboard(request):
    """NPS and satisfaction by month, the five-dimension gap and the satisfaction–loyalty matrix, as of a date;
    `?export=monthly|gap|matrix` downloads that table as CSV."""
    user = request.user
    require_reader(user, SATISFACTION_ROLES)
    run, asked, as_of = page_as_of(request)
    survey = services.survey_figures(responses=SurveyResponse.objects.visible_to(user), as_of=as_of)
    for row in survey["gaps"]:
        row["label"] = DIMENSION_LABELS[row["dimension"]]
    matrix = None
    quadrants = {}
    if run is not None:
        matrix = scoped_figures(user, run=run, key="satisfaction", compute=services.satisfaction_figures)
        quadrants = _quadrant_rows(matrix, as_of)
    export = request.GET.get("export")
    if export in {"monthly", "gap", "matrix"}:
        return _export(export, survey=survey, quadrants=list(quadrants.values()), as_of=as_of)
    return render(
        request,
        "analytics/satisfaction.html",
        {
            **as_of_context(request, run, asked),
            "as_of": as_of,
            "survey": survey,
            "matrix": matrix,
            "quadrants": [quadrants[key] for key in services.QUADRANTS] if matrix else [],
            "grid": [[quadrants[key] for key in row] for row in GRID] if matrix else [],
            "p_alive_missing": bool(matrix and matrix["customers"] and not matrix["with_p_alive"]),
            "satisfied_min": services.SATISFIED_MIN,
            "loyal_min_p_alive": services.LOYAL_MIN_P_ALIVE,
            "chart_data": _chart_data(survey),
            "querystring": urlencode({"as_of": asked}) if asked else "",
        },
    )


def _sort_links(*, quadrant: str, as_of: datetime.date, sort: str) -> dict:
    """For each sortable column: the address that sorts by it (flipping the direction when it is the current
    sort), its arrow and its `aria-sort` value."""
    links = {}
    for key in services.CUSTOMER_SORTS:
        ascending, descending = sort == key, sort == f"-{key}"
        links[key] = {
            "url": "?" + urlencode({"quadrant": quadrant, "as_of": as_of, "sort": f"-{key}" if ascending else key}),
            "arrow": "▲" if ascending else "▼" if descending else "",
            "aria": "ascending" if ascending else "descending" if descending else "none",
        }
    return links


def _customer_columns():
    return [
        (_("Customer"), lambda g: g.customer.name),
        (_("External reference"), lambda g: g.customer.external_ref or ""),
        (_("Latest satisfaction (1–5)"), lambda g: g.latest_satisfaction),
        (_("Likelihood to recommend (0–10)"), lambda g: g.latest_recommend),
        (_("NPS group"), lambda g: str(NPS_GROUP_LABELS[services.nps_group(g.latest_recommend)])),
        (_("State"), lambda g: g.get_state_display()),
        (_("P(alive)"), lambda g: "" if g.p_alive is None else round(g.p_alive, 3)),
    ]


def satisfaction_customers(request):
    """The customers of one quadrant of the matrix (`?quadrant=…&as_of=…`), paginated and sortable;
    `?export=csv` downloads them all."""
    user = request.user
    require_reader(user, SATISFACTION_ROLES)
    quadrant = request.GET.get("quadrant", "")
    if quadrant not in services.QUADRANTS:
        raise Http404(_("No such quadrant."))
    run, asked, as_of = page_as_of(request)
    sort = request.GET.get("sort", "name")
    if sort.lstrip("-") not in services.CUSTOMER_SORTS:
        sort = "name"
    grades = CustomerGrade.objects.none()
    if run is not None:
        grades = services.quadrant_customers(
            run=run, grades=CustomerGrade.objects.visible_to(user), quadrant=quadrant, sort=sort
        )
    if request.GET.get("export") == "csv":
        return csv_response(
            table_rows(_customer_columns(), grades.iterator(chunk_size=2000)),
            stem=f"satisfaction-{quadrant}-{as_of:%Y%m%d}",
        )
    page_obj = Paginator(grades, PER_PAGE).get_page(request.GET.get("page"))
    for grade in page_obj:
        grade.nps_group = services.nps_group(grade.latest_recommend)
        grade.nps_group_label = NPS_GROUP_LABELS[grade.nps_group]
    label, description = QUADRANT_TEXT[quadrant]
    return render(
        request,
        "analytics/satisfaction_customers.html",
        {
            **as_of_context(request, run, asked),
            "keep_params": [("quadrant", quadrant), ("sort", sort)],
            "as_of": as_of,
            "quadrant": quadrant,
            "quadrant_label": label,
            "quadrant_description": description,
            "page_obj": page_obj,
            "grades": page_obj.object_list,
            "sort_links": _sort_links(quadrant=quadrant, as_of=as_of, sort=sort),
            "querystring": urlencode({"quadrant": quadrant, "as_of": as_of, "sort": sort}),
            "dashboard_url": reverse("analytics:satisfaction") + "?" + urlencode({"as_of": as_of}),
            "satisfied_min": services.SATISFIED_MIN,
            "loyal_min_p_alive": services.LOYAL_MIN_P_ALIVE,
        },
    )


urlpatterns = [
    path("satisfaction/", satisfaction_dashboard, name="satisfaction"),
    path("satisfaction/customers/", satisfaction_customers, name="satisfaction_customers"),
]
