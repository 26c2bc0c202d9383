"""Writing a checked ImportPlan: new customers, updates, tags and history rows, in one transaction.

Customers and their history rows are written with hand-made INSERT and UPDATE statements, not with
bulk_create, bulk_history_create and update(). Measured with `import_customers` on a 10,000-row,
19-column file (2-core machine), the ORM took 7.1 s instead of 4.1 s for new customers on SQLite,
and for updates 7.6 s instead of 3.0 s (PostgreSQL: 9.1 s instead of 5.9 s). bulk_create and
bulk_history_create each spend ~2 s per 10,000 rows preparing values one by one; one update() per
row costs ~0.25 ms of Python against ~0.03 ms in one executemany; bulk_update's CASE … WHEN took 9 s
for three fields. Django 5.2 also assumes SQLite's old limit of 999 parameters per statement (26
customers per INSERT, where SQLite 3.32+ takes 32,766), so its query count grows with the file.
Tag links are narrow rows: bulk_create writes them about as fast.
"""

import sqlite3

from django.conf import settings
from django.db import NotSupportedError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Customer, Tag
from .checking import CHUNK_SIZE, ImportPlan, PlannedRow

# Tag links per INSERT (Django lowers it to what SQLite allows).
TAG_LINKS_PER_INSERT = 1000
# Field types whose Python values the database drivers take as they are.
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "EmailField",
        "IntegerField",
        "PositiveIntegerField",
        "TextField",
    }
)


class ImportConflictError(Exception):
    """A customer changed between checking the file and writing it."""

    def __init__(self, reason: str, line: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.line = line


def apply(plan: ImportPlan, actor=None) -> dict:
    """Write a checked plan in one transaction; `actor` is recorded as creator and in the history."""
    if not plan.ok:
        raise ValueError("cannot apply a plan with errors")
    counts = {
        "rows": plan.rows_read,
        "created": len(plan.creates),
        "updated": len(plan.updates),
        "unchanged": plan.unchanged,
    }
    if not plan.creates and not plan.updates:
        return counts
    now = timezone.now()
    with transaction.atomic():
        _check_versions(plan.updates)
        new_tag_ids = _create_tags(plan.new_tags)
        _create_customers([planned.customer for planned in plan.creates], actor, now)
        _update_customers(plan.updates, now)
        _set_tags(plan, new_tag_ids)
        _record_history(plan.creates, "+", actor, now)
        _record_history(plan.updates, "~", actor, now)
    return counts


def _check_versions(updates: list[PlannedRow]) -> None:
    """Lock the customers to update and stop if any was changed or deleted since it was checked."""
    checked = {planned.customer.pk: planned for planned in updates}
    pks = list(checked)
    for start in range(0, len(pks), CHUNK_SIZE):
        chunk = pks[start : start + CHUNK_SIZE]
        current = dict(Customer.objects.select_for_update().filter(pk__in=chunk).values_list("pk", "version"))
        for pk in chunk:
            if current.get(pk) != checked[pk].customer.version:
                raise ImportConflictError(
                    _("this customer was changed by someone else while the file was being checked; import it again"),
                    checked[pk].line,
                )


def _create_tags(names: dict[str, str]) -> dict[str, int]:
    """Create the tags the file names that do not exist yet; return {casefolded name: id} for them."""
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(name=name) for name in names.values()], ignore_conflicts=True)
    by_name = dict(Tag.objects.filter(name__in=names.values()).values_list("name", "pk"))
    return {key: by_name[name] for key, name in names.items()}


def _create_customers(customers: list[Customer], actor, now) -> None:
    """INSERT the new customers and give each its primary key."""
    if not customers:
        return
    for customer in customers:
        customer.created_by = actor
        customer.created_at = customer.updated_at = now
    fields = [model_field for model_field in Customer._meta.concrete_fields if not model_field.primary_key]
    rows = [[getattr(customer, model_field.attname) for model_field in fields] for customer in customers]
    pks = _insert(Customer, fields, rows, returning=True)
    for customer, pk in zip(customers, pks, strict=True):
        customer.pk = pk
        customer._state.adding = False
        customer._state.db = connection.alias


def _update_customers(updates: list[PlannedRow], now) -> None:
    """UPDATE … WHERE id = %s for each customer, in one executemany, of every field the file changes."""
    if not updates:
        return
    names = {"version", "updated_at"}
    for planned in updates:
        planned.customer.version += 1
        planned.customer.updated_at = now
        names.update(planned.changed)
    fields = [Customer._meta.get_field(name) for name in sorted(names)]
    quote = connection.ops.quote_name
    table, pk = quote(Customer._meta.db_table), quote(Customer._meta.pk.column)
    assignments = ", ".join(f"{quote(model_field.column)} = %s" for model_field in fields)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    rows = [[getattr(p.customer, model_field.attname) for model_field in fields] + [p.customer.pk] for p in updates]
    with connection.cursor() as cursor:
        cursor.executemany(sql, _db_values([*fields, Customer._meta.pk], rows))


def _set_tags(plan: ImportPlan, new_tag_ids: dict[str, int]) -> None:
    """Replace the tags of the customers whose tags the file sets, in bulk (tags.set() queries per customer)."""
    Through = Customer.tags.through
    retagged = [planned for planned in plan.creates + plan.updates if planned.tag_ids is not None]
    Through.objects.filter(customer_id__in=[p.customer.pk for p in plan.updates if p.tag_ids is not None]).delete()
    links = [
        Through(customer_id=planned.customer.pk, tag_id=tag_id)
        for planned in retagged
        for tag_id in sorted(planned.tag_ids | {new_tag_ids[name.casefold()] for name in planned.new_tag_names})
    ]
    Through.objects.bulk_create(links, batch_size=TAG_LINKS_PER_INSERT)


def _record_history(planned_rows: list[PlannedRow], history_type: str, actor, now) -> None:
    """One history row per customer, as simple-history's bulk_history_create would write it, with its reason."""
    if not planned_rows or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history_model = Customer.history.model
    tracked = history_model.tracked_fields
    extra = ["history_date", "history_change_reason", "history_type", "history_user"]
    fields = tracked + [history_model._meta.get_field(name) for name in extra]
    actor_pk = actor.pk if actor else None
    rows = [
        [*(getattr(planned.customer, model_field.attname) for model_field in tracked), now, planned.reason]
        + [history_type, actor_pk]
        for planned in planned_rows
    ]
    _insert(history_model, fields, rows)


def _insert(model, fields: list, rows: list[list], *, returning: bool = False) -> list[int] | None:
    """INSERT rows (values in the order of `fields`), many per statement; return the new keys if asked."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model_field.column) for model_field in fields)
    into = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
    placeholders = f"({', '.join(['%s'] * len(fields))})"
    params = _db_values(fields, rows)
    with connection.cursor() as cursor:
        if not returning and connection.vendor == "sqlite":
            # SQLite's executemany loops in C with no round trips: its fastest way.
            cursor.executemany(into + placeholders, params)
            return None
        if returning and not connection.features.can_return_rows_from_bulk_insert:
            raise NotSupportedError("the import needs INSERT … RETURNING (PostgreSQL, or SQLite 3.35 or later)")
        batch = max(1, _max_query_params() // len(fields))
        suffix = f" RETURNING {quote(model._meta.pk.column)}" if returning else ""
        pks = []
        for start in range(0, len(params), batch):
            chunk = params[start : start + batch]
            cursor.execute(f"{into}{', '.join([placeholders] * len(chunk))}{suffix}", [v for row in chunk for v in row])
            if returning:
                # Rows come back in the order given, as Django's own bulk_create relies on.
                pks += [pk for (pk,) in cursor.fetchall()]
        return pks if returning else None


def _db_values(fields: list, rows: list[list]) -> list[list]:
    """Rows of Python values as the database takes them; plain values go as they are."""
    converters = [_converter(model_field) for model_field in fields]
    return [
        [value if convert is None else convert(value) for value, convert in zip(row, converters, strict=True)]
        for row in rows
    ]


def _converter(model_field):
    """A converter from Python to database value for the field, or None when the value goes as it is."""
    if model_field.is_relation:
        model_field = model_field.target_field
    if model_field.get_internal_type() in _PLAIN_TYPES:
        return None
    # Most dates in an import are the same few values (the import's own timestamp): convert each once.
    converted = {}

    def convert(value):
        if value not in converted:
            converted[value] = model_field.get_db_prep_save(value, connection)
        return converted[value]

    return convert


def _max_query_params() -> int:
    """Parameters one statement may carry: SQLite's real limit (Django assumes the old 999)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return min(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766)
    return connection.features.max_query_params or 20000
