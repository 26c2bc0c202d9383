"""Filters and forms of the customer pool page."""

import datetime

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.filters import OrderingFilter, QuickSelect
from customers.models import Customer

from ..models import PoolMove

# How long a customer has been in the pool: (code, label, at least days, less than days).
POOL_AGES = (
    ("week", _("Less than a week"), 0, 7),
    ("month", _("1 to 4 weeks"), 7, 30),
    ("quarter", _("1 to 3 months"), 30, 90),
    ("older", _("More than 3 months"), 90, None),
)


class PoolFilter(django_filters.FilterSet):
    """Filters over the pool (the queryset passed in is the pool the user may see, annotated by the view)."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    region = django_filters.ChoiceFilter(label=_("Region"), choices=[], empty_label=_("Any"), widget=QuickSelect)
    industry = django_filters.ChoiceFilter(
        label=_("Industry"), choices=Customer.Industry.choices, empty_label=_("Any"), widget=QuickSelect
    )
    tier = django_filters.ChoiceFilter(
        label=_("Tier"), choices=Customer.Tier.choices, empty_label=_("Any"), widget=QuickSelect
    )
    in_pool = django_filters.ChoiceFilter(
        label=_("In the pool for"),
        choices=[(code, label) for code, label, _low, _high in POOL_AGES],
        empty_label=_("Any time"),
        method="filter_in_pool",
        widget=QuickSelect,
    )
    sort = OrderingFilter(
        label=_("Sort by"),
        empty_label=_("Name (default)"),
        widget=QuickSelect,
        fields=(
            ("pool_since", "since"),
            ("name", "name"),
            ("last_order", "last_order"),
            ("total_spend", "spend"),
            ("region", "region"),
        ),
        field_labels={
            "pool_since": _("In the pool since"),
            "name": _("Name"),
            "last_order": _("Last order"),
            "total_spend": _("Total spend"),
            "region": _("Region"),
        },
    )

    class Meta:
        model = Customer
        fields = []

    def __init__(self, data=None, *args, regions=(), **kwargs):
        super().__init__(data, *args, **kwargs)
        regions = sorted(set(regions) | ({self.data["region"]} if self.data.get("region") else set()))
        self.filters["region"].extra["choices"] = [(r, r) for r in regions]
        for field in self.form.fields.values():
            field.widget.attrs["class"] = "form-select" if field.widget.input_type == "select" else "form-control"

    def filter_search(self, queryset, name, value):
        return queryset.search(value)

    def filter_in_pool(self, queryset, name, value):
        # In the pool since the customer's last move (else its creation). Written as IN over the moves
        # rather than on the annotated `pool_since`: PostgreSQL hashes each subquery once instead of
        # computing the last move of every customer in the pool.
        today = timezone.localdate()
        moved = PoolMove.objects.values("customer_id")
        for code, _label, low, high in POOL_AGES:
            if code != value:
                continue
            # At least `low` whole days: no move since the cut-off, and an older move or creation.
            before = _midnight(today - datetime.timedelta(days=low - 1))
            queryset = queryset.exclude(pk__in=moved.filter(moved_at__gte=before)).filter(
                Q(pk__in=moved) | Q(created_at__lt=before)
            )
            if high is not None:
                # Less than `high` whole days: a move since the cut-off, or never moved and created since.
                since = _midnight(today - datetime.timedelta(days=high - 1))
                queryset = queryset.filter(
                    Q(pk__in=moved.filter(moved_at__gte=since)) | (~Q(pk__in=moved) & Q(created_at__gte=since))
                )
        return queryset


def _midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


class PoolAssignForm(forms.Form):
    """Bulk assignment from the pool list: the ticked customers go to one rep."""

    customers = forms.TypedMultipleChoiceField(coerce=int, choices=(), label=_("Customers"))
    rep = RepChoiceField(queryset=get_user_model().objects.none(), label=_("Assign to"), empty_label=None)
    reason = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = reps.order_by("username")
        self.fields["rep"].widget.attrs["class"] = "form-select"

    def clean_customers(self):
        return self.cleaned_data["customers"]

    def full_clean(self):
        # The ticked ids are checked against the pool by the service; any integers are acceptable here.
        if self.is_bound:
            values = self.data.getlist("customers") if hasattr(self.data, "getlist") else self.data.get("customers", [])
            self.fields["customers"].choices = [(v, v) for v in values if str(v).isdigit()]
        super().full_clean()


class PoolReleaseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why does the customer go back to the pool?"),
        max_length=255,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
