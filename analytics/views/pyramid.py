"""The customer pyramid dashboard: tiers and the inverted pyramid of value, movement between runs,
state changes, the Pareto curve, the RFM heatmap and the segments; `?export=<table>` gives a CSV."""

import math

from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from customers.export import csv_response, table_rows
from customers.models import Customer

from ..models import GradingRule
from ..segments import segment_label, segment_names
from ..services.pyramid import MOVEMENT_FROM, MOVEMENT_TO, NEW, NO_TIER, TIERS, pyramid_figures
from ..services.summaries import scoped_figures
from .base import as_of_context, require_reader, selected_run

EXPORTS = ("tiers", "movement", "transitions", "heatmap", "segments", "pareto")
# Shading steps of the heatmap cells (CSS classes heat-0 … heat-5).
HEAT_LEVELS = 5
# Rows of the Pareto table on the page (the chart and the CSV have every percent).
PARETO_TABLE_PERCENTS = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def _percent(share):
    return None if share is None else 100 * share


def _grade_list_url(run, **filters) -> str:
    return f"{reverse('analytics:grade_list')}?{urlencode({'as_of': run.as_of.isoformat(), **filters})}"


def value_measure_label(run) -> str:
    """What the run's pyramid value measures (gross profit by default), as the rule stood then."""
    measure = (run.rule_snapshot or {}).get("value_measure") or run.rule.value_measure
    try:
        return str(GradingRule.ValueMeasure(measure).label)
    except ValueError:
        return str(measure)


def _score_count(run, heatmap) -> int:
    """N, the number of RFM scores of the run's rule (at least the highest score seen)."""
    scores = (run.rule_snapshot or {}).get("rfm_quantiles") or run.rule.rfm_quantiles
    seen = [max(cell["r"], cell["f"]) for cell in heatmap]
    return max([int(scores), *seen])


def tier_rows(run, figures) -> list[dict]:
    labels = dict(Customer.Tier.choices)
    return [
        {
            **row,
            "label": str(labels[row["tier"]]),
            "customer_percent": _percent(row["customer_share"]),
            "value_percent": _percent(row["value_share"]),
            "url": _grade_list_url(run, tier=row["tier"]),
        }
        for row in figures["tiers"]
    ]


def movement_table(figures) -> dict | None:
    """The matrix as rows of cells, each marked up (moved to a higher tier), down or same."""
    movement = figures["movement"]
    if not movement["previous_as_of"]:
        return None
    labels = {
        **dict(Customer.Tier.choices),
        NO_TIER: _("No tier"),
        NEW: pgettext("pyramid: not graded in the earlier run", "New"),
    }
    rank = {tier: index for index, tier in enumerate(TIERS)}
    rows = []
    for source in MOVEMENT_FROM:
        cells = []
        for target in MOVEMENT_TO:
            count = movement["counts"].get(source, {}).get(target, 0)
            if source == target:
                direction = "same"
            elif source in rank and target in rank:
                direction = "up" if rank[target] < rank[source] else "down"
            elif target == NO_TIER and source in rank:
                direction = "down"
            else:
                direction = ""
            cells.append({"count": count, "direction": direction if count else ""})
        rows.append(
            {"key": source, "label": str(labels[source]), "cells": cells, "total": sum(c["count"] for c in cells)}
        )
    return {
        "previous_as_of": movement["previous_as_of"],
        "columns": [str(labels[target]) for target in MOVEMENT_TO],
        "rows": rows,
    }


def transition_rows(figures) -> list[dict]:
    labels = dict(Customer.State.choices)
    return [
        {
            **row,
            "from_label": str(labels.get(row["from"], row["from"])),
            "to_label": str(labels.get(row["to"], row["to"])),
        }
        for row in figures["transitions"]
    ]


def pareto_table(figures) -> list[dict]:
    """The curve at a few round shares of customers (the points carry every percent)."""
    points = figures["pareto"]["points"]
    if not points:
        return []
    ranked = figures["totals"]["ranked"]
    by_customers = {point["customers"]: point for point in points}
    rows = []
    for percent in PARETO_TABLE_PERCENTS:
        point = by_customers[(percent * ranked + 50) // 100]
        if point["customers"] and (not rows or rows[-1]["customers"] != point["customers"]):
            rows.append(
                {
                    "percent": percent,
                    "customers": point["customers"],
                    "customer_percent": _percent(point["customer_share"]),
                    "value_percent": _percent(point["value_share"]),
                }
            )
    return rows


def heatmap_table(run, figures) -> dict:
    """R rows (highest first) × F columns; each cell with its count, averages and shading level."""
    cells = {(cell["r"], cell["f"]): cell for cell in figures["heatmap"]}
    scores = _score_count(run, figures["heatmap"])
    most = max((cell["customers"] for cell in figures["heatmap"]), default=0)
    rows = []
    for r in range(scores, 0, -1):
        row = []
        for f in range(1, scores + 1):
            cell = cells.get((r, f))
            count = cell["customers"] if cell else 0
            row.append(
                {
                    "r": r,
                    "f": f,
                    "customers": count,
                    "avg_monetary": cell["avg_monetary"] if cell else None,
                    "avg_m": cell["avg_m"] if cell else None,
                    "level": math.ceil(HEAT_LEVELS * count / most) if most else 0,
                    "url": _grade_list_url(run, r=r, f=f) if count else "",
                }
            )
        rows.append({"r": r, "cells": row})
    return {"scores": list(range(1, scores + 1)), "rows": rows}


def segment_rows(run, figures, names) -> list[dict]:
    buyers = figures["totals"]["buyers"]
    order = {key: index for index, key in enumerate(names)}
    rows = [
        {
            **row,
            "label": segment_label(row["segment"], names) if row["segment"] else _("No segment"),
            "percent": _percent(row["customers"] / buyers) if buyers else None,
            "url": _grade_list_url(run, segment=row["segment"]) if row["segment"] else "",
        }
        for row in figures["segments"]
    ]
    return sorted(rows, key=lambda row: (order.get(row["segment"], len(order)), row["segment"]))


def chart_data(tiers, figures, segments, measure) -> dict:
    return {
        "tiers": {
            "labels": [row["label"] for row in tiers],
            "customers": [row["customers"] for row in tiers],
            "customerPercents": [row["customer_percent"] for row in tiers],
            "values": [row["value"] for row in tiers],
            "valuePercents": [row["value_percent"] for row in tiers],
            "customersLabel": _("Customers"),
            "valueLabel": measure,
        },
        "pareto": {
            "points": [
                {"x": 100 * point["customer_share"], "y": _percent(point["value_share"])}
                for point in figures["pareto"]["points"]
            ],
            "curveLabel": _("Cumulative share of %(measure)s") % {"measure": measure.lower()},
            "evenLabel": _("Every customer equal"),
            "xLabel": _("Share of customers (highest value first, %)"),
            "yLabel": _("Share of %(measure)s (%%)") % {"measure": measure.lower()},
        },
        "segments": {
            "labels": [str(row["label"]) for row in segments],
            "customers": [row["customers"] for row in segments],
            "customersLabel": _("Customers"),
        },
    }


def _number(value, places=2):
    return "" if value is None else round(value, places)


def _export(table, run, context):
    measure = context["measure"]
    if table == "tiers":
        columns = [
            (_("Tier"), lambda row: row["label"]),
            (_("Customers"), lambda row: row["customers"]),
            (_("Share of customers (%)"), lambda row: _number(row["customer_percent"])),
            (measure, lambda row: _number(row["value"])),
            (_("Share of %(measure)s (%%)") % {"measure": measure.lower()}, lambda row: _number(row["value_percent"])),
        ]
        objects = context["tiers"]
    elif table == "movement":
        movement = context["movement"] or {"columns": [], "rows": []}
        columns = [(_("From ↓ to →"), lambda row: row["label"])]
        columns += [
            (label, lambda row, index=index: row["cells"][index]["count"])
            for index, label in enumerate(movement["columns"])
        ]
        columns.append((_("Total"), lambda row: row["total"]))
        objects = movement["rows"]
    elif table == "transitions":
        columns = [
            (_("From"), lambda row: row["from_label"]),
            (_("To"), lambda row: row["to_label"]),
            (_("Customers"), lambda row: row["customers"]),
            (_("Won back"), lambda row: _("yes") if row["won_back"] else ""),
        ]
        objects = context["transitions"]
    elif table == "heatmap":
        columns = [
            ("R", lambda cell: cell["r"]),
            ("F", lambda cell: cell["f"]),
            (_("Customers"), lambda cell: cell["customers"]),
            (_("Average monetary"), lambda cell: _number(cell["avg_monetary"])),
            (_("Average M score"), lambda cell: _number(cell["avg_m"])),
        ]
        objects = [cell for row in context["heatmap"]["rows"] for cell in row["cells"]]
    elif table == "segments":
        columns = [
            (_("Segment"), lambda row: row["label"]),
            (_("Customers"), lambda row: row["customers"]),
            (_("Share of buyers (%)"), lambda row: _number(row["percent"])),
            (measure, lambda row: _number(row["value"])),
        ]
        objects = context["segments"]
    else:
        columns = [
            (_("Customers (highest value first)"), lambda point: point["customers"]),
            (_("Share of customers (%)"), lambda point: _number(_percent(point["customer_share"]), 4)),
            (
                _("Cumulative share of %(measure)s (%%)") % {"measure": measure.lower()},
                lambda point: _number(_percent(point["value_share"]), 4),
            ),
        ]
        objects = context["figures"]["pareto"]["points"]
    return csv_response(table_rows(columns, objects), stem=f"pyramid-{table}-{run.as_of:%Y%m%d}")


def pyramid(request):
    """The pyramid dashboard of the selected run, over the customers the reader may see."""
    require_reader(request.user)
    run, asked = selected_run(request)
    context = as_of_context(request, run, asked)
    if run is not None:
        figures = scoped_figures(request.user, run=run, key="pyramid", compute=pyramid_figures)
        measure = value_measure_label(run)
        tiers = tier_rows(run, figures)
        segments = segment_rows(run, figures, segment_names(run.rule))
        pareto = figures["pareto"]
        context.update(
            figures=figures,
            measure=measure,
            tiers=tiers,
            movement=movement_table(figures),
            transitions=transition_rows(figures),
            pareto_rows=pareto_table(figures),
            headline_percent=_percent(pareto["headline_share"]),
            heatmap=heatmap_table(run, figures),
            segments=segments,
            chart_data=chart_data(tiers, figures, segments, measure),
            grade_list_url=_grade_list_url(run),
            exports={table: f"?{urlencode({'as_of': run.as_of.isoformat(), 'export': table})}" for table in EXPORTS},
        )
        export = request.GET.get("export")
        if export in EXPORTS:
            return _export(export, run, context)
    return render(request, "analytics/pyramid.html", context)


urlpatterns = [path("pyramid/", pyramid, name="pyramid")]
