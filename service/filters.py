"""Filters of the ticket queue, over the tickets a user may see (the queryset passed in is already scoped)."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, F, Q
from django.utils.translation import gettext_lazy as _

from customers.filters import QuickSelect
from customers.models import Customer

from .forms.tickets import service_staff
from .models import Ticket, TicketCategory, next_due, priority_rank

OPEN = "open"
ANY = "any"
STATUS_CHOICES = [(OPEN, _("Open (not resolved or closed)")), *Ticket.Status.choices, (ANY, _("Any status"))]
# Customers found by name up to this many are passed to the ticket queries as a list of ids.
CUSTOMER_IDS_LIMIT = 500
SORT_CHOICES = [
    ("due", _("Due time (soonest first)")),
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("priority", _("Priority (urgent first)")),
]


def with_next_due(queryset):
    """Annotate `next_due`: the first-response due while nobody answered (if sooner), else the resolution due.

    The expression is the one the `ticket_next_due` and `ticket_open_next_due` indexes are built on, so
    sorting the queue by it reads the first page from an index instead of sorting every ticket."""
    return queryset.annotate(next_due=next_due())


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
            Q(number__icontains=value) | Q(subject__icontains=value) | Q(customer__in=self.customers_named(value))
        )

    def customers_named(self, value):
        """Ids of the customers whose name contains `value`: read once per request (the queue filters twice,
        for the page and for its counts) and passed as a list while short, so that the counting query does
        not scan the customers once per status; a long list stays a subquery."""
        cache = getattr(self.request, "_ticket_customers_named", None)
        if cache is None:
            cache = {}
            if self.request is not None:
                self.request._ticket_customers_named = cache
        if value not in cache:
            named = Customer.objects.filter(name__icontains=value).order_by().values_list("pk", flat=True)
            ids = list(named[: CUSTOMER_IDS_LIMIT + 1])
            cache[value] = ids if len(ids) <= CUSTOMER_IDS_LIMIT else named
        return cache[value]

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
            return with_next_due(queryset).order_by(priority_rank(), F("next_due").asc(nulls_last=True), "pk")
        return with_next_due(queryset).order_by(F("next_due").asc(nulls_last=True), "pk")


def status_counts(queryset, *, cap: int | None = None, statuses=None) -> dict[str, int]:
    """Number of tickets per status in `queryset` (one query); with `cap`, each status is counted only up to
    `cap + 1`, so a count above `cap` means "more than `cap`" and costs no more than reading that many rows.
    `statuses` limits the counting to the statuses the queryset can hold (the planner does not see that
    "closed" contradicts "open" and would read every closed ticket to find none)."""
    if cap is None:
        rows = queryset.order_by().values("status").annotate(n=Count("*"))
        return {row["status"]: row["n"] for row in rows}
    parts, params = [], []
    statuses = list(Ticket.Status.values if statuses is None else statuses)
    for n, code in enumerate(statuses):
        limited = queryset.filter(status=code).order_by().values("pk")[: cap + 1]
        try:
            sql, sub_params = limited.query.get_compiler(using=queryset.db).as_sql()
        except EmptyResultSet:
            return {}
        # The SQL is Django's own compilation of the queryset; values stay in `params`.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS status_{n})")  # noqa: S608
        params.extend(sub_params)
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)  # noqa: S608
        row = cursor.fetchone()
    return {code: n for code, n in zip(statuses, row, strict=True) if n}
