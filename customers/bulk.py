"""Fast plain-row writers for seeding and imports: COPY on PostgreSQL, executemany elsewhere.

`seed_demo` and the demo steps of other apps (`customers.demo_steps`) write with these.
"""

import io
import json

from django.db import connection, models

BATCH_SIZE = 5000


# PostgreSQL COPY text format: these characters are written as backslash escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


def _copy_text(field):
    """How one field's Python value is written in PostgreSQL's COPY text format."""
    kind = field.get_internal_type()
    if kind == "BooleanField":
        return lambda v: _COPY_NULL if v is None else ("t" if v else "f")
    if kind in {"DateTimeField", "DateField"}:
        return lambda v: _COPY_NULL if v is None else v.isoformat()
    if kind == "JSONField":
        return lambda v: _COPY_NULL if v is None else json.dumps(v).translate(_COPY_ESCAPES)
    return lambda v: _COPY_NULL if v is None else str(v).translate(_COPY_ESCAPES)


class TableWriter:
    """Inserts plain rows (dicts of attnames) into one model's table: COPY on PostgreSQL, else executemany.

    bulk_create spends more time preparing each value than the database spends storing it;
    at 100,000 customers that is minutes. Columns a row leaves out get the field's default.
    """

    def __init__(self, model, *, with_ids: bool):
        fields = [f for f in model._meta.concrete_fields if with_ids or not f.primary_key]
        ops = connection.ops
        self.names = [f.attname for f in fields]
        self.defaults = {f.attname: f.get_default() for f in fields if not f.primary_key}
        self.copy = connection.vendor == "postgresql"
        table = ops.quote_name(model._meta.db_table)
        columns = ", ".join(ops.quote_name(f.column) for f in fields)
        if self.copy:
            self.converters = [_copy_text(f) for f in fields]
            self.sql = f"COPY {table} ({columns}) FROM STDIN"
        else:
            # DateTimeField is a DateField: test it first. SQLite stores aware datetimes as UTC text.
            self.converters = [
                ops.adapt_datetimefield_value
                if isinstance(f, models.DateTimeField)
                else ops.adapt_datefield_value
                if isinstance(f, models.DateField)
                else None
                for f in fields
            ]
            placeholders = ", ".join(["%s"] * len(fields))
            self.sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from _meta
        self.written = 0

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        defaults, names, converters = self.defaults, self.names, self.converters
        with connection.cursor() as cursor:
            if self.copy:
                text = io.StringIO()
                for row in rows:
                    full = {**defaults, **row}
                    text.write("\t".join([convert(full[n]) for n, convert in zip(names, converters, strict=True)]))
                    text.write("\n")
                text.seek(0)
                cursor.cursor.copy_expert(self.sql, text)
            else:
                values = []
                for row in rows:
                    full = {**defaults, **row}
                    values.append(
                        tuple(full[n] if c is None else c(full[n]) for n, c in zip(names, converters, strict=True))
                    )
                for start in range(0, len(values), BATCH_SIZE):
                    cursor.executemany(self.sql, values[start : start + BATCH_SIZE])
        self.written += len(rows)


def reserve_ids(model, count: int) -> list[int]:
    """Ids for `count` new rows of `model`, taken so that the database never hands them out again."""
    if count == 0:
        return []
    ops = connection.ops
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count]
            )
            return sorted(row[0] for row in cursor.fetchall())
        cursor.execute(f"SELECT MAX({ops.quote_name(pk)}) FROM {ops.quote_name(table)}")  # noqa: S608 - names from _meta
        top = cursor.fetchone()[0] or 0
        if connection.vendor == "sqlite":
            # AUTOINCREMENT never reuses the id of a deleted row (its history still points at it); neither do we.
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
    return list(range(top + 1, top + 1 + count))
