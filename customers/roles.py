"""Roles are Django groups; these names are the contract with seed_demo and the admin."""

from django.utils.translation import gettext_lazy as _

ADMIN = "admin"
MANAGER = "manager"
SALES_MANAGER = "sales manager"
SALES_REP = "sales rep"
SERVICE_AGENT = "service agent"
SERVICE_SUPERVISOR = "service supervisor"
MARKETING = "marketing"

# Labels people read; the group names above stay English because code and seed data use them.
LABELS = {
    ADMIN: _("Admin"),
    MANAGER: _("Manager"),
    SALES_MANAGER: _("Sales manager"),
    SALES_REP: _("Sales rep"),
    SERVICE_AGENT: _("Service agent"),
    SERVICE_SUPERVISOR: _("Service supervisor"),
    MARKETING: _("Marketing"),
}

ALL_ROLES = (ADMIN, MANAGER, SALES_MANAGER, SALES_REP, SERVICE_AGENT, SERVICE_SUPERVISOR, MARKETING)
SERVICE_ROLES = frozenset({SERVICE_AGENT, SERVICE_SUPERVISOR})


def roles_of(user) -> frozenset[str]:
    """The role names of a user, read once per user object (one query, then cached)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_crm_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached |= {ADMIN}
        user._crm_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True when the user holds at least one of the roles."""
    return not roles_of(user).isdisjoint(roles)


def is_admin(user) -> bool:
    return has_role(user, ADMIN)
