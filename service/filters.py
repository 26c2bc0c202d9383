"""Filters of the ticket queue, over the tickets a user may see (the queryset passed in is already scoped)."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _

from customers.filters import QuickSelect

from .forms.tickets import service_staff
from .models import Ticket, TicketCategory

OPEN = "open"
ANY = "any"
STATUS_CHOICES = [(OPEN, _("Open (not resolved or closed)")), *Ticket.Status.choices, (ANY, _("Any status"))]
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
SORT_CHOICES = [
    ("due", _("Due time (soonest first)")),
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("priority", _("Priority (urgent first)")),
]


def with_next_due(queryset):
    """Annotate `next_due`: the first-response due while nobody answered (if sooner), else the resolution due."""
    return queryset.annotate(
        next_due=Case(
            When(
                first_responded_at__isnull=True,
                first_response_due__isnull=False,
                resolution_due__isnull=False,
                first_response_due__lt=F("resolution_due"),
                then=F("first_response_due"),
            ),
            When(resolution_due__isnull=True, first_responded_at__isnull=True, then=F("first_response_due")),
            default=F("resolution_due"),
        )
    )


class TicketFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=STATUS_CHOICES, method="filter_status", empty_label=None, widget=QuickSelect
    )
    type = django_filters.ChoiceFilter(
        label=_("Type"), choices=Ticket.Type.choices, empty_label=_("Any"), widget=QuickSelect
    )
    priority = django_filters.ChoiceFilter(
        label=_("Priority"), choices=Ticket.Priority.choices, empty_label=_("Any"), widget=QuickSelect
    )
    channel = django_filters.ChoiceFilter(
        label=_("Channel"), choices=Ticket.Channel.choices, empty_label=_("Any"), widget=QuickSelect
    )
    category = django_filters.ModelChoiceFilter(
        label=_("Category"),
        queryset=TicketCategory.objects.select_related("parent"),
        method="filter_category",
        empty_label=_("Any"),
        widget=QuickSelect,
    )
    assignee = django_filters.ModelChoiceFilter(
        label=_("Assignee"), queryset=get_user_model().objects.none(), empty_label=_("Anyone"), widget=QuickSelect
    )
    customer = django_filters.NumberFilter(field_name="customer_id", widget=forms.HiddenInput)
    created_after = django_filters.DateFilter(
        label=_("Created from"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=forms.DateInput({"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        label=_("Created until"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=forms.DateInput({"type": "date"}),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"), choices=SORT_CHOICES, method="filter_sort", empty_label=None, widget=QuickSelect
    )

    class Meta:
        model = Ticket
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("status", OPEN)
        data.setdefault("sort", "due")
        super().__init__(data, *args, **kwargs)
        staff = service_staff()
        if str(self.data.get("assignee", "")).isdigit():
            staff = get_user_model().objects.filter(Q(pk__in=staff.values("pk")) | Q(pk=self.data["assignee"]))
        self.filters["assignee"].queryset = staff.order_by("username")
        self.filters["assignee"].field.label_from_instance = lambda u: u.get_full_name() or u.username
        for field in self.form.fields.values():
            if isinstance(field.widget, forms.HiddenInput):
                continue
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value) | Q(subject__icontains=value) | Q(customer__name__icontains=value)
        )

    def filter_status(self, queryset, name, value):
        if value == OPEN:
            return queryset.open()
        if value == ANY:
            return queryset
        return queryset.filter(status=value)

    def filter_category(self, queryset, name, value):
        # A parent category takes in its children (product quality › damaged on arrival).
        return queryset.filter(Q(category=value) | Q(category__parent=value))

    def filter_sort(self, queryset, name, value):
        if value == "-created":
            return queryset.order_by("-created_at", "-pk")
        if value == "created":
            return queryset.order_by("created_at", "pk")
        if value == "priority":
            rank = Case(
                *[When(priority=code, then=Value(n)) for code, n in PRIORITY_RANK.items()],
                output_field=IntegerField(),
            )
            return with_next_due(queryset).order_by(rank, F("next_due").asc(nulls_last=True), "pk")
        return with_next_due(queryset).order_by(F("next_due").asc(nulls_last=True), "pk")


def status_counts(queryset) -> dict[str, int]:
    """Number of tickets per status in `queryset` (one query)."""
    rows = queryset.order_by().values("status").annotate(n=Count("*"))
    return {row["status"]: row["n"] for row in rows}
