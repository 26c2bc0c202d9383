"""Filters of the lead list, over the leads a user may see (the queryset passed in is already scoped)."""

import re

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.filters import OrderingFilter, QuickSelect
from customers.forms import sales_users_for
from customers.models import Customer, managed_user_ids
from customers.normalize import digits_only, normalize_phone

from ..models import Lead

SCOPE_ALL = "all"
SCOPE_MINE = "mine"
SCOPE_TEAM = "team"
SCOPE_UNASSIGNED = "unassigned"
SCOPE_LABELS = {
    SCOPE_ALL: _("All I can see"),
    SCOPE_MINE: _("Mine"),
    SCOPE_TEAM: _("My team"),
    SCOPE_UNASSIGNED: _("Unassigned"),
}
# Characters people type inside phone numbers; removed in SQL so that any format matches.
_PHONE_PUNCTUATION = (" ", "-", "(", ")", ".", "+", "/")
_PHONE_TEXT = re.compile(r"[\d\s\-()+./]+")


def scopes_for(user) -> list[str]:
    """The "whose leads" choices a role has: a rep sees only their own, so gets none."""
    if roles.has_role(user, roles.ADMIN, roles.MANAGER):
        return [SCOPE_ALL, SCOPE_MINE, SCOPE_UNASSIGNED]
    if roles.has_role(user, roles.SALES_MANAGER):
        return [SCOPE_ALL, SCOPE_MINE, SCOPE_TEAM, SCOPE_UNASSIGNED]
    return []


def owner_choices_for(user):
    """Owners offered in the filter: a sales manager's team, or every sales user for managers and admins."""
    users = get_user_model().objects.order_by("username")
    if roles.has_role(user, roles.ADMIN, roles.MANAGER):
        return users.filter(groups__name__in=[roles.SALES_REP, roles.SALES_MANAGER]).distinct()
    if roles.has_role(user, roles.SALES_MANAGER):
        return sales_users_for(user)
    return users.none()


def search_leads(queryset, text: str):
    """Leads whose name, company or email contains `text`, or whose phone holds its digits in any format."""
    text = (text or "").strip()
    if not text:
        return queryset
    match = Q(name__icontains=text) | Q(company__icontains=text) | Q(email__icontains=text.lower())
    digits = normalize_phone(text)
    if len(digits) >= 3 and _PHONE_TEXT.fullmatch(text):
        stripped = Replace("phone", Value(_PHONE_PUNCTUATION[0]), Value(""))
        for mark in _PHONE_PUNCTUATION[1:]:
            stripped = Replace(stripped, Value(mark), Value(""))
        queryset = queryset.alias(phone_plain=stripped)
        match |= Q(phone_plain__contains=digits) | Q(phone_plain__contains=digits_only(text))
    return queryset.filter(match)


class LeadFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    scope = django_filters.ChoiceFilter(
        label=_("Whose"), choices=[], method="filter_scope", empty_label=None, widget=QuickSelect
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Lead.Status.choices, empty_label=_("Any"), widget=QuickSelect
    )
    source = django_filters.ChoiceFilter(
        label=_("Source"), choices=Customer.Source.choices, empty_label=_("Any"), widget=QuickSelect
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Owner"), queryset=get_user_model().objects.none(), empty_label=_("Anyone"), widget=QuickSelect
    )
    created_from = django_filters.DateFilter(
        label=_("Created from"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_to = django_filters.DateFilter(
        label=_("Created to"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    score_min = django_filters.NumberFilter(
        label=_("Score at least"),
        field_name="score",
        lookup_expr="gte",
        widget=forms.NumberInput(attrs={"min": 0, "max": 100}),
    )
    score_max = django_filters.NumberFilter(
        label=_("Score at most"),
        field_name="score",
        lookup_expr="lte",
        widget=forms.NumberInput(attrs={"min": 0, "max": 100}),
    )
    sort = OrderingFilter(
        label=_("Sort by"),
        empty_label=_("Newest first (default)"),
        widget=QuickSelect,
        fields=(("created_at", "created"), ("score", "score"), ("name", "name"), ("company", "company")),
        field_labels={
            "created_at": _("Created"),
            "score": _("Score"),
            "name": _("Contact name"),
            "company": _("Company"),
        },
    )

    class Meta:
        model = Lead
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        user = self.request.user
        scopes = scopes_for(user)
        if scopes:
            self.filters["scope"].extra["choices"] = [(code, SCOPE_LABELS[code]) for code in scopes]
        else:
            del self.filters["scope"]
        if roles.has_role(user, roles.ADMIN, roles.MANAGER, roles.SALES_MANAGER):
            self.filters["owner"].queryset = owner_choices_for(user)
            self.filters["owner"].field.label_from_instance = lambda u: u.get_full_name() or u.username
        else:
            del self.filters["owner"]
        for form_field in self.form.fields.values():
            widget = form_field.widget
            css = {"checkbox": "form-check-input", "select": "form-select"}.get(widget.input_type, "form-control")
            widget.attrs["class"] = css

    def filter_search(self, queryset, name, value):
        return search_leads(queryset, value)

    def filter_scope(self, queryset, name, value):
        user = self.request.user
        if value == SCOPE_MINE:
            return queryset.filter(owner=user)
        if value == SCOPE_TEAM:
            return queryset.filter(Q(owner=user) | Q(owner__in=managed_user_ids(user)))
        if value == SCOPE_UNASSIGNED:
            return queryset.filter(owner__isnull=True)
        return queryset
