"""Customer import from CSV and XLSX: read every row, check every row, then write all of them or none.

The pipeline is `read_rows` → `validate` (no writes) → `apply` (one transaction); `import_customers`
runs it for the command line and `run_import_job` for the Celery job behind the upload page.
"""

import codecs
import csv
import datetime
import io
import os
import re
import sqlite3
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import roles, services
from .models import Customer, ImportJob, Tag, managed_user_ids
from .normalize import normalize_email, normalize_phone

# The columns a file may have, in the order the upload page explains them.
COLUMNS = (
    "external_ref",
    "name",
    "kind",
    "phone",
    "email",
    "region",
    "city",
    "address",
    "industry",
    "category",
    "relationship_level",
    "source",
    "owner",
    "marketing_consent",
    "consent_channel",
    "birthday",
    "anniversary",
    "tags",
    "notes",
)
REQUIRED_COLUMNS = ("name",)
TEXT_COLUMNS = ("name", "phone", "email", "region", "city", "address", "notes")
CHOICE_COLUMNS = {
    "kind": Customer.Kind,
    "industry": Customer.Industry,
    "category": Customer.Category,
    "relationship_level": Customer.RelationshipLevel,
    "source": Customer.Source,
    "consent_channel": Customer.ConsentChannel,
}
DATE_COLUMNS = ("birthday", "anniversary")
_TRUE = frozenset({"yes", "true", "1", "是", "y"})
_FALSE = frozenset({"no", "false", "0", "否", "n"})

# Rows checked per round of look-up queries, and how often the job reports progress.
CHUNK_SIZE = 1000
PROGRESS_EVERY = 500
# The upload page lists at most this many bad rows; the command line prints them all.
MAX_STORED_ERRORS = 1000

# Our own export prefixes formula-like text with an apostrophe; the import takes it off again.
_NEUTRALISED = re.compile(r"^'(?=[=+\-@\t\r])")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_TAG_SEPARATORS = re.compile(r"[,;，；]")
_HEADER_NOISE = re.compile(r"[\s_\-]+")
_EXTRA_CELLS = "\x00extra"

Progress = Callable[[str, int, int], None]


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no `name` column, not UTF-8 …)."""

    def __init__(self, reason: str, line: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class ImportConflictError(Exception):
    """A customer changed between checking the file and writing it."""

    def __init__(self, reason: str, line: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class ImportRejected(Exception):
    """Raised inside job_run so that a rejected file is recorded as a failed run."""


@dataclass
class PlannedRow:
    line: int
    customer: Customer
    changed: list[str] = field(default_factory=list)
    # Tag ids the customer ends with and names of tags to create; None leaves its tags alone.
    tag_ids: set[int] | None = None
    new_tag_names: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    """What `apply` will write, or the errors that stop it."""

    columns: frozenset[str] = frozenset()
    ignored_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    creates: list[PlannedRow] = field(default_factory=list)
    updates: list[PlannedRow] = field(default_factory=list)
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    # Versions as checked, so `apply` notices a customer edited in the meantime.
    versions: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportResult:
    errors: list[tuple[int, str]]
    counts: dict
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def format_error(line: int, reason: str) -> str:
    """'line 7: email …' for a row, the bare reason for the file as a whole."""
    return _("line %(line)d: %(reason)s") % {"line": line, "reason": reason} if line else reason


# Reading ------------------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    return _HEADER_NOISE.sub("_", str(text).replace("\ufeff", "").strip().casefold()).strip("_")


def _header_aliases() -> dict[str, str]:
    """Header spellings → column: the column name, and the field's English and Chinese names."""
    aliases = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for column in COLUMNS:
                aliases.setdefault(_header_key(Customer._meta.get_field(column).verbose_name), column)
    aliases.update({_header_key(column): column for column in COLUMNS})
    return aliases


def _header(cells: list, line: int) -> list[str | None]:
    """Map header cells to column names (unknown headers keep their text); check `name` is there."""
    aliases = _header_aliases()
    keys, seen = [], {}
    for cell in cells:
        text = _cell_text(cell).strip()
        if not text:
            keys.append(None)
            continue
        key = aliases.get(_header_key(text), text)
        if key in seen:
            raise ImportFileError(_("column '%(column)s' appears twice in the header") % {"column": text}, line)
        seen[key] = text
        keys.append(key)
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if missing:
        raise ImportFileError(
            _("the header row has no '%(column)s' column (the first row must name the columns)")
            % {"column": missing[0]},
            line,
        )
    return keys


def _row(keys: list[str | None], cells: list) -> dict:
    row = {key: "" for key in keys if key}
    for key, cell in zip(keys, cells, strict=False):
        if key:
            row[key] = _cell_text(cell)
    extra = [cell for cell in cells[len(keys) :] if _cell_text(cell).strip()]
    if extra:
        row[_EXTRA_CELLS] = len(extra)
    return row


def _cell_text(value) -> str:
    """A spreadsheet cell as text: whole numbers without '.0', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _sniff_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not) as promised; GB18030 when the bytes are not UTF-8 (Excel's CSV in China)."""
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return "utf-8-sig" if encoding == "utf-8" else encoding
    return "utf-8-sig"


def _sniff_delimiter(sample: bytes, encoding: str) -> str:
    first_line = sample.decode(encoding, errors="ignore").splitlines()[0] if sample.strip() else ""
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_csv(binary) -> Iterator[tuple[int, dict]]:
    sample = binary.read(64 * 1024)
    binary.seek(0)
    encoding = _sniff_encoding(sample)
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=_sniff_delimiter(sample, encoding))
    keys, end = None, 0
    try:
        for cells in reader:
            # line_num is where the record ends; a quoted newline makes it span several lines.
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if keys is None:
                keys = _header(cells, start)
                continue
            yield start, _row(keys, cells)
    except UnicodeDecodeError as exc:
        raise ImportFileError(_("the file is not UTF-8 text; save it as “CSV UTF-8”"), end + 1) from exc
    except csv.Error as exc:
        raise ImportFileError(_("the file is not valid CSV: %(error)s") % {"error": exc}, end + 1) from exc
    finally:
        text.detach()
    if keys is None:
        raise ImportFileError(_("the file is empty"))


def _read_xlsx(binary) -> Iterator[tuple[int, dict]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only: a formula cell gives the value Excel computed, not the formula.
        workbook = load_workbook(binary, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(_("the file is not a valid Excel .xlsx workbook")) from exc
    try:
        keys = None
        for line, cells in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
            if not any(_cell_text(cell).strip() for cell in cells):
                continue
            if keys is None:
                keys = _header(list(cells), line)
                continue
            yield line, _row(keys, list(cells))
        if keys is None:
            raise ImportFileError(_("the file is empty"))
    finally:
        workbook.close()


def read_rows(path_or_file, filename: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line number, {column: text}) for each non-empty data row of a CSV or XLSX file.

    Line 1 is the header; known headers become column names, unknown ones keep their text.
    Raises ImportFileError when the file as a whole cannot be read.
    """
    is_path = isinstance(path_or_file, str | os.PathLike)
    name = filename or (str(path_or_file) if is_path else getattr(path_or_file, "name", "")) or ""
    suffix = Path(name).suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise ImportFileError(_("the file must be a .csv or .xlsx file"))
    reader = _read_csv if suffix == ".csv" else _read_xlsx
    if is_path:
        with open(path_or_file, "rb") as binary:
            yield from reader(binary)
    else:
        if hasattr(path_or_file, "seek"):
            path_or_file.seek(0)
        yield from reader(path_or_file)


# Checking -----------------------------------------------------------------------------------------


def _lookup_key(text: str) -> str:
    return re.sub(r"\s+", "", str(text).casefold())


def _choice_lookups() -> dict[str, dict[str, str]]:
    """Per choice column: code, English label and Chinese label (any case) → code."""
    lookups = {
        column: {_lookup_key(code): code for code in choices.values} for column, choices in CHOICE_COLUMNS.items()
    }
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for column, choices in CHOICE_COLUMNS.items():
                for code, label in choices.choices:
                    lookups[column].setdefault(_lookup_key(label), code)
    return lookups


def _shown(value: str, limit: int = 40) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass
class _Row:
    """One data row parsed: the values it gives, its match keys and, later, its match."""

    line: int
    values: dict
    ref: str | None = None
    phone_digits: str = ""
    email: str = ""
    owner_username: str = ""
    tag_names: list[str] | None = None
    valid: bool = True
    match: Customer | None = None
    matched_on: tuple[str, str] | None = None


class _Checker:
    """Validation state shared across chunks: look-up tables and what earlier rows claimed."""

    def __init__(self, actor, default_owner):
        self.actor = actor
        self.default_owner_id = default_owner.pk if default_owner else None
        self.choices = _choice_lookups()
        self.fields = {column: Customer._meta.get_field(column) for column in TEXT_COLUMNS}
        self.blank = {column: Customer._meta.get_field(column).blank for column in CHOICE_COLUMNS}
        self.parsers = {
            column: self._parse_text
            if column in TEXT_COLUMNS
            else self._parse_choice
            if column in CHOICE_COLUMNS
            else self._parse_date
            if column in DATE_COLUMNS
            else getattr(self, f"_parse_{column}")
            for column in COLUMNS
        }
        self.tag_by_name: dict[str, int] = {}
        self.tag_by_key: dict[str, int] = {}
        for pk, name in Tag.objects.values_list("pk", "name"):
            self.tag_by_name[name] = pk
            self.tag_by_key.setdefault(name.casefold(), pk)
        self.restricted = actor is not None and not roles.is_admin(actor)
        self._allowed_owner_ids = None
        # What earlier rows of the file claimed: customer pk, external_ref, keys of new customers.
        self.line_of_pk: dict[int, int] = {}
        self.line_of_ref: dict[str, int] = {}
        self.new_by_phone: dict[str, list[tuple[int, str | None]]] = {}
        self.new_by_email: dict[str, list[tuple[int, str | None]]] = {}

    def allowed_owner_ids(self) -> set[int]:
        if self._allowed_owner_ids is None:
            ids = {self.actor.pk}
            if roles.has_role(self.actor, roles.SALES_MANAGER):
                ids |= set(managed_user_ids(self.actor).values_list("user_id", flat=True))
            self._allowed_owner_ids = ids
        return self._allowed_owner_ids

    # One row on its own, no queries.
    def parse(self, line: int, raw: dict, errors: list) -> _Row:
        row = _Row(line=line, values={})
        bad = len(errors)
        if raw.get(_EXTRA_CELLS):
            errors.append((line, _("the row has more cells than the header has columns (an unquoted comma?)")))
        for column in COLUMNS:
            if column not in raw:
                continue
            text = _NEUTRALISED.sub("", raw[column].strip())
            if "\x00" in text:
                errors.append((line, _("%(column)s contains a NUL character") % {"column": column}))
                continue
            self.parsers[column](row, column, text, errors)
        row.valid = len(errors) == bad
        return row

    def _parse_external_ref(self, row, column, text, errors):
        if len(text) > 64:
            errors.append(line_too_long(row.line, column, text, 64))
        elif text:
            row.ref = text
            row.values["external_ref"] = text

    def _parse_text(self, row, column, text, errors):
        if column == "name" and not text:
            errors.append((row.line, _("name is empty")))
            return
        if column == "email":
            text = normalize_email(text)
        model_field = self.fields[column]
        if model_field.max_length and len(text) > model_field.max_length:
            errors.append(line_too_long(row.line, column, text, model_field.max_length))
            return
        if text:
            try:
                model_field.run_validators(text)
            except ValidationError as exc:
                if column == "email":
                    reason = _("email '%(value)s' is not a valid email address") % {"value": _shown(text)}
                else:
                    reason = f"{column} '{_shown(text)}': {' '.join(exc.messages)}"
                errors.append((row.line, reason))
                return
        row.values[column] = text
        if column == "phone":
            row.phone_digits = normalize_phone(text)
        elif column == "email":
            row.email = text

    def _parse_choice(self, row, column, text, errors):
        if not text:
            # Columns that cannot be blank keep their current (or default) value.
            if self.blank[column]:
                row.values[column] = ""
            return
        code = self.choices[column].get(_lookup_key(text))
        if code is None:
            expected = ", ".join(CHOICE_COLUMNS[column].values)
            errors.append(
                (
                    row.line,
                    _("unknown %(column)s '%(value)s' (expected one of %(expected)s)")
                    % {"column": column, "value": _shown(text), "expected": expected},
                )
            )
            return
        row.values[column] = code

    def _parse_date(self, row, column, text, errors):
        if not text:
            row.values[column] = None
            return
        match = _DATE.match(text)
        try:
            if not match:
                raise ValueError
            row.values[column] = datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            errors.append(
                (
                    row.line,
                    _("%(column)s '%(value)s' is not a date (YYYY-MM-DD)") % {"column": column, "value": _shown(text)},
                )
            )

    def _parse_marketing_consent(self, row, column, text, errors):
        key = text.casefold()
        if not key:
            return
        if key in _TRUE or key in _FALSE:
            row.values[column] = key in _TRUE
        else:
            errors.append(
                (
                    row.line,
                    _("marketing_consent '%(value)s' is not yes or no (yes/no, true/false, 1/0, 是/否)")
                    % {"value": _shown(text)},
                )
            )

    def _parse_owner(self, row, column, text, errors):
        # An empty cell keeps the current owner: a file cannot unassign customers by accident.
        row.owner_username = text

    def _parse_tags(self, row, column, text, errors):
        names, seen = [], set()
        for name in _TAG_SEPARATORS.split(text):
            name = name.strip()
            if not name or name.casefold() in seen:
                continue
            if len(name) > 50:
                errors.append(line_too_long(row.line, "tags", name, 50))
                continue
            seen.add(name.casefold())
            names.append(name)
        row.tag_names = names

    # Matching: a constant number of queries per chunk.
    def match_chunk(self, rows: list[_Row], errors: list) -> list[_Row]:
        """Find the existing customer (or earlier row) each row is; return the rows without a problem."""
        refs = {row.ref for row in rows if row.valid and row.ref}
        phones = {row.phone_digits for row in rows if row.valid and row.phone_digits}
        emails = {row.email for row in rows if row.valid and row.email}
        by_ref, by_phone, by_email = {}, {}, {}
        if refs or phones or emails:
            wanted = Q(external_ref__in=refs) | Q(phone_digits__in=phones) | Q(email__in=emails)
            for customer in Customer.objects.filter(wanted).order_by("pk"):
                if customer.external_ref in refs:
                    by_ref[customer.external_ref] = customer
                if customer.merged_into_id is None:
                    if customer.phone_digits in phones:
                        by_phone.setdefault(customer.phone_digits, []).append(customer)
                    if customer.email in emails:
                        by_email.setdefault(customer.email, []).append(customer)
        return [row for row in rows if row.valid and self._match(row, by_ref, by_phone, by_email, errors)]

    def _match(self, row: _Row, by_ref, by_phone, by_email, errors) -> bool:
        if row.ref:
            if row.ref in self.line_of_ref:
                errors.append((row.line, duplicate_of(self.line_of_ref[row.ref])))
                return False
            row.match = by_ref.get(row.ref)
            row.matched_on = ("external_ref", row.ref)
        if row.match is None:
            for column, key, index, new_index in (
                ("phone", row.phone_digits, by_phone, self.new_by_phone),
                ("email", row.email, by_email, self.new_by_email),
            ):
                if not key:
                    continue
                # A customer with another external_ref is another customer, whatever its phone.
                found = [c for c in index.get(key, ()) if not row.ref or c.external_ref is None]
                if len(found) > 1:
                    errors.append(
                        (
                            row.line,
                            _(
                                "%(column)s '%(value)s' matches %(count)d existing customers; "
                                "add an external_ref to say which one"
                            )
                            % {"column": column, "value": _shown(row.values[column]), "count": len(found)},
                        )
                    )
                    return False
                if found:
                    row.match, row.matched_on = found[0], (column, row.values[column])
                    break
                earlier = [line for line, ref in new_index.get(key, ()) if not row.ref or ref is None]
                if earlier:
                    errors.append((row.line, duplicate_of(earlier[0])))
                    return False
        if row.match is not None:
            if row.match.pk in self.line_of_pk:
                errors.append((row.line, duplicate_of(self.line_of_pk[row.match.pk])))
                return False
            self.line_of_pk[row.match.pk] = row.line
        else:
            if row.phone_digits:
                self.new_by_phone.setdefault(row.phone_digits, []).append((row.line, row.ref))
            if row.email:
                self.new_by_email.setdefault(row.email, []).append((row.line, row.ref))
        if row.ref:
            self.line_of_ref[row.ref] = row.line
        return True

    def check_owners(self, rows: list[_Row], errors: list) -> None:
        """Resolve owner usernames (one query per chunk); a row naming no usable user is bad."""
        usernames = {row.owner_username for row in rows if row.owner_username}
        if not usernames:
            return
        users = get_user_model().objects.filter(username__in=usernames).only("pk", "username", "is_active")
        owners = {user.username: user for user in users}
        for row in rows:
            if not row.owner_username:
                continue
            owner = owners.get(row.owner_username)
            shown = {"value": _shown(row.owner_username)}
            if owner is None or not owner.is_active:
                errors.append((row.line, _("owner '%(value)s' is not a user") % shown))
            elif self.restricted and owner.pk not in self.allowed_owner_ids():
                errors.append((row.line, _("owner '%(value)s' is not in your team") % shown))
            else:
                row.values["owner"] = owner.pk
                continue
            row.valid = False

    # Everything that needs the matches: permissions and the change itself.
    def plan_chunk(self, rows: list[_Row], plan: ImportPlan, errors: list) -> None:
        matched_pks = {row.match.pk for row in rows if row.match is not None}
        editable = None
        if self.actor is not None and matched_pks:
            editable = set(
                Customer.objects.editable_by(self.actor).filter(pk__in=matched_pks).values_list("pk", flat=True)
            )
        current_tags: dict[int, set[int]] = {}
        if matched_pks and any(row.tag_names is not None for row in rows):
            through = Customer.tags.through.objects.filter(customer_id__in=matched_pks)
            for customer_id, tag_id in through.values_list("customer_id", "tag_id"):
                current_tags.setdefault(customer_id, set()).add(tag_id)
        for row in rows:
            if row.match is not None and editable is not None and row.match.pk not in editable:
                column, value = row.matched_on
                errors.append(
                    (
                        row.line,
                        _("a customer with %(column)s '%(value)s' exists and you may not change it")
                        % {"column": column, "value": _shown(value)},
                    )
                )
            elif row.valid:
                self._plan_row(row, plan, current_tags)

    def _plan_row(self, row: _Row, plan: ImportPlan, current_tags: dict[int, set[int]]) -> None:
        if row.match is None:
            customer = Customer(owner_id=self.default_owner_id)
            planned = PlannedRow(line=row.line, customer=customer, changed=_assign(customer, row.values))
            self._plan_tags(planned, row.tag_names, set())
            plan.creates.append(planned)
            return
        customer = row.match
        planned = PlannedRow(line=row.line, customer=customer, changed=_assign(customer, row.values))
        tags_changed = self._plan_tags(planned, row.tag_names, current_tags.get(customer.pk, set()))
        if not planned.changed and not tags_changed:
            plan.unchanged += 1
            return
        plan.versions[customer.pk] = customer.version
        if not tags_changed:
            planned.tag_ids = None
        plan.updates.append(planned)

    def _plan_tags(self, planned: PlannedRow, names: list[str] | None, current: set[int]) -> bool:
        """Work out the row's tags (None: the file has no tags column); True when they differ from `current`."""
        if names is None:
            return False
        ids, new_names = set(), []
        for name in names:
            pk = self.tag_by_name.get(name) or self.tag_by_key.get(name.casefold())
            if pk is None:
                new_names.append(name)
            else:
                ids.add(pk)
        planned.tag_ids, planned.new_tag_names = ids, new_names
        return bool(new_names) or ids != current


def line_too_long(line: int, column: str, text: str, limit: int) -> tuple[int, str]:
    return (
        line,
        _("%(column)s '%(value)s' is too long (%(length)d characters, at most %(limit)d)")
        % {"column": column, "value": _shown(text), "length": len(text), "limit": limit},
    )


def duplicate_of(line: int) -> str:
    return _("duplicate of line %(line)d (both rows are the same customer)") % {"line": line}


def _assign(customer: Customer, values: dict) -> list[str]:
    """Put the row's values on the customer the way the services would; return the fields that changed."""
    names = [*values, "phone_digits", "consent_at", "consent_channel"]
    attnames = {name: "owner_id" if name == "owner" else name for name in names}
    before = {name: getattr(customer, attname) for name, attname in attnames.items()}
    for name, value in values.items():
        setattr(customer, attnames[name], value)
    customer.phone_digits = normalize_phone(customer.phone)
    if "marketing_consent" in values and customer.marketing_consent != before["marketing_consent"]:
        customer.consent_at = timezone.now() if customer.marketing_consent else None
    elif customer.marketing_consent and customer.consent_at is None and "marketing_consent" in values:
        customer.consent_at = timezone.now()
    if not customer.marketing_consent and ("marketing_consent" in values or "consent_channel" in values):
        customer.consent_channel = ""
    return [name for name, attname in attnames.items() if getattr(customer, attname) != before[name]]


def _check_chunk(checker: _Checker, chunk: list[_Row], plan: ImportPlan) -> None:
    checker.check_owners(chunk, plan.errors)
    checker.plan_chunk(checker.match_chunk(chunk, plan.errors), plan, plan.errors)


def validate(rows: Iterable[tuple[int, dict]], actor=None, progress: Progress | None = None, *, default_owner=None):
    """Check every row and work out what to create and update, without writing anything.

    `actor` (an upload from the UI) may only change customers in `editable_by(actor)`; new
    customers without an owner go to `default_owner` (for the UI: the actor when in sales).
    """
    total = len(rows) if hasattr(rows, "__len__") else 0
    if actor is not None and default_owner is None and roles.has_role(actor, roles.SALES_REP, roles.SALES_MANAGER):
        default_owner = actor
    checker = _Checker(actor, default_owner)
    plan = ImportPlan()
    columns, ignored = set(), []
    chunk: list[_Row] = []
    for line, raw in rows:
        if plan.rows_read == 0:
            columns = {key for key in raw if key in COLUMNS}
            ignored = [key for key in raw if key not in COLUMNS and key != _EXTRA_CELLS]
        plan.rows_read += 1
        chunk.append(checker.parse(line, raw, plan.errors))
        if len(chunk) >= CHUNK_SIZE:
            _check_chunk(checker, chunk, plan)
            chunk = []
        if progress and plan.rows_read % PROGRESS_EVERY == 0:
            progress(ImportJob.Status.VALIDATING, plan.rows_read, max(total, plan.rows_read))
    if chunk:
        _check_chunk(checker, chunk, plan)
    if progress:
        progress(ImportJob.Status.VALIDATING, plan.rows_read, max(total, plan.rows_read))
    plan.columns = frozenset(columns)
    plan.ignored_columns = ignored
    plan.errors.sort(key=lambda error: error[0])
    return plan


# Writing ------------------------------------------------------------------------------------------


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
    Through = Customer.tags.through
    with transaction.atomic():
        _check_versions(plan)
        tag_ids = _create_tags(plan)
        for planned in plan.creates:
            planned.customer.created_by = actor
            planned.customer.created_at = planned.customer.updated_at = now
        created = [planned.customer for planned in plan.creates]
        _create_customers(created)

        fields = {"version", "updated_at"}
        for planned in plan.updates:
            planned.customer.version += 1
            planned.customer.updated_at = now
            fields.update(planned.changed)
        _update_rows([planned.customer for planned in plan.updates], sorted(fields))

        # Tags go straight to the through table in bulk; tags.set() would cost queries per customer.
        retagged = [planned for planned in plan.creates + plan.updates if planned.tag_ids is not None]
        Through.objects.filter(customer_id__in=[p.customer.pk for p in plan.updates if p.tag_ids is not None]).delete()
        links = [
            {"customer_id": planned.customer.pk, "tag_id": tag_id}
            for planned in retagged
            for tag_id in sorted(planned.tag_ids | {tag_ids[name.casefold()] for name in planned.new_tag_names})
        ]
        _insert_rows(Through, links)

        _insert_history(created, "+", actor, now)
        _insert_history([planned.customer for planned in plan.updates], "~", actor, now)
    return counts


# Column types whose Python values the database drivers take as they are.
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


def _db_value(model_field):
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


def _insert_rows(model, rows: list[dict], *, returning: bool = False) -> list | None:
    """INSERT rows ({attname: value}) a batch per statement; return the new primary keys if asked.

    Does what bulk_create does for these plain rows at a fraction of its cost per value.
    """
    if not rows:
        return [] if returning else None
    by_attname = {model_field.attname: model_field for model_field in model._meta.concrete_fields}
    fields = [by_attname[attname] for attname in rows[0]]
    converters = [(model_field.attname, _db_value(model_field)) for model_field in fields]
    params = [
        [row[attname] if convert is None else convert(row[attname]) for attname, convert in converters] for row in rows
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model_field.column) for model_field in fields)
    into = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
    placeholders = f"({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        if not returning and connection.vendor == "sqlite":
            # SQLite's executemany loops in C with no round trips: its fastest way.
            cursor.executemany(into + placeholders, params)
            return None
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


def _create_customers(customers: list[Customer]) -> None:
    """INSERT the new customers and give each its primary key."""
    attnames = [f.attname for f in Customer._meta.concrete_fields if not f.primary_key]
    pks = _insert_rows(Customer, [{name: getattr(c, name) for name in attnames} for c in customers], returning=True)
    for customer, pk in zip(customers, pks, strict=True):
        customer.pk = pk
        customer._state.adding = False
        customer._state.db = connection.alias


def _insert_history(customers: list[Customer], history_type: str, actor, now) -> None:
    """One history row per customer, as simple_history's bulk_history_create would write it, but faster."""
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history_model = Customer.history.model
    tracked = [model_field.attname for model_field in history_model.tracked_fields]
    extra = {
        "history_date": now,
        "history_change_reason": "imported",
        "history_type": history_type,
        "history_user_id": actor.pk if actor else None,
    }
    _insert_rows(history_model, [{**{name: getattr(c, name) for name in tracked}, **extra} for c in customers])


def _update_rows(customers: list[Customer], names: list[str]) -> None:
    """UPDATE … WHERE id = ? for each customer in one executemany (bulk_update's CASE … WHEN is far slower)."""
    if not customers:
        return
    fields = [Customer._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(model_field.column)} = %s" for model_field in fields)
    table, pk = quote(Customer._meta.db_table), quote(Customer._meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    params = [
        [model_field.get_db_prep_save(getattr(customer, model_field.attname), connection) for model_field in fields]
        + [customer.pk]
        for customer in customers
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _check_versions(plan: ImportPlan) -> None:
    """Lock the customers to update and stop if any was changed or deleted since it was checked."""
    pks = list(plan.versions)
    for start in range(0, len(pks), CHUNK_SIZE):
        chunk = pks[start : start + CHUNK_SIZE]
        current = dict(Customer.objects.select_for_update().filter(pk__in=chunk).values_list("pk", "version"))
        for pk in chunk:
            if current.get(pk) != plan.versions[pk]:
                line = next(planned.line for planned in plan.updates if planned.customer.pk == pk)
                raise ImportConflictError(
                    _("this customer was changed by someone else while the file was being checked; import it again"),
                    line,
                )


def _create_tags(plan: ImportPlan) -> dict[str, int]:
    """Create the tags the file names that do not exist yet; return {casefolded name: id} for them."""
    names = {}
    for planned in plan.creates + plan.updates:
        for name in planned.new_tag_names:
            names.setdefault(name.casefold(), name)
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(name=name) for name in names.values()], ignore_conflicts=True)
    by_name = dict(Tag.objects.filter(name__in=names.values()).values_list("name", "pk"))
    return {key: by_name[name] for key, name in names.items()}


# Running ------------------------------------------------------------------------------------------


def import_customers(path, actor=None, progress: Progress | None = None, *, filename=None, recorded_by=None):
    """Import a customer file: every row is written, or none and every bad row is reported.

    `actor` is the person importing from the UI (their permissions apply); `recorded_by` is who the
    command line names with --actor: recorded in the history, no restriction. Returns ImportResult.
    """
    recorded_by = recorded_by or actor
    try:
        rows = list(read_rows(path, filename))
    except ImportFileError as exc:
        return ImportResult(errors=[(exc.line, exc.reason)], counts={"rows": 0, "errors": 1})
    if progress:
        progress(ImportJob.Status.VALIDATING, 0, len(rows))
    default_owner = None
    if recorded_by is not None and roles.has_role(recorded_by, roles.SALES_REP, roles.SALES_MANAGER):
        default_owner = recorded_by
    plan = validate(rows, actor=actor, progress=progress, default_owner=default_owner)
    if not plan.ok:
        return ImportResult(
            errors=plan.errors,
            counts={"rows": plan.rows_read, "errors": len(plan.errors)},
            ignored_columns=plan.ignored_columns,
        )
    if progress:
        progress(ImportJob.Status.WRITING, plan.rows_read, plan.rows_read)
    try:
        counts = apply(plan, actor=recorded_by)
    except ImportConflictError as exc:
        return ImportResult(errors=[(exc.line, exc.reason)], counts={"rows": plan.rows_read, "errors": 1})
    except DatabaseError as exc:
        # E.g. another import created the same external_ref meanwhile; the transaction rolled back.
        reason = _("the import could not be saved (%(error)s); nothing was imported") % {"error": exc}
        return ImportResult(errors=[(0, reason)], counts={"rows": plan.rows_read, "errors": 1})
    return ImportResult(errors=[], counts=counts, ignored_columns=plan.ignored_columns)


def recorded_import(path, **kwargs) -> ImportResult:
    """import_customers recorded as a run of the "import_customers" job (failed when rows were rejected)."""
    result = None
    try:
        with services.job_run("import_customers") as run:
            result = import_customers(path, **kwargs)
            run.count(**result.counts)
            if not result.ok:
                raise ImportRejected(rejection_summary(result))
    except ImportRejected:
        pass
    return result


def rejection_summary(result: ImportResult) -> str:
    if not result.counts.get("rows"):
        return _("Nothing was imported.")
    bad_lines = len({line for line, _reason in result.errors})
    return ngettext(
        "%(count)d bad row in %(rows)d; nothing was imported.",
        "%(count)d bad rows in %(rows)d; nothing was imported.",
        bad_lines,
    ) % {"count": bad_lines, "rows": result.counts.get("rows", 0)}


def success_summary(counts: dict) -> str:
    return _("%(rows)d rows read: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.") % counts


def run_import_job(import_job_id: int) -> None:
    """Import the file of an ImportJob, keeping its status and progress current for the upload page."""
    job = ImportJob.objects.select_related("created_by").filter(pk=import_job_id).first()
    if job is None or job.is_finished:
        # A redelivered task (acks_late) must not import twice.
        return
    jobs = ImportJob.objects.filter(pk=job.pk)
    jobs.update(status=ImportJob.Status.VALIDATING, processed_rows=0)

    def progress(stage: str, processed: int, total: int) -> None:
        # Saved in autocommit, outside the import's transaction, so the page can poll it.
        jobs.update(status=stage, processed_rows=processed, total_rows=total)

    try:
        with job.file.open("rb") as upload:
            result = recorded_import(upload, filename=job.original_name, actor=job.created_by, progress=progress)
    except Exception:
        jobs.update(
            status=ImportJob.Status.FAILED,
            message=_("The import stopped on an unexpected error; nothing was imported."),
            finished_at=timezone.now(),
        )
        raise
    finished = {"counts": result.counts, "finished_at": timezone.now()}
    if result.ok:
        jobs.update(
            status=ImportJob.Status.SUCCEEDED,
            processed_rows=result.counts["rows"],
            total_rows=result.counts["rows"],
            errors=[],
            message=success_summary(result.counts),
            **finished,
        )
    else:
        jobs.update(
            status=ImportJob.Status.FAILED,
            errors=[{"line": line, "reason": reason} for line, reason in result.errors[:MAX_STORED_ERRORS]],
            message=rejection_summary(result),
            **finished,
        )
