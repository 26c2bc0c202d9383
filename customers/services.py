"""Writes with side effects on customers, contacts, interactions and tasks.

Every function takes keyword arguments, runs in one transaction and, when a person acts,
takes `actor` so the change history says who did it.
"""

import datetime
import json
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Contact, Customer, Interaction, JobRun, Task
from .normalize import normalize_email

# Fields a person edits on the customer form, in its order; grade fields belong to analytics.
# The form, the history panel and the merge page take their field lists from here.
EDITABLE_FIELDS = (
    "name",
    "kind",
    "external_ref",
    "phone",
    "email",
    "region",
    "city",
    "address",
    "industry",
    "category",
    "relationship_level",
    "owner",
    "source",
    "referred_by",
    "marketing_consent",
    "consent_channel",
    "birthday",
    "anniversary",
    "notes",
)


class ConflictError(Exception):
    """The record changed since the editor loaded it; carries the record as saved now."""

    def __init__(self, current: Customer):
        super().__init__(_("This customer was changed by someone else."))
        self.current = current


def _apply(customer: Customer, data: dict) -> list[str]:
    """Copy editable values from `data` onto `customer`; return the names that changed."""
    changed = []
    for field in EDITABLE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field == "external_ref":
            value = (value or "").strip() or None
        elif field == "email":
            value = normalize_email(value)
        elif isinstance(value, str):
            value = value.strip()
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    customer.set_search_keys()
    if "marketing_consent" in changed:
        customer.consent_at = timezone.now() if customer.marketing_consent else None
    if not customer.marketing_consent:
        customer.consent_channel = ""
    return changed


def change_reason(reason: str = "", *, old_tags: list[str] | None = None, new_tags: list[str] | None = None) -> str:
    """The history change reason: a word such as "imported", plus the tag change when tags changed.

    simple-history keeps no many-to-many snapshot here, so a tag change travels in the reason of
    the same history row; `read_change_reason` gives both back to the history panel.
    """
    if old_tags is None or sorted(old_tags) == sorted(new_tags or []):
        return reason
    return json.dumps({"reason": reason, "tags": [sorted(old_tags), sorted(new_tags)]}, ensure_ascii=False)


def read_change_reason(text: str) -> tuple[str, tuple[list[str], list[str]] | None]:
    """(reason, (old tags, new tags) or None) from a change reason written by `change_reason`."""
    if text.startswith("{"):
        data = json.loads(text)
        return data.get("reason", ""), tuple(data["tags"])
    return text, None


def _tag_names(customer: Customer) -> list[str]:
    return list(customer.tags.values_list("name", flat=True)) if customer.pk else []


@transaction.atomic
def customer_create(*, actor, data: dict, tags=None) -> Customer:
    """Create a customer from form-cleaned data; the actor is recorded as its creator."""
    customer = Customer(created_by=actor)
    _apply(customer, data)
    customer._history_user = actor
    if tags:
        customer._change_reason = change_reason(old_tags=[], new_tags=[t.name for t in tags])
    customer.save()
    if tags:
        customer.tags.set(tags)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor, data: dict, expected_version: int, tags=None) -> list[str]:
    """Save edits made to version `expected_version`; raise ConflictError if it is no longer current.

    Returns the names of the fields that changed (empty: nothing was saved).
    """
    # Compare-and-set on the version takes the row lock, so two editors cannot both win.
    claimed = Customer.objects.filter(pk=customer.pk, version=expected_version).update(version=F("version") + 1)
    if not claimed:
        raise ConflictError(Customer.objects.get(pk=customer.pk))
    fresh = Customer.objects.get(pk=customer.pk)
    changed = _apply(fresh, data)
    old_tags = _tag_names(fresh)
    tags_changed = tags is not None and sorted(old_tags) != sorted(t.name for t in tags)
    if not changed and not tags_changed:
        # Nothing to record: undo the version claim so other editors are not disturbed.
        Customer.objects.filter(pk=fresh.pk).update(version=expected_version)
        customer.refresh_from_db()
        return []
    fresh.updated_at = timezone.now()
    fresh._history_user = actor
    if tags_changed:
        fresh.tags.set(tags)
        fresh._change_reason = change_reason(old_tags=old_tags, new_tags=[t.name for t in tags])
    fresh.save()
    customer.refresh_from_db()
    return changed + (["tags"] if tags_changed else [])


def _save_with_reason(customer: Customer, actor, reason: str, fields: list[str]):
    customer.version += 1
    customer.updated_at = timezone.now()
    customer._history_user = actor
    customer._change_reason = reason
    customer.save(update_fields=[*fields, "version", "updated_at"])


@transaction.atomic
def customer_archive(*, customer: Customer, actor) -> None:
    """Archive (soft-delete) a customer: hidden from lists by default, kept with all its history."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.archived:
        return
    customer.archived = True
    customer.archived_at = timezone.now()
    _save_with_reason(customer, actor, "archived", ["archived", "archived_at"])


@transaction.atomic
def customer_restore(*, customer: Customer, actor) -> None:
    """Bring an archived customer back into the active lists (not one that was merged away)."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.merged_into_id:
        raise ValueError(_("This customer was merged into another one and cannot be restored."))
    if not customer.archived:
        return
    customer.archived = False
    customer.archived_at = None
    _save_with_reason(customer, actor, "restored", ["archived", "archived_at"])


@transaction.atomic
def contact_save(*, contact: Contact, actor) -> Contact:
    """Create or update a contact; a new primary contact demotes the previous one."""
    contact.email = normalize_email(contact.email)
    contact.set_search_keys()
    contact.save()
    if contact.is_primary:
        Contact.objects.filter(customer=contact.customer_id, is_primary=True).exclude(pk=contact.pk).update(
            is_primary=False
        )
    return contact


@transaction.atomic
def interaction_log(
    *,
    customer: Customer,
    actor,
    kind: str,
    subject: str,
    outcome: str = "",
    occurred_at: datetime.datetime | None = None,
    contact: Contact | None = None,
) -> Interaction:
    """Record a visit, call, email, message or meeting with a customer."""
    return Interaction.objects.create(
        customer=customer,
        actor=actor,
        kind=kind,
        subject=subject,
        outcome=outcome,
        occurred_at=occurred_at or timezone.now(),
        contact=contact,
    )


@transaction.atomic
def task_create(
    *,
    owner,
    title: str,
    due_date: datetime.date,
    customer: Customer | None = None,
    notes: str = "",
    source: str = Task.Source.MANUAL,
    created_by=None,
) -> Task:
    """Plan a follow-up for `owner`; other modules call this with their own `source`."""
    return Task.objects.create(
        owner=owner,
        title=title,
        due_date=due_date,
        customer=customer,
        notes=notes,
        source=source,
        created_by=created_by,
    )


@transaction.atomic
def task_set_done(*, task: Task, actor, done: bool = True) -> Task:
    """Mark a task done (or open again)."""
    task.done = done
    task.done_at = timezone.now() if done else None
    task.save(update_fields=["done", "done_at"])
    return task


@dataclass
class RunRecorder:
    run: JobRun

    def count(self, **counts):
        self.run.counts.update(counts)


@contextmanager
def job_run(job: str, *, as_of: datetime.date | None = None):
    """Record one run of a job: started, then succeeded with its counts or failed with the error."""
    run = JobRun.objects.create(job=job, as_of=as_of)
    recorder = RunRecorder(run)
    try:
        yield recorder
    except BaseException as exc:
        run.status = JobRun.Status.FAILED
        run.message = f"{type(exc).__name__}: {exc}"[:2000]
        run.finished_at = timezone.now()
        run.save()
        raise
    run.status = JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()


def overdue_task_summary(*, today: datetime.date | None = None) -> dict:
    """Count open tasks that are overdue and due today, and the owners they belong to."""
    today = today or timezone.localdate()
    overdue = Task.objects.overdue(today=today)
    return {
        "overdue": overdue.count(),
        "due_today": Task.objects.due_today(today=today).count(),
        "owners_with_overdue": overdue.values("owner").distinct().count(),
    }
