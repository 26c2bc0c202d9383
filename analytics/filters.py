"""Filters of the graded-customers list (the queryset passed in is already the run's visible grades)."""

import django_filters
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from customers.filters import OrderingFilter, QuickSelect
from customers.models import Customer

from .models import CustomerGrade
from .segments import segment_names

NO_TIER = "none"


class NullsLastOrderingFilter(OrderingFilter):
    """Sorts with empty values (no P(alive) yet, no recency) last either way, then by id so that
    pages never overlap."""

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        field = F(self.param_map[param.lstrip("-")])
        return field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        return qs.order_by(*[self.get_ordering_value(param) for param in value], "pk")


def _score_choices(count):
    return [(str(score), str(score)) for score in range(count, 0, -1)]


class GradeFilter(django_filters.FilterSet):
    """Tier, segment, state, lifecycle, churn risk, R and F scores, name search and sort."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    tier = django_filters.ChoiceFilter(
        label=_("Tier"),
        choices=[*Customer.Tier.choices, (NO_TIER, _("No tier"))],
        method="filter_tier",
        empty_label=_("Any"),
        widget=QuickSelect,
    )
    segment = django_filters.ChoiceFilter(label=_("Segment"), choices=[], empty_label=_("Any"), widget=QuickSelect)
    state = django_filters.ChoiceFilter(
        label=_("State"), choices=Customer.State.choices, empty_label=_("Any"), widget=QuickSelect
    )
    lifecycle_stage = django_filters.ChoiceFilter(
        label=_("Lifecycle stage"), choices=Customer.LifecycleStage.choices, empty_label=_("Any"), widget=QuickSelect
    )
    churn_risk = django_filters.ChoiceFilter(
        label=_("Churn risk"), choices=Customer.ChurnRisk.choices, empty_label=_("Any"), widget=QuickSelect
    )
    r = django_filters.ChoiceFilter(label=_("R score"), choices=[], empty_label=_("Any"), widget=QuickSelect)
    f = django_filters.ChoiceFilter(label=_("F score"), choices=[], empty_label=_("Any"), widget=QuickSelect)
    sort = NullsLastOrderingFilter(
        label=_("Sort by"),
        empty_label=_("Value (default)"),
        widget=QuickSelect,
        fields=(
            ("value", "value"),
            ("monetary", "monetary"),
            ("recency", "recency"),
            ("frequency", "frequency"),
            ("p_alive", "p_alive"),
            ("clv", "clv"),
            ("customer__name", "name"),
        ),
        field_labels={
            "value": _("Value"),
            "monetary": _("Monetary"),
            "recency": _("Recency (days)"),
            "frequency": _("Frequency"),
            "p_alive": _("P(alive)"),
            "clv": _("Lifetime value"),
            "customer__name": _("Name"),
        },
    )

    class Meta:
        model = CustomerGrade
        fields = []

    def __init__(self, data=None, *args, run, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.segment_names = segment_names(run.rule)
        self.filters["segment"].extra["choices"] = list(self.segment_names.items())
        scores = (run.rule_snapshot or {}).get("rfm_quantiles") or run.rule.rfm_quantiles
        for name in ("r", "f"):
            self.filters[name].extra["choices"] = _score_choices(int(scores))
        # Bootstrap classes on the widgets (after the choices: this builds the form).
        for field in self.form.fields.values():
            field.widget.attrs["class"] = "form-select" if field.widget.input_type == "select" else "form-control"

    def filter_search(self, queryset, name, value):
        return queryset.filter(customer__in=Customer.objects.search(value).order_by().values("pk"))

    def filter_tier(self, queryset, name, value):
        return queryset.filter(tier="" if value == NO_TIER else value)
