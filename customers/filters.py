import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .models import Customer, Tag

CHOICES_CACHE_SECONDS = 300


class QuickSelect(forms.Select):
    """A <select> rendered in Python rather than one template per option: the list's filters
    render about a hundred options on every request, which cost more than its queries."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], " selected" if option["selected"] else "", option["label"])
                for _group, group_options, _index in widget["optgroups"]
                for option in group_options
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


class OrderingFilter(django_filters.OrderingFilter):
    """Sort choices whose "(descending)" is translated per request: django-filter formats it once,
    at import, and ships no zh-hans catalogue."""

    def build_choices(self, fields, labels):
        choices = []
        for field, param in fields.items():
            label = labels.get(field, param)
            choices += [(param, label), (f"-{param}", format_lazy(_("{} (descending)"), label))]
        return choices


class CustomerFilter(django_filters.FilterSet):
    """Filters over the customers a user may see (the queryset passed in is already scoped)."""

    ARCHIVE_CHOICES = [("active", _("Active")), ("archived", _("Archived")), ("all", _("All"))]

    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    archived = django_filters.ChoiceFilter(
        label=_("Status"), choices=ARCHIVE_CHOICES, method="filter_archived", empty_label=None, widget=QuickSelect
    )
    category = django_filters.ChoiceFilter(
        label=_("Category"), choices=Customer.Category.choices, empty_label=_("Any"), widget=QuickSelect
    )
    tier = django_filters.ChoiceFilter(
        label=_("Tier"), choices=Customer.Tier.choices, empty_label=_("Any"), widget=QuickSelect
    )
    state = django_filters.ChoiceFilter(
        label=_("State"), choices=Customer.State.choices, empty_label=_("Any"), widget=QuickSelect
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Account manager"),
        queryset=get_user_model().objects.none(),
        empty_label=_("Anyone"),
        widget=QuickSelect,
    )
    no_owner = django_filters.BooleanFilter(
        label=_("Only the shared pool"), method="filter_no_owner", widget=forms.CheckboxInput
    )
    region = django_filters.ChoiceFilter(label=_("Region"), choices=[], empty_label=_("Any"), widget=QuickSelect)
    industry = django_filters.ChoiceFilter(
        label=_("Industry"), choices=Customer.Industry.choices, empty_label=_("Any"), widget=QuickSelect
    )
    tag = django_filters.ModelChoiceFilter(
        label=_("Tag"), field_name="tags", queryset=Tag.objects.all(), empty_label=_("Any"), widget=QuickSelect
    )
    sort = OrderingFilter(
        label=_("Sort by"),
        empty_label=_("Name (default)"),
        widget=QuickSelect,
        fields=(
            ("name", "name"),
            ("created_at", "created"),
            ("updated_at", "updated"),
            ("clv", "clv"),
            ("region", "region"),
        ),
        field_labels={
            "name": _("Name"),
            "created_at": _("Created"),
            "updated_at": _("Last updated"),
            "clv": _("Lifetime value"),
            "region": _("Region"),
        },
    )

    class Meta:
        model = Customer
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("archived", "active")
        super().__init__(data, *args, **kwargs)
        owner_ids, regions = self._choices_of_visible()
        # A value chosen before the cached choices caught up stays valid (the results say the rest).
        if str(self.data.get("owner", "")).isdigit():
            owner_ids = [*owner_ids, int(self.data["owner"])]
        if self.data.get("region") and self.data["region"] not in regions:
            regions = sorted([*regions, self.data["region"]])
        self.filters["owner"].queryset = get_user_model().objects.filter(pk__in=owner_ids).order_by("username")
        self.filters["owner"].field.label_from_instance = lambda u: u.get_full_name() or u.username
        self.filters["region"].extra["choices"] = [(r, r) for r in regions]
        # Bootstrap classes on the widgets (after the choices: this builds the form).
        for field in self.form.fields.values():
            widget = field.widget
            css = {"checkbox": "form-check-input", "select": "form-select"}.get(widget.input_type, "form-control")
            widget.attrs["class"] = css

    def _choices_of_visible(self):
        """Owners and regions among the visible customers, cached a few minutes per visibility scope:
        each takes a scan of the customers, and new values can wait that long to be offered."""
        user = getattr(self.request, "user", None)
        scope = Customer.objects.visibility_scope(user) if user else "none"

        def compute():
            visible = self.queryset.order_by()
            owners = list(visible.exclude(owner=None).values_list("owner", flat=True).distinct())
            regions = sorted(visible.exclude(region="").values_list("region", flat=True).distinct())
            return owners, regions

        return cache.get_or_set(f"customer-filter-choices:{scope}", compute, CHOICES_CACHE_SECONDS)

    def filter_search(self, queryset, name, value):
        return queryset.search(value)

    def filter_no_owner(self, queryset, name, value):
        # An unticked box means "any owner", not "has an owner".
        return queryset.filter(owner__isnull=True) if value else queryset

    def filter_archived(self, queryset, name, value):
        if value == "archived":
            return queryset.filter(archived=True)
        if value == "all":
            return queryset
        return queryset.filter(archived=False)


def tier_counts(queryset) -> dict[str, int]:
    """Number of customers per tier in `queryset` (one query)."""
    # COUNT(*) lets PostgreSQL answer from the (archived, tier) index alone.
    rows = queryset.order_by().values("tier").annotate(n=Count("*"))
    return {row["tier"]: row["n"] for row in rows}
