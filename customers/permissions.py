"""Who may do what with a customer, on top of `Customer.objects.visible_to(user)`."""

from . import roles
from .models import Customer


def can_edit(user, customer) -> bool:
    """Admins, the owner, and the owner's sales manager may change a customer (cached per object)."""
    cache = customer.__dict__.setdefault("_editable_by", {})
    if user.pk not in cache:
        cache[user.pk] = Customer.objects.editable_by(user).filter(pk=customer.pk).exists()
    return cache[user.pk]


def can_log_activity(user, customer) -> bool:
    """Who may log interactions, contacts and tasks: those who can edit, and service staff."""
    return roles.has_role(user, *roles.SERVICE_ROLES) or can_edit(user, customer)


def can_create_customers(user) -> bool:
    return roles.has_role(user, roles.ADMIN, roles.SALES_REP, roles.SALES_MANAGER)
