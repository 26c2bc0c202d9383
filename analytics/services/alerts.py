"""Churn alerts: opened by the churn job with a win-back task, marked won back when the customer
buys again, and moved by people (contacted, won back, lost) with conflict detection on `version`.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer, Task
from customers.services import task_set_done
from sales.models import Order

from .. import reasons
from ..models import ChurnAlert, ChurnModelRun, CustomerGrade, GradingRule, GradingRun

TASK_SOURCE = "churn_alert"
# A win-back call within a week of the alert.
WIN_BACK_DAYS = 7

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


# Written by the churn job ---------------------------------------------------------------------


def alerts_mark_won_back(*, as_of: datetime.date, now: datetime.datetime) -> int:
    """Unresolved alerts whose customer bought after the alert opened (up to the date) become won back."""
    bought_since = Order.objects.counted().filter(
        customer=OuterRef("customer_id"), ordered_at__gt=OuterRef("opened_on"), ordered_at__lte=as_of
    )
    won = ChurnAlert.objects.unresolved().filter(Exists(bought_since))
    task_ids = list(won.exclude(task=None).values_list("task_id", flat=True))
    count = won.update(
        status=ChurnAlert.Status.WON_BACK, closed_at=now, updated_at=now, updated_by=None, version=F("version") + 1
    )
    # As when a person resolves an alert: its win-back task is done.
    Task.objects.filter(pk__in=task_ids, done=False).update(done=True, done_at=now)
    return count


@transaction.atomic
def alerts_open(*, churn_run: ChurnModelRun, run: GradingRun, rule: GradingRule, now: datetime.datetime) -> int:
    """A ChurnAlert with a win-back task for each valuable high-risk customer without an unresolved alert."""
    candidates = (
        CustomerGrade.objects.filter(run=run, churn_risk=Customer.ChurnRisk.HIGH, value__gte=rule.alert_min_value)
        .exclude(customer_id__in=ChurnAlert.objects.unresolved().values("customer_id"))
        .order_by("customer_id")
        .values_list("customer_id", "customer__name", "customer__owner", "value", "p_alive", "churn_reasons")
    )
    alerts, tasks = [], []
    due = run.as_of + datetime.timedelta(days=WIN_BACK_DAYS)
    for customer_id, name, owner_id, value, p_alive, churn_reasons in candidates:
        task = None
        if owner_id is not None:
            notes = " ".join(reasons.describe(reason) for reason in churn_reasons)
            task = Task(
                customer_id=customer_id,
                owner_id=owner_id,
                title=(_("Win back “%(name)s”: high risk of churning") % {"name": name})[:200],
                notes=notes,
                due_date=due,
                source=TASK_SOURCE,
                created_at=now,
            )
            tasks.append(task)
        alerts.append(
            ChurnAlert(
                customer_id=customer_id,
                churn_run=churn_run,
                opened_on=run.as_of,
                status=ChurnAlert.Status.OPEN,
                reasons=churn_reasons,
                p_alive=p_alive,
                value_at_risk=value,
                task=task,
                updated_at=now,
            )
        )
    Task.objects.bulk_create(tasks, batch_size=2000)
    ChurnAlert.objects.bulk_create(alerts, batch_size=2000)
    return len(alerts)
