"""Inventory snapshot import from CSV and XLSX: stock per product and day, at cost, for the turnover rate.

Columns: `sku`, `taken_on` (YYYY-MM-DD), `quantity`, `value_at_cost`. Like the customer import,
every row is checked first and the file is written whole or not at all: one bad row (unknown SKU,
bad date, negative or missing number, the same product and day twice) and nothing is written,
with every bad row reported by its line and reason. Rows upsert on (product, day); a row equal to
what is stored is left alone, so importing the same file again changes nothing. Files are read
with the customer import's reader (encodings, delimiters, Excel cells). A few queries per
file, whatever its size.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers import services as customer_services
from customers.importing.reading import ImportFileError, _header_key, header_keys, read_records
from sales.importing import _decimal, _parse_date, _shown
from sales.models import Product

from ..models import InventorySnapshot

COLUMNS = ("sku", "taken_on", "quantity", "value_at_cost")
# Other spellings of the headers people export from elsewhere.
HEADER_ALIASES = {
    "product": "sku",
    "product_sku": "sku",
    "date": "taken_on",
    "snapshot_date": "taken_on",
    "qty": "quantity",
    "stock": "quantity",
    "value": "value_at_cost",
    "cost_value": "value_at_cost",
    "inventory_value": "value_at_cost",
    "产品编号": "sku",
    "产品": "sku",
    "日期": "taken_on",
    "盘点日期": "taken_on",
    "数量": "quantity",
    "库存数量": "quantity",
    "库存金额": "value_at_cost",
    "成本金额": "value_at_cost",
}
_QUANTITY_LIMIT = Decimal(10) ** (InventorySnapshot._meta.get_field("quantity").max_digits - 2)
_MONEY_LIMIT = Decimal(10) ** (InventorySnapshot._meta.get_field("value_at_cost").max_digits - 2)
# The upload page lists at most this many problems; the command line prints them all.
MAX_SHOWN_ERRORS = 1000


@dataclass
class InventoryImportResult:
    """What an import did (counts: rows, created, updated, unchanged) or why it wrote nothing
    (errors: (line, reason); line 0 for the file as a whole)."""

    counts: dict
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(slots=True)
class _Row:
    line: int
    sku: str = ""
    taken_on: datetime.date | None = None
    quantity: Decimal | None = None
    value_at_cost: Decimal | None = None
    errors: list[str] = field(default_factory=list)


# Reading ---------------------------------------------------------------------------------------


def _number(text: str, column: str, row: _Row, *, limit: Decimal) -> Decimal | None:
    """A non-negative number rounded to cents, or None with the reason recorded on the row (none may be empty)."""
    if not text:
        row.errors.append(_("%(column)s is empty") % {"column": column})
        return None
    return _decimal(text, column, row, limit=limit)


def _parse(line: int, keys: list[str | None], texts: list[str], today: datetime.date) -> _Row:
    """One row of the file, parsed; its problems in `errors` (no queries)."""
    row = _Row(line=line)
    cell = {key: texts[index].strip() for index, key in enumerate(keys) if key in COLUMNS and index < len(texts)}
    if len(texts) > len(keys) and "".join(texts[len(keys) :]).strip():
        row.errors.append(_("the row has more cells than the header has columns (an unquoted comma?)"))
    row.sku = cell.get("sku", "")
    if not row.sku:
        row.errors.append(_("sku is empty"))
    text = cell.get("taken_on", "")
    try:
        row.taken_on = _parse_date(text)
    except ValueError:
        row.errors.append(_("taken_on '%(value)s' is not a date (YYYY-MM-DD)") % {"value": _shown(text)})
    else:
        if row.taken_on > today:
            row.errors.append(_("taken_on '%(value)s' is in the future") % {"value": _shown(text)})
    row.quantity = _number(cell.get("quantity", ""), "quantity", row, limit=_QUANTITY_LIMIT)
    row.value_at_cost = _number(cell.get("value_at_cost", ""), "value_at_cost", row, limit=_MONEY_LIMIT)
    return row


def _read(path_or_file, filename: str | None) -> tuple[list[_Row], list[str]]:
    """Parse every non-empty row after the header; the columns the import ignores."""
    records = read_records(path_or_file, filename)
    aliases = {**{_header_key(k): v for k, v in HEADER_ALIASES.items()}, **{c: c for c in COLUMNS}}
    keys, rows = None, []
    today = timezone.localdate()
    try:
        for line, texts in records:
            if not "".join(texts).strip():
                continue
            if keys is None:
                keys = header_keys(texts, line, aliases=aliases, required=COLUMNS)
            else:
                rows.append(_parse(line, keys, texts, today))
    finally:
        records.close()
    if keys is None:
        raise ImportFileError(_("the file is empty"))
    return rows, [key for key in keys if key and key not in COLUMNS]


# Checking and writing --------------------------------------------------------------------------------


def _check(rows: list[_Row]) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Product ids by SKU (one query) and every problem of every row, in line order."""
    products = dict(Product.objects.filter(sku__in={row.sku for row in rows if row.sku}).values_list("sku", "pk"))
    errors, first_line = [], {}
    for row in rows:
        problems = list(row.errors)
        if row.sku and row.sku not in products:
            problems.append(_("unknown product SKU '%(value)s'") % {"value": _shown(row.sku)})
        if row.sku and row.taken_on:
            key = (row.sku, row.taken_on)
            if key in first_line:
                problems.append(_("the same product and date as line %(line)d") % {"line": first_line[key]})
            else:
                first_line[key] = row.line
        errors += [(row.line, problem) for problem in problems]
    return products, errors


@transaction.atomic
def _write(rows: list[_Row], products: dict[str, int]) -> dict:
    """Upsert the rows on (product, day); rows equal to the stored snapshot are left alone."""
    product_ids = {products[row.sku] for row in rows}
    days = [row.taken_on for row in rows]
    stored = {
        (snapshot.product_id, snapshot.taken_on): snapshot
        for snapshot in InventorySnapshot.objects.select_for_update().filter(
            product_id__in=product_ids, taken_on__gte=min(days), taken_on__lte=max(days)
        )
    }
    now = timezone.now()
    created, updated, unchanged = [], [], 0
    for row in rows:
        snapshot = stored.get((products[row.sku], row.taken_on))
        if snapshot is None:
            created.append(
                InventorySnapshot(
                    product_id=products[row.sku],
                    taken_on=row.taken_on,
                    quantity=row.quantity,
                    value_at_cost=row.value_at_cost,
                    imported_at=now,
                )
            )
        elif snapshot.quantity != row.quantity or snapshot.value_at_cost != row.value_at_cost:
            snapshot.quantity, snapshot.value_at_cost, snapshot.imported_at = row.quantity, row.value_at_cost, now
            updated.append(snapshot)
        else:
            unchanged += 1
    InventorySnapshot.objects.bulk_create(created, batch_size=2000)
    InventorySnapshot.objects.bulk_update(updated, ["quantity", "value_at_cost", "imported_at"], batch_size=2000)
    return {"rows": len(rows), "created": len(created), "updated": len(updated), "unchanged": unchanged}


def inventory_import(path_or_file, *, filename: str | None = None) -> InventoryImportResult:
    """Import inventory snapshots from a CSV or XLSX file: all rows or none, every bad row reported."""
    try:
        rows, ignored = _read(path_or_file, filename)
    except ImportFileError as exc:
        return InventoryImportResult(counts={"rows": 0}, errors=[(exc.line, exc.reason)])
    if not rows:
        return InventoryImportResult(counts={"rows": 0}, errors=[(0, _("the file has no rows after the header"))])
    products, errors = _check(rows)
    if errors:
        return InventoryImportResult(counts={"rows": len(rows)}, errors=errors, ignored_columns=ignored)
    try:
        counts = _write(rows, products)
    except DatabaseError as exc:
        # E.g. another import wrote the same product and day meanwhile; the transaction rolled back.
        reason = _("the import could not be saved (%(error)s); nothing was imported") % {"error": exc}
        return InventoryImportResult(counts={"rows": len(rows)}, errors=[(0, reason)], ignored_columns=ignored)
    return InventoryImportResult(counts=counts, ignored_columns=ignored)


class _ImportRejected(Exception):
    """Raised inside job_run so that a rejected file is recorded as a failed run."""


def inventory_import_recorded(path_or_file, *, filename: str | None = None) -> InventoryImportResult:
    """`inventory_import` recorded as a run of the "import_inventory" job (failed when the file was rejected)."""
    result = None
    try:
        with customer_services.job_run("import_inventory") as run:
            result = inventory_import(path_or_file, filename=filename)
            run.count(**result.counts)
            if not result.ok:
                raise _ImportRejected(import_summary(result))
    except _ImportRejected:
        pass
    return result


def format_error(line: int, reason: str) -> str:
    """'line 7: …' for a row, the bare reason for the file as a whole."""
    return _("line %(line)d: %(reason)s") % {"line": line, "reason": reason} if line else reason


def import_summary(result: InventoryImportResult) -> str:
    """What the import did, or why it wrote nothing, in one sentence."""
    if result.ok:
        return (
            _("%(rows)d rows read: %(created)d snapshots added, %(updated)d updated, %(unchanged)d unchanged.")
            % result.counts
        )
    bad_lines = len({line for line, _reason in result.errors if line})
    if not bad_lines:
        return _("The file could not be imported; nothing was imported.")
    return ngettext(
        "%(bad)d bad row in %(rows)d; nothing was imported.",
        "%(bad)d bad rows in %(rows)d; nothing was imported.",
        bad_lines,
    ) % {"bad": bad_lines, "rows": result.counts["rows"]}
