"""Context of the customers app's own panels on the 360 page (a constant number of queries each)."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .forms import InteractionForm, TaskForm
from .models import Customer
from .permissions import can_log_activity
from .services import EDITABLE_FIELDS, read_change_reason

HISTORY_LIMIT = 30
INTERACTION_LIMIT = 50
# Fields whose changes the history panel shows, in form order.
HISTORY_FIELDS = (*EDITABLE_FIELDS, "archived", "merged_into")
REASONS = {
    "archived": gettext_lazy("archived"),
    "restored": gettext_lazy("restored"),
    "merged": gettext_lazy("merged"),
    "imported": gettext_lazy("imported"),
    # Written by the sales app's customer pool.
    "recycled to the pool": gettext_lazy("recycled to the pool"),
    "released to the pool": gettext_lazy("released to the pool"),
    "claimed from the pool": gettext_lazy("claimed from the pool"),
    "assigned from the pool": gettext_lazy("assigned from the pool"),
}


def contacts(request, customer):
    return {"contacts": list(customer.contacts.all()), "can_log": can_log_activity(request.user, customer)}


def open_tasks(request, customer):
    can_log = can_log_activity(request.user, customer)
    return {
        "tasks": list(customer.tasks.open().select_related("owner")),
        "today": timezone.localdate(),
        "can_log": can_log,
        "task_form": TaskForm(user=request.user, customer=customer) if can_log else None,
    }


def interactions(request, customer):
    can_log = can_log_activity(request.user, customer)
    rows = list(customer.interactions.select_related("actor", "contact")[: INTERACTION_LIMIT + 1])
    return {
        "interactions": rows[:INTERACTION_LIMIT],
        "more_interactions": len(rows) > INTERACTION_LIMIT,
        "can_log": can_log,
        "interaction_form": InteractionForm(customer=customer) if can_log else None,
    }


def _display(field, value, names):
    if value in (None, ""):
        return "—"
    if field.is_relation:
        return names.get((field.name, value), f"#{value}")
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return value


def history(request, customer):
    """Who changed what and when: old → new per field, newest first (from django-simple-history)."""
    records = list(customer.history.select_related("history_user")[: HISTORY_LIMIT + 1])
    fields = [Customer._meta.get_field(name) for name in HISTORY_FIELDS]
    # Resolve every foreign key shown (owners, referrers) with one query per kind.
    user_ids, customer_ids = set(), set()
    for record in records:
        user_ids.add(record.owner_id)
        customer_ids.update({record.referred_by_id, record.merged_into_id})
    names = {
        ("owner", u.pk): (u.get_full_name() or u.username)
        for u in get_user_model().objects.filter(pk__in=user_ids - {None})
    }
    for other in Customer.objects.filter(pk__in=customer_ids - {None}).only("name"):
        names[("referred_by", other.pk)] = names[("merged_into", other.pk)] = other.name
    entries = []
    for index, newer in enumerate(records[:HISTORY_LIMIT]):
        # The oldest row shown is compared with the one just before it, fetched for that purpose.
        older = records[index + 1] if index + 1 < len(records) else None
        changes = []
        for field in fields:
            attname = field.attname
            new = getattr(newer, attname)
            old = getattr(older, attname) if older else None
            if older is None and new in (None, "", False):
                continue
            if older is None or new != old:
                changes.append(
                    {
                        "field": field.verbose_name,
                        "old": _display(field, old, names) if older else "",
                        "new": _display(field, new, names),
                    }
                )
        reason, tag_change = read_change_reason(newer.history_change_reason or "")
        if tag_change:
            old_tags, new_tags = tag_change
            changes.append({"field": _("tags"), "old": ", ".join(old_tags) or "—", "new": ", ".join(new_tags) or "—"})
        entries.append(
            {
                "when": newer.history_date,
                "who": newer.history_user,
                "type": newer.history_type,
                "reason": REASONS.get(reason, reason),
                "changes": changes,
            }
        )
    return {"entries": entries, "more_history": len(records) > HISTORY_LIMIT}
