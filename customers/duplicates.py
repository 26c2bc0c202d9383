"""Likely duplicate customers: the same phone, the same email or a similar name.

Phone and email keys are grouped in SQL; the name key (`normalize_name`) is Python, so names
are read once as (pk, name) pairs for the user's scope and keyed here. Either way the number
of queries does not grow with the number of customers.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from .models import Customer
from .normalize import normalize_name

SAME_PHONE = "phone"
SAME_EMAIL = "email"
SIMILAR_NAME = "name"

REASON_LABELS = {
    SAME_PHONE: _("Same phone"),
    SAME_EMAIL: _("Same email"),
    SIMILAR_NAME: _("Similar name"),
}
_REASON_ORDER = (SAME_PHONE, SAME_EMAIL, SIMILAR_NAME)


@dataclass(frozen=True)
class Reason:
    """Why a group matched: the kind of match and the shared key (phone digits, email, name key)."""

    kind: str
    key: str

    @property
    def label(self):
        return REASON_LABELS[self.kind]


@dataclass
class DuplicateGroup:
    """Customers that look like the same one; `keep_pk` is the oldest record, suggested to keep."""

    pks: tuple[int, ...]
    reasons: list[Reason]
    keep_pk: int
    sort_name: str
    customers: list[Customer] = field(default_factory=list)


def _shared_key_members(scoped, field_name: str) -> dict[str, list[int]]:
    """{key: [pk, …]} for keys of `field_name` that more than one scoped customer shares."""
    shared_keys = (
        scoped.exclude(**{field_name: ""})
        .order_by()
        .values(field_name)
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values(field_name)
    )
    members = defaultdict(list)
    rows = scoped.filter(**{f"{field_name}__in": shared_keys}).order_by().values_list(field_name, "pk")
    for key, pk in rows:
        members[key].append(pk)
    return members


def find_duplicate_groups(user) -> list[DuplicateGroup]:
    """Groups of active customers the user may edit that share a phone, an email or a name key.

    A group whose members match for several reasons is listed once, with all its reasons.
    Groups come strongest first (most reasons), then by name. Customers are not loaded:
    call `load_group_customers` on the groups actually shown.
    """
    scoped = Customer.objects.editable_by(user).active()
    names = {}
    created = {}
    by_name_key = defaultdict(list)
    for pk, name, created_at in scoped.order_by().values_list("pk", "name", "created_at"):
        names[pk] = name
        created[pk] = created_at
        key = normalize_name(name)
        if key:
            by_name_key[key].append(pk)

    matches: dict[frozenset[int], list[Reason]] = defaultdict(list)
    for key, pks in by_name_key.items():
        if len(pks) > 1:
            matches[frozenset(pks)].append(Reason(SIMILAR_NAME, key))
    for kind, field_name in ((SAME_PHONE, "phone_digits"), (SAME_EMAIL, "email")):
        for key, pks in _shared_key_members(scoped, field_name).items():
            # A customer created between the two reads is left for the next visit.
            members = frozenset(pk for pk in pks if pk in names)
            if len(members) > 1:
                matches[members].append(Reason(kind, key))

    groups = []
    for members, reasons in matches.items():
        ordered = sorted(members, key=lambda pk: (created[pk], pk))
        reasons.sort(key=lambda reason: _REASON_ORDER.index(reason.kind))
        groups.append(
            DuplicateGroup(
                pks=tuple(ordered),
                reasons=reasons,
                keep_pk=ordered[0],
                sort_name=min(names[pk].casefold() for pk in members),
            )
        )
    groups.sort(key=lambda group: (-len(group.reasons), group.sort_name, group.pks))
    return groups


def load_group_customers(groups: list[DuplicateGroup]) -> None:
    """Fill `customers` of each group (oldest first) with one query for all of them."""
    pks = {pk for group in groups for pk in group.pks}
    loaded = Customer.objects.filter(pk__in=pks).select_related("owner").in_bulk()
    for group in groups:
        group.customers = [loaded[pk] for pk in group.pks if pk in loaded]
