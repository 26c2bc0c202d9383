"""Filters of the order and product lists (orders over the queryset a user may see)."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.filters import OrderingFilter, QuickSelect
from customers.models import Customer, managed_user_ids

from ..models import SALES_ROLES, Order, Product


def _bootstrap(form):
    for field in form.fields.values():
        widget = field.widget
        css = {"checkbox": "form-check-input", "select": "form-select"}.get(widget.input_type, "form-control")
        widget.attrs["class"] = css


def _ordering(filterset, name) -> list[str]:
    """The model field names the sort parameter stands for ("-date" → "-ordered_at")."""
    sort = filterset.filters[name]
    return [sort.get_ordering_value(param) for param in filterset.form.cleaned_data.get(name) or []]


def order_owner_choices(user):
    """Owners a user may filter orders by: everyone in sales for those who see all orders, else their team.

    Taken from the users, not from DISTINCT over the orders, which would scan every order."""
    users = get_user_model().objects.order_by("username")
    if roles.has_role(user, roles.ADMIN, roles.MANAGER) or not roles.has_role(user, *SALES_ROLES):
        return users.filter(groups__name__in=list(SALES_ROLES)).distinct()
    if roles.has_role(user, roles.SALES_MANAGER):
        return users.filter(Q(pk__in=managed_user_ids(user)) | Q(pk=user.pk))
    return users.filter(pk=user.pk)


class OrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Order number or reference"), method="filter_number")
    customer_q = django_filters.CharFilter(label=_("Customer"), method="filter_customer")
    # The exact customer, from the 360 page's "all orders" link.
    customer = django_filters.NumberFilter(field_name="customer_id", widget=forms.HiddenInput)
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Order.Status.choices, empty_label=_("Any"), widget=QuickSelect
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Owner"), queryset=get_user_model().objects.none(), empty_label=_("Anyone"), widget=QuickSelect
    )
    date_from = django_filters.DateFilter(
        label=_("Ordered from"),
        field_name="ordered_at",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        label=_("Ordered until"),
        field_name="ordered_at",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = OrderingFilter(
        label=_("Sort by"),
        empty_label=_("Newest first (default)"),
        widget=QuickSelect,
        fields=(
            ("ordered_at", "date"),
            ("number", "number"),
            ("amount", "amount"),
            ("profit", "profit"),
            ("customer__name", "customer"),
        ),
        field_labels={
            "ordered_at": _("Order date"),
            "number": _("Order number"),
            "amount": _("Amount"),
            "profit": _("Gross profit"),
            "customer__name": _("Customer"),
        },
    )

    class Meta:
        model = Order
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = getattr(self.request, "user", None)
        owners = order_owner_choices(user) if user else get_user_model().objects.none()
        self.filters["owner"].queryset = owners
        self.filters["owner"].field.label_from_instance = lambda u: u.get_full_name() or u.username
        _bootstrap(self.form)

    def filter_queryset(self, queryset):
        ordering = _ordering(self, "sort")
        if any(key.lstrip("-") == "profit" for key in ordering):
            queryset = queryset.annotate(profit=F("amount") - F("cost"))
        queryset = super().filter_queryset(queryset)
        # A stable order for equal keys; the default matches the (-ordered_at, -id) index.
        return queryset.order_by(*(ordering or ["-ordered_at"]), "-pk")

    def filter_number(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(order_ref__icontains=value))

    def filter_customer(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(customer__in=Customer.objects.search(value))


class ProductFilter(django_filters.FilterSet):
    ACTIVE_CHOICES = [("active", _("Active")), ("inactive", _("Inactive")), ("all", _("All"))]

    q = django_filters.CharFilter(label=_("Search SKU or name"), method="filter_search")
    category = django_filters.ChoiceFilter(label=_("Category"), choices=[], empty_label=_("Any"), widget=QuickSelect)
    active = django_filters.ChoiceFilter(
        label=_("Status"), choices=ACTIVE_CHOICES, method="filter_active", empty_label=None, widget=QuickSelect
    )
    sort = OrderingFilter(
        label=_("Sort by"),
        empty_label=_("Name (default)"),
        widget=QuickSelect,
        fields=(("name", "name"), ("sku", "sku"), ("category", "category"), ("unit_price", "price")),
        field_labels={"name": _("Name"), "sku": _("SKU"), "category": _("Category"), "unit_price": _("Unit price")},
    )

    class Meta:
        model = Product
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("active", "active")
        super().__init__(data, *args, **kwargs)
        categories = Product.objects.exclude(category="").order_by("category").values_list("category", flat=True)
        self.filters["category"].extra["choices"] = [(c, c) for c in categories.distinct()]
        _bootstrap(self.form)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        ordering = _ordering(self, "sort") or ["name"]
        return queryset.order_by(*ordering, "pk")

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(sku__icontains=value) | Q(name__icontains=value)) if value else queryset

    def filter_active(self, queryset, name, value):
        if value == "all":
            return queryset
        return queryset.filter(active=value != "inactive")
