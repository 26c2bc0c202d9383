"""Product analyses (sales composition, margin, turnover, cross ratio, contribution, bought together)
and the inventory snapshot import."""

import datetime

from django import forms
from django.contrib import messages
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from customers import roles
from customers.export import csv_response, table_rows
from customers.forms import ImportForm

from ..models import InventorySnapshot
from ..services import crosssell
from ..services import inventory as inventory_import
from ..services import products as services
from .base import as_of_context, require_reader, selected_run

# Who may import inventory snapshots (besides holders of the model's "add" permission): managers
# read everything but change nothing (DESIGN.md "Who sees what").
IMPORT_ROLES = (roles.ADMIN,)
# A period longer than this is refused (it would only scan the whole history for nothing).
MAX_PERIOD_DAYS = 3 * 366
TOP_ASSOCIATIONS = 20
RECENT_SNAPSHOT_DAYS = 10

# The figures of each table row after its name columns: (key, header, kind).
FIGURE_COLUMNS = (
    ("quantity", gettext_lazy("Quantity"), "quantity"),
    ("revenue", gettext_lazy("Revenue"), "money"),
    ("share", gettext_lazy("Share of revenue"), "percent"),
    ("cost", gettext_lazy("Cost"), "money"),
    ("margin_rate", gettext_lazy("Gross margin rate"), "percent"),
    ("inventory", gettext_lazy("Average inventory at cost"), "money"),
    ("turnover", gettext_lazy("Turnover rate"), "times"),
    ("cross_ratio", gettext_lazy("Cross ratio"), "percent"),
    ("contribution", gettext_lazy("Contribution ratio"), "percent"),
)


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The period must start before it ends."))
            if (end - start).days > MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("The period may be at most three years long."))
        return data


def can_import_inventory(user) -> bool:
    """Admins import inventory snapshots, and anyone given the model's "add" permission."""
    return roles.has_role(user, *IMPORT_ROLES) or user.has_perm("analytics.add_inventorysnapshot")


# Formatting ------------------------------------------------------------------------------------


def _text(value, kind: str) -> str:
    """A figure as the page shows it; "—" when it has no meaning (no revenue, no snapshot)."""
    if value is None:
        return "—"
    # number_format cuts floats off at the decimals asked for: round first.
    if kind == "percent":
        return f"{number_format(round(value * 100, 1), 1, use_l10n=True, force_grouping=True)}%"
    if kind == "times":
        return f"{number_format(round(value, 2), 2, use_l10n=True)}×"
    if kind == "quantity" and float(value).is_integer():
        return number_format(int(value), 0, use_l10n=True, force_grouping=True)
    return number_format(round(value, 2), 2, use_l10n=True, force_grouping=True)


def _csv_value(value, kind: str):
    """A figure for the CSV: percentages as percent, None as an empty cell."""
    if value is None:
        return ""
    if kind == "percent":
        return round(value * 100, 4)
    if kind == "times":
        return round(value, 4)
    return round(value, 2)


def _cells(row: dict) -> list[dict]:
    return [
        {"text": _text(row[key], kind), "sort": "" if row[key] is None else repr(float(row[key]))}
        for key, _header, kind in FIGURE_COLUMNS
    ]


def _product_label(row: dict) -> str:
    return row["name"] or (_("No product") if row["product_id"] is None else row["sku"])


def _category_label(row: dict) -> str:
    if row["no_product"]:
        return _("No product")
    return row["category"] or _("No category")


def _tables(figures: dict) -> dict:
    """The rows of the product and category tables, ready to print and to sort."""
    products = [
        {
            "label": _product_label(row),
            "sku": row["sku"],
            "category": row["category"] if row["product_id"] is not None else "",
            "url": reverse("sales:product_detail", args=[row["product_id"]]) if row["product_id"] else "",
            "muted": row["product_id"] is None,
            "cells": _cells(row),
        }
        for row in figures["products"]
    ]
    categories = [
        {"label": _category_label(row), "muted": row["no_product"], "cells": _cells(row)}
        for row in figures["categories"]
    ]
    return {"products": products, "categories": categories, "totals": _cells(figures["totals"])}


def _association_rows(associations) -> list[dict]:
    """The bought-together rules as the table prints them."""
    return [
        {
            "antecedent": rule.antecedent.name,
            "consequent": rule.consequent.name,
            "cells": [
                {"text": _text(value, kind), "sort": repr(float(value))}
                for value, kind in (
                    (rule.together, "quantity"),
                    (rule.support, "percent"),
                    (rule.confidence, "percent"),
                    (rule.lift, "number"),
                )
            ],
        }
        for rule in associations
    ]


def _kpis(totals: dict) -> dict:
    kinds = {key: kind for key, _header, kind in FIGURE_COLUMNS}
    return {key: _text(totals[key], kinds[key]) for key in ("revenue", "margin_rate", "turnover", "cross_ratio")}


def _chart_data(figures: dict) -> dict:
    top = [row for row in figures["products"] if row["revenue"] > 0][: services.CHART_PRODUCTS]
    return {
        "composition": {
            "labels": [_category_label(row) for row in figures["categories"] if row["revenue"] > 0],
            "revenue": [round(row["revenue"], 2) for row in figures["categories"] if row["revenue"] > 0],
        },
        "margins": {
            "labels": [_product_label(row) for row in top],
            "margin": [None if row["margin_rate"] is None else round(row["margin_rate"] * 100, 2) for row in top],
            "turnover": [None if row["turnover"] is None else round(row["turnover"], 4) for row in top],
            "marginLabel": _("Gross margin rate (%)"),
            "turnoverLabel": _("Turnover rate (×)"),
        },
    }


# CSV -----------------------------------------------------------------------------------------------


def _figure_columns():
    return [
        (header, (lambda row, key=key, kind=kind: _csv_value(row[key], kind))) for key, header, kind in FIGURE_COLUMNS
    ]


def _export(table: str, figures: dict, associations, start, end):
    stem = f"products-{table}-{start:%Y%m%d}-{end:%Y%m%d}"
    if table == "products":
        columns = [
            (_("SKU"), lambda row: row["sku"]),
            (_("Product"), _product_label),
            (_("Category"), lambda row: row["category"]),
            *_figure_columns(),
        ]
        return csv_response(table_rows(columns, figures["products"]), stem=stem)
    if table == "categories":
        columns = [(_("Category"), _category_label), *_figure_columns()]
        return csv_response(table_rows(columns, figures["categories"]), stem=stem)
    columns = [
        (_("If bought"), lambda rule: rule.antecedent.name),
        (_("Also bought"), lambda rule: rule.consequent.name),
        (_("Orders together"), lambda rule: rule.together),
        (_("Support (%)"), lambda rule: round(rule.support * 100, 4)),
        (_("Confidence (%)"), lambda rule: round(rule.confidence * 100, 4)),
        (_("Lift"), lambda rule: round(rule.lift, 4)),
    ]
    return csv_response(table_rows(columns, associations), stem=stem)


# Views ---------------------------------------------------------------------------------------------


def _period(request, as_of: datetime.date) -> tuple[PeriodForm, datetime.date, datetime.date, bool]:
    """The period asked for, or the default three months up to `as_of` (and whether it was asked)."""
    default_start, default_end = services.default_period(as_of)
    if "start" in request.GET or "end" in request.GET:
        form = PeriodForm(request.GET)
        if form.is_valid():
            return form, form.cleaned_data["start"], form.cleaned_data["end"], True
        return form, default_start, default_end, False
    return PeriodForm(initial={"start": default_start, "end": default_end}), default_start, default_end, False


def product_analysis(request):
    """Per product and category figures for a period; `?export=products|categories|associations` gives CSV."""
    require_reader(request.user)
    run, asked = selected_run(request)
    as_of = asked or (run.as_of if run else timezone.localdate())
    form, start, end, custom = _period(request, as_of)
    figures = services.products_analysis(request.user, start=start, end=end, run=run)
    associations = crosssell.top_associations(run=run, limit=TOP_ASSOCIATIONS)
    export = request.GET.get("export")
    if export in {"products", "categories", "associations"}:
        return _export(export, figures, associations, start, end)
    query = request.GET.copy()
    query.pop("export", None)
    window = crosssell.association_window(run.as_of) if run else None
    return render(
        request,
        "analytics/products.html",
        {
            **as_of_context(request, run, asked),
            "form": form,
            "start": start,
            "end": end,
            "custom_period": custom,
            "figures": figures,
            "tables": _tables(figures),
            "figure_headers": [header for _key, header, _kind in FIGURE_COLUMNS],
            "chart_data": _chart_data(figures),
            "associations": _association_rows(associations),
            "kpis": _kpis(figures["totals"]),
            "association_window": window,
            "min_together": crosssell.MIN_ORDERS_TOGETHER,
            "querystring": query.urlencode(),
            "can_import": can_import_inventory(request.user),
        },
    )


@require_http_methods(["GET", "POST"])
def inventory_upload(request):
    """Upload a snapshot file: imported at once, all rows or none; the bad rows are listed by line."""
    if not can_import_inventory(request.user):
        raise Http404(_("No such page."))
    result = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            result = inventory_import.inventory_import_recorded(upload, filename=upload.name)
            if result.ok:
                messages.success(request, inventory_import.import_summary(result))
                return redirect("analytics:inventory_import")
    else:
        form = ImportForm()
    recent = (
        InventorySnapshot.objects.order_by()
        .values("taken_on")
        .annotate(products=Count("pk"), value=Sum("value_at_cost"))
        .order_by("-taken_on")[:RECENT_SNAPSHOT_DAYS]
    )
    errors = result.errors[: inventory_import.MAX_SHOWN_ERRORS] if result else []
    return render(
        request,
        "analytics/inventory_import.html",
        {
            "form": form,
            "result": result,
            "summary": inventory_import.import_summary(result) if result else "",
            # The shared bad-rows template reads `job.errors` and `errors_truncated`.
            "job": {"errors": [{"line": line, "reason": reason} for line, reason in errors]},
            "errors_truncated": bool(result) and len(result.errors) > len(errors),
            "columns": [
                ("sku", _("The product's SKU; it must exist.")),
                ("taken_on", _("The day the stock was counted, YYYY-MM-DD; not in the future.")),
                ("quantity", _("Units in stock; not negative.")),
                ("value_at_cost", _("The stock's value at cost; not negative.")),
            ],
            "example": "sku,taken_on,quantity,value_at_cost\nFUR-CHAIR-01,2026-03-31,120,36000.00\n"
            "IT-DOCK-01,2026-03-31,45,13500.00",
            "recent": list(recent),
        },
    )


urlpatterns = [
    path("products/", product_analysis, name="products"),
    path("products/inventory/import/", inventory_upload, name="inventory_import"),
]
