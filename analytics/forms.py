"""Forms of analytics: the churn alert list's filters and an alert's status change."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.filters import QuickSelect
from customers.models import Customer, managed_user_ids

from .models import ChurnAlert

# ---------------------------------------------------------------------------------------------
# Churn alerts

UNRESOLVED = "unresolved"
ANY = "any"
ALERT_STATUS_CHOICES = [
    (UNRESOLVED, _("Unresolved (open or contacted)")),
    *ChurnAlert.Status.choices,
    (ANY, _("Any status")),
]
ALERT_SORT_CHOICES = [
    ("-opened", _("Newest first")),
    ("opened", _("Oldest first")),
    ("-value", _("Value at risk (highest first)")),
    ("p_alive", _("P(alive) (lowest first)")),
]
ALERT_SORTS = {
    "-opened": ["-opened_on", "-pk"],
    "opened": ["opened_on", "pk"],
    "-value": ["-value_at_risk", "-opened_on", "-pk"],
    "p_alive": [F("p_alive").asc(nulls_last=True), "-value_at_risk", "-pk"],
}


def alert_owner_choices(user):
    """Account managers whose alerts `user` may filter by: every sales person for those who see every
    customer, the team for a sales manager, nobody else for a rep (the filter is then hidden)."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    if Customer.objects.visibility_scope(user) == "all":
        return users.filter(groups__name__in=[roles.SALES_REP, roles.SALES_MANAGER]).distinct()
    if roles.has_role(user, roles.SALES_MANAGER):
        return users.filter(Q(pk__in=managed_user_ids(user)) | Q(pk=user.pk))
    return users.none()


class ChurnAlertFilter(django_filters.FilterSet):
    """Filters of the alert list over the alerts a user may see (the queryset passed in is already scoped)."""

    q = django_filters.CharFilter(label=_("Customer name"), field_name="customer__name", lookup_expr="icontains")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=ALERT_STATUS_CHOICES, method="filter_status", empty_label=None, widget=QuickSelect
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Account manager"),
        field_name="customer__owner",
        queryset=get_user_model().objects.none(),
        empty_label=_("Anyone"),
        widget=QuickSelect,
    )
    opened_after = django_filters.DateFilter(
        label=_("Opened from"), field_name="opened_on", lookup_expr="gte", widget=forms.DateInput({"type": "date"})
    )
    opened_before = django_filters.DateFilter(
        label=_("Opened until"), field_name="opened_on", lookup_expr="lte", widget=forms.DateInput({"type": "date"})
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"), choices=ALERT_SORT_CHOICES, method="filter_sort", empty_label=None, widget=QuickSelect
    )

    class Meta:
        model = ChurnAlert
        fields = []

    def __init__(self, data=None, *args, user=None, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("status", UNRESOLVED)
        data.setdefault("sort", "-opened")
        super().__init__(data, *args, **kwargs)
        self.filters["owner"].queryset = alert_owner_choices(user)
        # A rep sees only their own customers' alerts: no one else to filter by.
        self.show_owner = Customer.objects.visibility_scope(user) == "all" or roles.has_role(user, roles.SALES_MANAGER)
        self.filters["owner"].field.label_from_instance = lambda u: u.get_full_name() or u.username
        for field in self.form.fields.values():
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"

    def filter_status(self, queryset, name, value):
        if value == UNRESOLVED:
            return queryset.unresolved()
        if value == ANY:
            return queryset
        return queryset.filter(status=value)

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*ALERT_SORTS.get(value, ALERT_SORTS["-opened"]))

    @property
    def has_filters(self) -> bool:
        """True when the reader narrowed the list beyond the default status."""
        data = self.form.data
        return bool(
            data.get("q") or data.get("owner") or data.get("opened_after") or data.get("opened_before")
        ) or data.get("status") not in (UNRESOLVED, None)


class AlertStatusForm(forms.Form):
    """Move an alert on: contacted, won back or lost (a loss needs a note)."""

    status = forms.ChoiceField(label=_("New status"), choices=(), widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea({"rows": 3}),
        help_text=_("What happened; required when the customer is lost."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, alert: ChurnAlert, next_statuses, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(ChurnAlert.Status.choices)
        self.fields["status"].choices = [(code, labels[code]) for code in next_statuses]
        self.initial.setdefault("version", alert.version)
        self.fields["note"].widget.attrs["class"] = "form-control"
        self.fields["status"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        data = super().clean()
        if data.get("status") == ChurnAlert.Status.LOST and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why the customer is lost."))
        return data
