"""The graded customers of a run (the run of `?as_of=` or the latest): filters, sort, pages, CSV."""

from django.db.models import F
from django.urls import path
from django.utils.translation import gettext as _
from django_filters.views import FilterView

from customers.export import csv_response, table_rows
from customers.models import Customer

from ..filters import NO_TIER, GradeFilter
from ..models import CustomerGrade
from ..segments import segment_label
from .base import as_of_context, require_reader, selected_run

PAGE_SIZES = (25, 50, 100)


def _blank(value):
    return "" if value is None else value


def export_columns(segment_names) -> list:
    """The CSV columns of the list: (title, value of a grade) pairs."""
    return [
        (_("Customer"), lambda g: g.customer.name),
        (_("External reference"), lambda g: g.customer.external_ref or ""),
        (_("Account manager"), lambda g: g.customer.owner.username if g.customer.owner else ""),
        (_("Recency (days)"), lambda g: _blank(g.recency)),
        (_("Frequency"), lambda g: g.frequency),
        (_("Monetary"), lambda g: g.monetary),
        ("R", lambda g: _blank(g.r)),
        ("F", lambda g: _blank(g.f)),
        ("M", lambda g: _blank(g.m)),
        (_("RFM code"), lambda g: g.rfm_code),
        (_("Segment"), lambda g: segment_label(g.segment, segment_names) if g.segment else ""),
        (_("Tier"), lambda g: g.get_tier_display()),
        (_("State"), lambda g: g.get_state_display()),
        (_("Lifecycle stage"), lambda g: g.get_lifecycle_stage_display()),
        (_("Value"), lambda g: g.value),
        (_("P(alive)"), lambda g: _blank(g.p_alive)),
        (_("Customer lifetime value"), lambda g: _blank(g.clv)),
        (_("Churn risk"), lambda g: g.get_churn_risk_display()),
    ]


def list_title(filterset, run) -> str:
    """What the list shows, in words: "VIP customers as of 2026-11-30", plus any other filter."""
    data = filterset.form.cleaned_data if filterset.is_bound and filterset.is_valid() else {}
    tier = data.get("tier")
    if tier == NO_TIER:
        subject = _("Customers without a tier")
    elif tier:
        subject = _("%(tier)s customers") % {"tier": Customer.Tier(tier).label}
    else:
        subject = _("Graded customers")
    qualifiers = []
    if data.get("segment"):
        qualifiers.append(segment_label(data["segment"], filterset.segment_names))
    if data.get("state"):
        qualifiers.append(_("state %(state)s") % {"state": Customer.State(data["state"]).label})
    if data.get("lifecycle_stage"):
        stage = Customer.LifecycleStage(data["lifecycle_stage"]).label
        qualifiers.append(_("lifecycle stage %(stage)s") % {"stage": stage})
    if data.get("churn_risk"):
        qualifiers.append(_("churn risk %(risk)s") % {"risk": Customer.ChurnRisk(data["churn_risk"]).label})
    if data.get("r"):
        qualifiers.append(f"R = {data['r']}")
    if data.get("f"):
        qualifiers.append(f"F = {data['f']}")
    if data.get("q"):
        qualifiers.append(_("matching “%(text)s”") % {"text": data["q"]})
    date = run.as_of.isoformat()
    if qualifiers:
        return _("%(subject)s (%(filters)s) as of %(date)s") % {
            "subject": subject,
            "filters": ", ".join(str(q) for q in qualifiers),
            "date": date,
        }
    return _("%(subject)s as of %(date)s") % {"subject": subject, "date": date}


class GradeListView(FilterView):
    """The run's grades of the customers the reader may see; `?export=csv` gives the filtered rows."""

    filterset_class = GradeFilter
    template_name = "analytics/grade_list.html"
    context_object_name = "grades"

    def dispatch(self, request, *args, **kwargs):
        require_reader(request.user)
        self.run, self.asked = selected_run(request)
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        if self.run is None:
            return CustomerGrade.objects.none()
        return (
            CustomerGrade.objects.visible_to(self.request.user)
            .filter(run=self.run)
            .select_related("customer", "customer__owner")
            .order_by(F("value").desc(), "pk")
        )

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "run": self.run}

    def get_paginate_by(self, queryset):
        size = self.request.GET.get("per_page", "")
        return int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[0]

    def get(self, request, *args, **kwargs):
        if self.run is None:
            # Nothing to filter yet: the as-of bar says so and offers to compute.
            self.filterset, self.object_list = None, CustomerGrade.objects.none()
            return self.render_to_response(self.get_context_data())
        if request.GET.get("export") == "csv":
            # The filtered rows only: no page of the list to count and fetch first.
            filterset = self.get_filterset(self.get_filterset_class())
            rows = filterset.qs if filterset.is_valid() else self.get_queryset().none()
            columns = export_columns(filterset.segment_names)
            return csv_response(
                table_rows(columns, rows.iterator(chunk_size=2000)), stem=f"graded-customers-{self.run.as_of:%Y%m%d}"
            )
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) if self.filterset is not None else {"filter": None}
        context.update(as_of_context(self.request, self.run, self.asked))
        if self.run is None:
            context["title"] = _("Graded customers")
            return context
        query = self.request.GET.copy()
        for key in ("page", "export"):
            query.pop(key, None)
        names = self.filterset.segment_names
        filtered = any(self.request.GET.get(key) for key in self.filterset.filters if key != "sort")
        context.update(
            title=list_title(self.filterset, self.run),
            rows=[{"grade": grade, "segment": segment_label(grade.segment, names)} for grade in context["grades"]],
            querystring=query.urlencode(),
            # The as-of form keeps the filters when another date is picked.
            keep_params=[(key, value) for key, values in query.lists() if key != "as_of" for value in values],
            filtered=filtered,
            page_sizes=PAGE_SIZES,
        )
        return context


urlpatterns = [path("customers/", GradeListView.as_view(), name="grade_list")]
