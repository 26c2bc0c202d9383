"""Order import from CSV and XLSX: each row is one order line; rows sharing an `order_ref` are one order.

Unlike the customer import (all rows or none), good orders are written and bad ones are skipped
and reported: an order is written whole or not at all, and an `order_ref` already in the
database is left alone, so importing the same file again changes nothing. Files are read with
the customer import's reader pieces (encodings, delimiters, Excel cells); look-ups run once per
chunk of orders and rows are written with COPY (`customers.bulk`), so the queries do not grow
with the file and 100,000 rows take seconds on PostgreSQL.
"""

import datetime
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers import roles, services
from customers.bulk import TableWriter, reserve_ids
from customers.importing.checking import default_owner_for
from customers.importing.reading import ImportFileError, _header_key, header_keys, read_records
from customers.models import Customer, ImportJob
from customers.normalize import search_text

from .models import Order, OrderLine, Product, Sequence

COLUMNS = (
    "customer_ref",
    "order_ref",
    "ordered_at",
    "amount",
    "product",
    "quantity",
    "cost",
    "customer_name",
    "status",
    "description",
)
REQUIRED_COLUMNS = ("customer_ref", "order_ref", "ordered_at", "amount")
# Other spellings of the headers people export from elsewhere.
HEADER_ALIASES = {
    "sku": "product",
    "product_sku": "product",
    "order_date": "ordered_at",
    "date": "ordered_at",
    "qty": "quantity",
    "line_amount": "amount",
    "line_cost": "cost",
    "customer": "customer_ref",
    "customer_external_ref": "customer_ref",
    "external_ref": "customer_ref",
    "order_number": "order_ref",
    "客户编号": "customer_ref",
    "客户名称": "customer_name",
    "订单编号": "order_ref",
    "订单日期": "ordered_at",
    "金额": "amount",
    "产品": "product",
    "数量": "quantity",
    "成本": "cost",
    "状态": "status",
}
ORDER_PREFIX = "SO"
# Orders checked and written per round of queries (and per transaction).
CHUNK_ORDERS = 5000
# The upload page lists at most this many problems; the command line prints them all.
MAX_STORED_ERRORS = 1000

CENT = Decimal("0.01")
_MONEY_LIMIT = Decimal(10) ** (Order._meta.get_field("amount").max_digits - 2)
_QUANTITY_LIMIT = Decimal(10) ** (OrderLine._meta.get_field("quantity").max_digits - 2)
_REF_MAX = Order._meta.get_field("order_ref").max_length
_CUSTOMER_REF_MAX = Customer._meta.get_field("external_ref").max_length
_NAME_MAX = Customer._meta.get_field("name").max_length
_DESCRIPTION_MAX = OrderLine._meta.get_field("description").max_length
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_MONEY_NOISE = re.compile(r"[\s,¥￥$]")
# Our own export prefixes formula-like text with an apostrophe; the import takes it off again.
_NEUTRALISED = re.compile(r"^'(?=[=+\-@\t\r])")

# progress(stage, rows processed, rows in all), stage being an ImportJob.Status.
Progress = Callable[[str, int, int], None]


# Reading ---------------------------------------------------------------------------------------


@dataclass
class Table:
    """The rows of a file as text, with its header: `keys[i]` names column i (None: a blank header)."""

    keys: list[str | None]
    rows: list[tuple[int, list[str]]]

    @cached_property
    def positions(self) -> list[int | None]:
        """Where each of COLUMNS is in a row (None when the file has no such column)."""
        where = {key: index for index, key in enumerate(self.keys) if key}
        return [where.get(column) for column in COLUMNS]

    @property
    def ignored_columns(self) -> list[str]:
        return [key for key in self.keys if key and key not in COLUMNS]


def read_table(path_or_file, filename: str | None = None) -> Table:
    """Read an order CSV or XLSX file: the header and every non-empty row as text.

    Raises ImportFileError when the file as a whole cannot be read or lacks a required column.
    """
    records = read_records(path_or_file, filename)
    keys, rows = None, []
    try:
        for line, texts in records:
            if not "".join(texts).strip():
                continue
            if keys is None:
                keys = header_keys(texts, line, aliases=_header_aliases(), required=REQUIRED_COLUMNS)
            else:
                rows.append((line, texts))
    finally:
        # Close the reader (and so its text wrapper) before the file closes.
        records.close()
    if keys is None:
        raise ImportFileError(_("the file is empty"))
    return Table(keys=keys, rows=rows)


def _header_aliases() -> dict[str, str]:
    return {**{_header_key(k): v for k, v in HEADER_ALIASES.items()}, **{c: c for c in COLUMNS}}


# Parsing one row (no queries) --------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    """One order line of the file, parsed."""

    line: int
    customer_ref: str = ""
    customer_name: str = ""
    order_ref: str = ""
    ordered_at: datetime.date | None = None
    status: str = ""
    amount: Decimal = Decimal(0)
    quantity: Decimal = Decimal(1)
    cost: Decimal | None = None
    sku: str = ""
    description: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass
class _Order:
    """The lines of one order_ref, in file order; `bad` once any of them is."""

    ref: str
    lines: list[_Line] = field(default_factory=list)
    bad: bool = False
    # Set from the first line that gives them: a later line may leave them empty, not differ.
    customer_ref: str = ""
    ordered_at: datetime.date | None = None
    status: str = ""


def _status_lookup() -> dict[str, str]:
    """Status code, English label or Chinese label (any case) → code."""
    lookup = {code: code for code in Order.Status.values}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for code, label in Order.Status.choices:
                lookup.setdefault(str(label).casefold(), code)
    return lookup


def _shown(value: str, limit: int = 40) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _decimal(text: str, column: str, line: _Line, *, limit: Decimal) -> Decimal | None:
    """A non-negative amount rounded to cents, or None with the reason recorded on the line."""
    try:
        try:
            value = Decimal(text)
        except InvalidOperation:
            # "¥1,234.50" as people type amounts.
            value = Decimal(_MONEY_NOISE.sub("", text))
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        line.errors.append(_("%(column)s '%(value)s' is not a number") % {"column": column, "value": _shown(text)})
        return None
    if value < 0:
        line.errors.append(_("%(column)s '%(value)s' is negative") % {"column": column, "value": _shown(text)})
        return None
    value = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if value >= limit:
        line.errors.append(_("%(column)s '%(value)s' is too large") % {"column": column, "value": _shown(text)})
        return None
    return value


def _parse_date(text: str) -> datetime.date:
    """YYYY-MM-DD (or with / or . and an optional time); ValueError otherwise."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        # The common case, ten times faster than the regular expression.
        return datetime.date.fromisoformat(text)
    match = _DATE.match(text)
    if not match:
        raise ValueError(text)
    return datetime.date(*(int(part) for part in match.groups()))


def parse_line(number: int, texts: list[str], table: Table, statuses: dict[str, str]) -> _Line:
    """Parse one row into a _Line; problems go into its `errors`."""
    line = _Line(line=number)
    size = len(table.keys)
    if len(texts) > size and "".join(texts[size:]).strip():
        line.errors.append(_("the row has more cells than the header has columns (an unquoted comma?)"))
    cell = {}
    for column, index in zip(COLUMNS, table.positions, strict=True):
        if index is not None and index < len(texts) and (value := texts[index].strip()):
            cell[column] = _NEUTRALISED.sub("", value) if value[0] == "'" else value
    if any("\x00" in value for value in cell.values()):
        line.errors.append(_("the row contains a NUL character"))
        return line
    for column, limit in (("customer_ref", _CUSTOMER_REF_MAX), ("order_ref", _REF_MAX)):
        value = cell.get(column, "")
        if not value:
            line.errors.append(_("%(column)s is empty") % {"column": column})
        elif len(value) > limit:
            line.errors.append(
                _("%(column)s '%(value)s' is too long (at most %(limit)d characters)")
                % {"column": column, "value": _shown(value), "limit": limit}
            )
        else:
            setattr(line, column, value)
    line.customer_name = cell.get("customer_name", "")
    if len(line.customer_name) > _NAME_MAX:
        line.errors.append(_("customer_name is too long (at most %(limit)d characters)") % {"limit": _NAME_MAX})
    line.description = cell.get("description", "")[:_DESCRIPTION_MAX]
    line.sku = cell.get("product", "")
    text = cell.get("ordered_at", "")
    try:
        line.ordered_at = _parse_date(text)
    except ValueError:
        line.errors.append(_("ordered_at '%(value)s' is not a date (YYYY-MM-DD)") % {"value": _shown(text)})
    text = cell.get("amount", "")
    if not text:
        line.errors.append(_("amount is empty"))
    else:
        line.amount = _decimal(text, "amount", line, limit=_MONEY_LIMIT)
    text = cell.get("quantity", "")
    if text:
        quantity = _decimal(text, "quantity", line, limit=_QUANTITY_LIMIT)
        if quantity is not None and quantity == 0:
            line.errors.append(_("quantity '%(value)s' must be more than 0") % {"value": _shown(text)})
        elif quantity is not None:
            line.quantity = quantity
    text = cell.get("cost", "")
    if text:
        line.cost = _decimal(text, "cost", line, limit=_MONEY_LIMIT)
    text = cell.get("status", "")
    if text:
        line.status = statuses.get(text.casefold(), "")
        if not line.status:
            line.errors.append(
                _("unknown status '%(value)s' (expected one of %(expected)s)")
                % {"value": _shown(text), "expected": ", ".join(Order.Status.values)}
            )
    return line


# The import ----------------------------------------------------------------------------------------


@dataclass
class OrderImportResult:
    """What an import did (counts) and the problems it skipped (line, reason; line 0: the whole file)."""

    counts: dict
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    file_error: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def import_orders(
    path, *, actor=None, recorded_by=None, filename=None, progress: Progress | None = None
) -> OrderImportResult:
    """Import an order file: good orders are written whole, bad ones skipped and reported by line.

    `actor` (an upload from the UI) may add orders only to customers in `editable_by(actor)`;
    `recorded_by` (the command's --actor) is recorded as creator with no restriction. New
    customers belong to the importing sales user, when there is one.
    """
    recorded_by = recorded_by or actor
    counts = dict.fromkeys(
        ("rows", "orders", "lines", "customers_created", "unchanged", "orders_skipped", "bad_rows"), 0
    )
    try:
        table = read_table(path, filename)
    except ImportFileError as exc:
        return OrderImportResult(counts=counts, errors=[(exc.line, exc.reason)], file_error=True)
    counts["rows"] = total = len(table.rows)
    ignored_columns = table.ignored_columns
    if progress:
        progress(ImportJob.Status.VALIDATING, 0, total)
    statuses = _status_lookup()
    orders: dict[str, _Order] = {}
    errors: list[tuple[int, str]] = []
    for number, texts in table.rows:
        line = parse_line(number, texts, table, statuses)
        if not line.order_ref:
            errors += [(line.line, reason) for reason in line.errors]
            counts["bad_rows"] += 1
            continue
        order = orders.setdefault(line.order_ref, _Order(ref=line.order_ref))
        _check_consistent(order, line)
        order.lines.append(line)
        if line.errors:
            order.bad = True
    del table
    writer = _Writer(actor=actor, recorded_by=recorded_by, counts=counts, errors=errors)
    pending = list(orders.values())
    done_rows = counts["bad_rows"]
    for start in range(0, len(pending), CHUNK_ORDERS):
        chunk = pending[start : start + CHUNK_ORDERS]
        writer.write_chunk(chunk)
        done_rows += sum(len(order.lines) for order in chunk)
        if progress:
            progress(ImportJob.Status.WRITING, done_rows, total)
    errors.sort(key=lambda error: error[0])
    return OrderImportResult(counts=counts, errors=errors, ignored_columns=ignored_columns)


def _check_consistent(order: _Order, line: _Line) -> None:
    """Every line of an order names the same customer, date and status (or leaves them empty)."""
    for column in ("customer_ref", "ordered_at", "status"):
        mine, first = getattr(line, column), getattr(order, column)
        if not mine:
            continue
        if not first:
            setattr(order, column, mine)
        elif mine != first:
            first_line = next(other.line for other in order.lines if getattr(other, column) == first)
            line.errors.append(
                _("order '%(order)s' has %(column)s '%(first)s' on line %(line)d, not '%(value)s'")
                % {"order": _shown(order.ref), "column": column, "first": first, "line": first_line, "value": mine}
            )


class _Writer:
    """Checks orders against the database and writes the good ones, one chunk per transaction."""

    def __init__(self, *, actor, recorded_by, counts: dict, errors: list):
        self.actor = actor
        self.restricted = actor is not None and not roles.is_admin(actor)
        self.recorded_by_id = recorded_by.pk if recorded_by else None
        owner = default_owner_for(recorded_by)
        self.default_owner_id = owner.pk if owner else None
        self.counts = counts
        self.errors = errors
        self.history = getattr(settings, "SIMPLE_HISTORY_ENABLED", True)

    def write_chunk(self, chunk: list[_Order]) -> None:
        """Check one chunk of orders against the database and write its good orders, in one transaction."""
        # A concurrent import may take an order_ref or external_ref between our look-up and our
        # insert: the unique constraint stops it, the transaction rolls back, the chunk is checked again.
        for attempt in range(2):
            counts, errors = dict.fromkeys(self.counts, 0), []
            try:
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        # The import is idempotent: should the server crash before this commit reaches
                        # the disk, importing the file again adds what is missing. So skip the wait.
                        with connection.cursor() as cursor:
                            cursor.execute("SET LOCAL synchronous_commit = off")
                    self._write_chunk(chunk, counts, errors)
            except IntegrityError:
                if attempt:
                    raise
                continue
            for key, value in counts.items():
                self.counts[key] += value
            self.errors += errors
            return

    def _write_chunk(self, chunk: list[_Order], counts: dict, errors: list) -> None:
        refs = [order.ref for order in chunk]
        existing = set(Order.objects.filter(order_ref__in=refs).values_list("order_ref", flat=True))
        skus = {line.sku for order in chunk if not order.bad for line in order.lines if line.sku}
        products = {
            sku: (pk, name, unit_cost)
            for sku, pk, name, unit_cost in Product.objects.filter(sku__in=skus).values_list(
                "sku", "pk", "name", "unit_cost"
            )
        }
        customer_refs = {order.customer_ref for order in chunk if order.ref not in existing and not order.bad}
        customers = {}
        for ref, pk, owner_id, merged_into_id, merged_owner_id in Customer.objects.filter(
            external_ref__in=customer_refs
        ).values_list("external_ref", "pk", "owner_id", "merged_into_id", "merged_into__owner_id"):
            # A merged-away customer's orders belong to the customer it was merged into.
            customers[ref] = (merged_into_id, merged_owner_id) if merged_into_id else (pk, owner_id)
        editable = None
        if self.restricted and customers:
            editable = set(
                Customer.objects.editable_by(self.actor)
                .filter(pk__in=[pk for pk, _owner in customers.values()])
                .values_list("pk", flat=True)
            )
        good: list[_Order] = []
        for order in chunk:
            if order.ref in existing:
                # Already imported: left as it is, whatever the file says now.
                counts["unchanged"] += 1
                continue
            # Problems found in the database, kept apart from the parsed lines so that a retry starts afresh.
            found: dict[int, list[str]] = {}
            for line in order.lines:
                if line.sku and line.sku not in products and not order.bad:
                    found.setdefault(line.line, []).append(
                        _("unknown product SKU '%(value)s'") % {"value": _shown(line.sku)}
                    )
            ref = order.customer_ref
            if editable is not None and ref in customers and not order.bad and customers[ref][0] not in editable:
                found.setdefault(order.lines[0].line, []).append(
                    _("you may not add orders to customer '%(value)s'") % {"value": _shown(ref)}
                )
            if order.bad or found:
                self._skip(order, found, counts, errors)
            else:
                good.append(order)
        counts["customers_created"] += self._create_customers(good, customers)
        counts["lines"] += self._create_orders(good, customers, products)
        counts["orders"] += len(good)

    @staticmethod
    def _skip(order: _Order, found: dict[int, list[str]], counts: dict, errors: list) -> None:
        """Report every bad line of an order and, for its good lines, that the order was skipped."""
        reasons = {line.line: line.errors + found.get(line.line, []) for line in order.lines}
        bad_lines = [number for number, problems in reasons.items() if problems]
        counts["orders_skipped"] += 1
        counts["bad_rows"] += len(bad_lines)
        for line in order.lines:
            if reasons[line.line]:
                errors += [(line.line, reason) for reason in reasons[line.line]]
            else:
                errors.append(
                    (
                        line.line,
                        _("order '%(order)s' was skipped because line %(lines)s has a problem")
                        % {"order": _shown(order.ref), "lines": ", ".join(map(str, bad_lines))},
                    )
                )

    def _create_customers(self, orders: list[_Order], customers: dict) -> int:
        """Create the customers the good orders name that do not exist, with their search keys."""
        new: dict[str, str] = {}
        for order in orders:
            ref = order.customer_ref
            if ref not in customers:
                name = next((line.customer_name for line in order.lines if line.customer_name), "")
                if not new.get(ref):
                    new[ref] = name
        if not new:
            return 0
        now = timezone.now()
        pks = reserve_ids(Customer, len(new))
        rows = []
        for pk, (ref, name) in zip(pks, new.items(), strict=True):
            name = name or ref
            rows.append(
                {
                    "id": pk,
                    "external_ref": ref,
                    "name": name,
                    "search_text": search_text(name, "", ref, ""),
                    "owner_id": self.default_owner_id,
                    "created_by_id": self.recorded_by_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            customers[ref] = (pk, self.default_owner_id)
        TableWriter(Customer, with_ids=True).write(rows)
        if self.history:
            history = Customer.history.model
            defaults = {f.attname: f.get_default() for f in Customer._meta.concrete_fields if not f.primary_key}
            tracked = {f.attname for f in history.tracked_fields}
            TableWriter(history, with_ids=False).write(
                [
                    {
                        **{name: value for name, value in {**defaults, **row}.items() if name in tracked},
                        "history_date": now,
                        "history_change_reason": "imported",
                        "history_type": "+",
                        "history_user_id": self.recorded_by_id,
                    }
                    for row in rows
                ]
            )
        return len(rows)

    def _create_orders(self, orders: list[_Order], customers: dict, products: dict) -> int:
        """Write the good orders and their lines; return the number of lines written."""
        if not orders:
            return 0
        now = timezone.now()
        pks = reserve_ids(Order, len(orders))
        numbers = reserve_numbers(ORDER_PREFIX, [order.ordered_at.year for order in orders])
        order_rows, line_rows = [], []
        zero = Decimal(0)
        moments = {}
        confirmed = {Order.Status.CONFIRMED, Order.Status.DELIVERED}
        for pk, number, order in zip(pks, numbers, orders, strict=True):
            customer_id, owner_id = customers[order.customer_ref]
            status = order.status or Order.Status.CONFIRMED
            # The order's own date, not the import's: an old order must not look just delivered.
            moment = moments.get(order.ordered_at) or moments.setdefault(
                order.ordered_at, order_moment(order.ordered_at)
            )
            total_amount = total_cost = zero
            for line in order.lines:
                product = products.get(line.sku) if line.sku else None
                if line.cost is not None:
                    cost = line.cost
                elif product:
                    cost = (product[2] * line.quantity).quantize(CENT, rounding=ROUND_HALF_UP)
                else:
                    cost = zero
                total_amount += line.amount
                total_cost += cost
                line_rows.append(
                    (
                        pk,
                        product[0] if product else None,
                        line.description or (product[1][:_DESCRIPTION_MAX] if product else ""),
                        line.quantity,
                        (line.amount / line.quantity).quantize(CENT, rounding=ROUND_HALF_UP),
                        (cost / line.quantity).quantize(CENT, rounding=ROUND_HALF_UP),
                        line.amount,
                        cost,
                    )
                )
            order_rows.append(
                (
                    pk,
                    number,
                    order.ref,
                    customer_id,
                    owner_id,
                    None,
                    status,
                    order.ordered_at,
                    moment if status in confirmed else None,
                    moment if status == Order.Status.DELIVERED else None,
                    moment if status == Order.Status.CANCELLED else None,
                    total_amount,
                    total_cost,
                    "",
                    1,
                    now,
                    now,
                    self.recorded_by_id,
                )
            )
        write_rows(Order, ORDER_COLUMNS, order_rows, with_ids=True)
        write_rows(OrderLine, LINE_COLUMNS, line_rows, with_ids=False)
        return len(line_rows)


ORDER_COLUMNS = (
    "id",
    "number",
    "order_ref",
    "customer_id",
    "owner_id",
    "opportunity_id",
    "status",
    "ordered_at",
    "confirmed_at",
    "delivered_at",
    "cancelled_at",
    "amount",
    "cost",
    "notes",
    "version",
    "created_at",
    "updated_at",
    "created_by_id",
)
LINE_COLUMNS = ("order_id", "product_id", "description", "quantity", "unit_price", "unit_cost", "amount", "cost")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


def write_rows(model, columns: tuple[str, ...], rows: list[tuple], *, with_ids: bool) -> None:
    """Insert tuples of values of `columns` (attnames): COPY on PostgreSQL, else `TableWriter`.

    TableWriter converts every value through the field; at 100,000 lines that is a third of the
    import. Here only text is escaped: numbers, dates and aware datetimes print as PostgreSQL reads them.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        TableWriter(model, with_ids=with_ids).write([dict(zip(columns, row, strict=True)) for row in rows])
        return
    fields = [model._meta.get_field(name) for name in columns]
    texts = [i for i, f in enumerate(fields) if f.get_internal_type() in {"CharField", "TextField"}]
    buffer = io.StringIO()
    for row in rows:
        values = [_COPY_NULL if value is None else value for value in row]
        for i in texts:
            if values[i] is not _COPY_NULL:
                values[i] = values[i].translate(_COPY_ESCAPES)
        buffer.write("\t".join(map(str, values)))
        buffer.write("\n")
    buffer.seek(0)
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN", buffer)


def order_moment(day: datetime.date) -> datetime.datetime:
    """Noon of the order's day in the site's time zone: when an imported or seeded order was confirmed."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def reserve_numbers(prefix: str, years: list[int]) -> list[str]:
    """Numbers `PREFIX-<year>-<n>` for documents of the given years, in that order, in one round per year.

    Like `numbers.next_number` (the Sequence row is locked, so no one else gets these numbers),
    but `count` numbers at once instead of one query per document.
    """
    wanted: dict[int, int] = {}
    for year in years:
        wanted[year] = wanted.get(year, 0) + 1
    first: dict[int, int] = {}
    with transaction.atomic():
        for year in sorted(wanted):
            Sequence.objects.get_or_create(prefix=prefix, year=year)
            sequence = Sequence.objects.select_for_update().get(prefix=prefix, year=year)
            first[year] = sequence.last + 1
            Sequence.objects.filter(pk=sequence.pk).update(last=sequence.last + wanted[year])
    numbers = []
    for year in years:
        numbers.append(f"{prefix}-{year}-{first[year]:06d}")
        first[year] += 1
    return numbers


# Summaries and the upload page's job -----------------------------------------------------------


def format_error(line: int, reason: str) -> str:
    """'line 7: …' for a row, the bare reason for the file as a whole."""
    return _("line %(line)d: %(reason)s") % {"line": line, "reason": reason} if line else reason


def summary(result: OrderImportResult) -> str:
    """What the import did, in a few short sentences."""
    if result.file_error:
        return _("The file could not be read; nothing was imported.")
    counts = result.counts
    parts = [
        ngettext(
            "%(orders)d orders (%(lines)d lines) imported from %(rows)d row.",
            "%(orders)d orders (%(lines)d lines) imported from %(rows)d rows.",
            counts["rows"],
        )
        % counts,
        _("New customers: %(customers_created)d.") % counts,
        _("Orders already imported (unchanged): %(unchanged)d.") % counts,
    ]
    if counts["orders_skipped"] or counts["bad_rows"]:
        parts.append(_("Bad rows: %(bad_rows)d; orders skipped: %(orders_skipped)d.") % counts)
    return " ".join(parts)


class _ImportHadProblems(Exception):
    """Raised inside job_run so that an import with skipped rows is recorded as a failed run."""


def recorded_import(path, **kwargs) -> OrderImportResult:
    """import_orders recorded as a run of the "import_orders" job (failed when rows were skipped)."""
    result = None
    try:
        with services.job_run("import_orders") as run:
            result = import_orders(path, **kwargs)
            run.count(**result.counts)
            if not result.ok:
                raise _ImportHadProblems(summary(result))
    except _ImportHadProblems:
        pass
    return result


def run_order_import_job(import_job_id: int) -> None:
    """Import the file of an ImportJob(kind="orders"), keeping its status and progress current."""
    job = ImportJob.objects.select_related("created_by").filter(pk=import_job_id, kind="orders").first()
    if job is None or job.is_finished:
        # A redelivered task (acks_late) must not import twice.
        return
    with translation.override(job.language or settings.LANGUAGE_CODE):
        jobs = ImportJob.objects.filter(pk=job.pk)
        jobs.update(status=ImportJob.Status.VALIDATING, processed_rows=0)

        def progress(stage: str, processed: int, total: int) -> None:
            # Each chunk commits on its own, so the page sees the rows written so far.
            jobs.update(status=stage, processed_rows=processed, total_rows=total)

        try:
            with job.file.open("rb") as upload:
                result = recorded_import(upload, filename=job.original_name, actor=job.created_by, progress=progress)
        except Exception:
            jobs.update(
                status=ImportJob.Status.FAILED,
                message=_("The import stopped on an unexpected error; the orders saved so far are kept."),
                finished_at=timezone.now(),
            )
            raise
        jobs.update(
            status=ImportJob.Status.FAILED if result.file_error else ImportJob.Status.SUCCEEDED,
            processed_rows=result.counts["rows"],
            total_rows=result.counts["rows"],
            counts=result.counts,
            errors=[{"line": line, "reason": reason} for line, reason in result.errors[:MAX_STORED_ERRORS]],
            message=summary(result),
            finished_at=timezone.now(),
        )
