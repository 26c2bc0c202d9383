"""What people do with churn alerts: record that the customer was contacted, won back or lost.

The churn job opens the alerts (`analytics/services/churn.py`); this module holds the changes a
person makes, with conflict detection on the alert's `version`.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer
from customers.services import task_set_done

from ..models import ChurnAlert

Status = ChurnAlert.Status
RESOLVED = (Status.WON_BACK, Status.LOST)
# open → contacted → won back / lost; an alert may also be resolved straight from open.
NEXT_STATUSES = {
    Status.OPEN: (Status.CONTACTED, Status.WON_BACK, Status.LOST),
    Status.CONTACTED: (Status.WON_BACK, Status.LOST),
    Status.WON_BACK: (),
    Status.LOST: (),
}


class AlertConflict(Exception):
    """The alert changed since the person loaded it; carries the alert as saved now."""

    def __init__(self, current: ChurnAlert):
        super().__init__(_("This alert was changed by someone else."))
        self.current = current


def next_statuses(alert: ChurnAlert) -> tuple[str, ...]:
    """The statuses a person may move the alert to from its current one."""
    return NEXT_STATUSES.get(alert.status, ())


def can_change_alert(user, alert: ChurnAlert) -> bool:
    """Who may change an alert: those who may edit its customer (managers read only)."""
    cache = alert.__dict__.setdefault("_editable_by", {})
    if user.pk not in cache:
        cache[user.pk] = Customer.objects.editable_by(user).filter(pk=alert.customer_id).exists()
    return cache[user.pk]


def note_entry(*, status_label: str, note: str, actor, at) -> str:
    """One dated block of the alert's note: who moved it to which status, and what they wrote."""
    who = (actor.get_full_name() or actor.get_username()) if actor else ""
    stamp = timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
    head = " · ".join(part for part in (stamp, who, status_label) if part)
    return f"{head}\n{note.strip()}" if note.strip() else head


@transaction.atomic
def alert_set_status(*, alert: ChurnAlert, status: str, note: str, actor, version: int) -> ChurnAlert:
    """Move `alert` (as seen at `version`) to `status` with a note; resolving it closes its win-back task.

    Raises AlertConflict when the alert changed since `version`, PermissionDenied when `actor` may not
    edit the customer, ValidationError for a move the workflow does not allow or a loss without a note.
    """
    if not can_change_alert(actor, alert):
        raise PermissionDenied(_("You can see this alert but not change it."))
    # Compare-and-set on the version takes the row lock, so two people cannot both move the alert.
    claimed = ChurnAlert.objects.filter(pk=alert.pk, version=version).update(version=F("version") + 1)
    if not claimed:
        raise AlertConflict(ChurnAlert.objects.select_related("updated_by").get(pk=alert.pk))
    fresh = ChurnAlert.objects.select_related("task").get(pk=alert.pk)
    if status not in next_statuses(fresh):
        wanted = Status(status).label if status in Status.values else status
        raise ValidationError(
            _("An alert that is %(current)s cannot be marked %(status)s.")
            % {"current": fresh.get_status_display(), "status": wanted}
        )
    if status == Status.LOST and not note.strip():
        raise ValidationError(_("Say why the customer is lost."))
    now = timezone.now()
    entry = note_entry(status_label=str(Status(status).label), note=note, actor=actor, at=now)
    # The model keeps one note: each change adds a dated block on top, so earlier notes stay.
    fresh.note = f"{entry}\n\n{fresh.note}".strip() if fresh.note else entry
    fresh.status = status
    fresh.updated_by = actor
    fresh.updated_at = now
    if status in RESOLVED:
        fresh.closed_at = now
        if fresh.task is not None and not fresh.task.done:
            task_set_done(task=fresh.task, actor=actor, done=True)
    fresh.save(update_fields=["note", "status", "updated_by", "updated_at", "closed_at"])
    return fresh
