"""Filters of the opportunity list and the kanban board, over the opportunities a user may see."""

import datetime

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.filters import OrderingFilter, QuickSelect

from ..models import Opportunity, Pipeline, Stage

STATUS_CHOICES = [("open", _("Open")), ("won", _("Won")), ("lost", _("Lost")), ("closed", _("Won or lost"))]


def month_bounds(value: str) -> tuple[datetime.date, datetime.date] | None:
    """First and last day of a `YYYY-MM` month, or None when the text is not one."""
    try:
        first = datetime.datetime.strptime(value or "", "%Y-%m").date()
    except ValueError:
        return None
    following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return first, following - datetime.timedelta(days=1)


def owners_choice_queryset(opportunities):
    """Users who own at least one of `opportunities` (a subquery: one query when rendered)."""
    owner_ids = opportunities.order_by().exclude(owner=None).values("owner")
    return get_user_model().objects.filter(pk__in=owner_ids).order_by("username")


def user_label(user) -> str:
    return user.get_full_name() or user.username


class OpportunityFilter(django_filters.FilterSet):
    """Filters of the opportunity list; the queryset passed in is already `visible_to` the user."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=STATUS_CHOICES, method="filter_status", empty_label=_("Any"), widget=QuickSelect
    )
    pipeline = django_filters.ModelChoiceFilter(
        label=_("Pipeline"), queryset=Pipeline.objects.all(), empty_label=_("Any"), widget=QuickSelect
    )
    stage = django_filters.ModelChoiceFilter(
        label=_("Stage"), queryset=Stage.objects.none(), empty_label=_("Any"), widget=QuickSelect
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Owner"), queryset=get_user_model().objects.none(), empty_label=_("Anyone"), widget=QuickSelect
    )
    month = django_filters.CharFilter(
        label=_("Expected close month"),
        method="filter_month",
        widget=forms.DateInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )
    close_from = django_filters.DateFilter(
        label=_("Closing from"),
        field_name="expected_close",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    close_to = django_filters.DateFilter(
        label=_("Closing until"),
        field_name="expected_close",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    sort = OrderingFilter(
        label=_("Sort by"),
        empty_label=_("Expected close (default)"),
        widget=QuickSelect,
        fields=(
            ("expected_close", "close"),
            ("amount", "amount"),
            ("name", "name"),
            ("customer__name", "customer"),
            ("stage__position", "stage"),
            ("updated_at", "updated"),
            ("created_at", "created"),
        ),
        field_labels={
            "expected_close": _("Expected close"),
            "amount": _("Amount"),
            "name": _("Name"),
            "customer__name": _("Customer"),
            "stage__position": _("Stage"),
            "updated_at": _("Last updated"),
            "created_at": _("Created"),
        },
    )

    class Meta:
        model = Opportunity
        fields = []

    def __init__(self, data=None, queryset=None, *, request=None, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        self.filters["owner"].queryset = owners_choice_queryset(self.queryset)
        self.filters["owner"].field.label_from_instance = user_label
        stages = Stage.objects.select_related("pipeline").order_by("pipeline__position", "pipeline_id", "position")
        if str(self.data.get("pipeline", "")).isdigit():
            stages = stages.filter(pipeline_id=int(self.data["pipeline"]))
        self.filters["stage"].queryset = stages
        self.filters["stage"].field.label_from_instance = lambda s: f"{s.pipeline.name} · {s.name}"
        for field in self.form.fields.values():
            widget = field.widget
            css = {"checkbox": "form-check-input", "select": "form-select"}.get(widget.input_type, "form-control")
            widget.attrs["class"] = css

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(customer__name__icontains=value) | Q(customer__external_ref=value)
        )

    def filter_status(self, queryset, name, value):
        return {
            "open": queryset.open,
            "won": queryset.won,
            "lost": queryset.lost,
            "closed": lambda: queryset.filter(Q(stage__is_won=True) | Q(stage__is_lost=True)),
        }[value]()

    def filter_month(self, queryset, name, value):
        bounds = month_bounds(value)
        return queryset.filter(expected_close__range=bounds) if bounds else queryset
