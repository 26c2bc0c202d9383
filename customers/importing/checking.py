"""Checking customer rows: parse every cell, match rows to existing customers, apply permissions.

`validate` turns the rows from `reading.read_rows` into an ImportPlan (what to create and update)
or a list of (line, reason) errors, without writing anything. Look-ups run once per chunk of
rows, so the number of queries does not grow with the file.
"""

import datetime
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .. import roles, services
from ..models import Customer, ImportJob, Tag, managed_user_ids
from ..normalize import normalize_email, normalize_phone
from .reading import COLUMNS, EXTRA_CELLS

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
_REF_MAX_LENGTH = Customer._meta.get_field("external_ref").max_length
_TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length
_TRUE = frozenset({"yes", "true", "1", "是", "y"})
_FALSE = frozenset({"no", "false", "0", "否", "n"})
# Fields set from the others the way the services set them; a row that changes them is an update.
_DERIVED_FIELDS = ("phone_digits", "search_text", "consent_at", "consent_channel")

# Rows checked per round of look-up queries, and how often the job reports progress.
CHUNK_SIZE = 1000
PROGRESS_EVERY = 500

# Our own export prefixes formula-like text with an apostrophe; the import takes it off again.
_NEUTRALISED = re.compile(r"^'(?=[=+\-@\t\r])")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_TAG_SEPARATORS = re.compile(r"[,;，；]")
_WHITESPACE = re.compile(r"\s+")

# progress(stage, rows processed, rows in all), stage being an ImportJob.Status.
Progress = Callable[[str, int, int], None]


@dataclass
class PlannedRow:
    """A customer to create or update, with the values of the row already on it."""

    line: int
    customer: Customer
    changed: list[str] = field(default_factory=list)
    # Ids of existing tags and names of new tags the customer ends with; None leaves its tags alone.
    tag_ids: set[int] | None = None
    new_tag_names: list[str] = field(default_factory=list)
    # The history change reason; it carries the tag change when the tags change (services.change_reason).
    reason: str = "imported"


@dataclass
class ImportPlan:
    """What `writing.apply` will write, or the errors that stop it."""

    ignored_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    creates: list[PlannedRow] = field(default_factory=list)
    updates: list[PlannedRow] = field(default_factory=list)
    unchanged: int = 0
    # Tags to create: casefolded name → the name as the file first spells it.
    new_tags: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def default_owner_for(user):
    """New customers without an owner belong to the importing user when they are in sales."""
    if user is not None and roles.has_role(user, roles.SALES_REP, roles.SALES_MANAGER):
        return user
    return None


def validate(rows: Iterable[tuple[int, dict]], actor=None, progress: Progress | None = None, *, default_owner=None):
    """Check every row and work out what to create and update, without writing anything.

    `actor` (an upload from the UI) may only change customers in `editable_by(actor)`; new
    customers without an owner go to `default_owner` (by default the actor when in sales).
    """
    total = len(rows) if hasattr(rows, "__len__") else 0
    checker = _Checker(actor, default_owner or default_owner_for(actor))
    plan = checker.plan
    chunk: list[_Row] = []
    for line, raw in rows:
        if plan.rows_read == 0:
            plan.ignored_columns = [key for key in raw if key not in COLUMNS and key != EXTRA_CELLS]
        plan.rows_read += 1
        chunk.append(checker.parse(line, raw))
        if len(chunk) >= CHUNK_SIZE:
            checker.check_chunk(chunk)
            chunk = []
        if progress and plan.rows_read % PROGRESS_EVERY == 0:
            progress(ImportJob.Status.VALIDATING, plan.rows_read, max(total, plan.rows_read))
    if chunk:
        checker.check_chunk(chunk)
    if progress:
        progress(ImportJob.Status.VALIDATING, plan.rows_read, max(total, plan.rows_read))
    plan.errors.sort(key=lambda error: error[0])
    return plan


@dataclass
class _Row:
    """One data row parsed: the values it gives, its match keys and, later, its match."""

    line: int
    values: dict = field(default_factory=dict)
    ref: str | None = None
    phone_digits: str = ""
    email: str = ""
    owner_username: str = ""
    tag_names: list[str] | None = None
    valid: bool = True
    match: Customer | None = None
    matched_on: tuple[str, str] | None = None


class _Checker:
    """Validation state shared across chunks: look-up tables, what earlier rows claimed, the plan."""

    def __init__(self, actor, default_owner):
        self.plan = ImportPlan()
        self.actor = actor
        self.restricted = actor is not None and not roles.is_admin(actor)
        self.default_owner_id = default_owner.pk if default_owner else None
        self.choices = _choice_lookups()
        self.text_fields = {column: Customer._meta.get_field(column) for column in TEXT_COLUMNS}
        self.parsers = {
            **dict.fromkeys(TEXT_COLUMNS, self._parse_text),
            **dict.fromkeys(CHOICE_COLUMNS, self._parse_choice),
            **dict.fromkeys(DATE_COLUMNS, self._parse_date),
            "external_ref": self._parse_external_ref,
            "marketing_consent": self._parse_marketing_consent,
            "owner": self._parse_owner,
            "tags": self._parse_tags,
        }
        self.tag_names = dict(Tag.objects.values_list("pk", "name"))
        self.tag_by_name = {name: pk for pk, name in self.tag_names.items()}
        self.tag_by_key: dict[str, int] = {}
        for pk, name in self.tag_names.items():
            self.tag_by_key.setdefault(name.casefold(), pk)
        # What earlier rows of the file claimed: customer pk, external_ref, keys of new customers.
        self.line_of_pk: dict[int, int] = {}
        self.line_of_ref: dict[str, int] = {}
        self.new_by_phone: dict[str, list[tuple[int, str | None]]] = {}
        self.new_by_email: dict[str, list[tuple[int, str | None]]] = {}

    def reject(self, row: _Row, reason: str) -> None:
        self.plan.errors.append((row.line, reason))
        row.valid = False

    def check_chunk(self, rows: list[_Row]) -> None:
        """Everything that needs the database, for one chunk of parsed rows."""
        self.check_owners(rows)
        self.plan_chunk(self.match_chunk(rows))

    # One row on its own, no queries.
    def parse(self, line: int, raw: dict) -> _Row:
        row = _Row(line=line)
        if raw.get(EXTRA_CELLS):
            self.reject(row, _("the row has more cells than the header has columns (an unquoted comma?)"))
        for column in COLUMNS:
            if column not in raw:
                continue
            text = _NEUTRALISED.sub("", raw[column].strip())
            if "\x00" in text:
                self.reject(row, _("%(column)s contains a NUL character") % {"column": column})
            else:
                self.parsers[column](row, column, text)
        return row

    def _parse_external_ref(self, row, column, text):
        if len(text) > _REF_MAX_LENGTH:
            self.reject(row, too_long(column, text, _REF_MAX_LENGTH))
        elif text:
            row.ref = text
            row.values["external_ref"] = text

    def _parse_text(self, row, column, text):
        if column == "name" and not text:
            self.reject(row, _("name is empty"))
            return
        if column == "email":
            text = normalize_email(text)
        model_field = self.text_fields[column]
        if model_field.max_length and len(text) > model_field.max_length:
            self.reject(row, too_long(column, text, model_field.max_length))
            return
        if text:
            try:
                model_field.run_validators(text)
            except ValidationError as exc:
                if column == "email":
                    reason = _("email '%(value)s' is not a valid email address") % {"value": _shown(text)}
                else:
                    reason = f"{column} '{_shown(text)}': {' '.join(exc.messages)}"
                self.reject(row, reason)
                return
        row.values[column] = text
        if column == "phone":
            row.phone_digits = normalize_phone(text)
        elif column == "email":
            row.email = text

    def _parse_choice(self, row, column, text):
        if not text:
            # Columns that cannot be blank keep their current (or default) value.
            if Customer._meta.get_field(column).blank:
                row.values[column] = ""
            return
        code = self.choices[column].get(_lookup_key(text))
        if code is None:
            expected = ", ".join(CHOICE_COLUMNS[column].values)
            self.reject(
                row,
                _("unknown %(column)s '%(value)s' (expected one of %(expected)s)")
                % {"column": column, "value": _shown(text), "expected": expected},
            )
        else:
            row.values[column] = code

    def _parse_date(self, row, column, text):
        if not text:
            row.values[column] = None
            return
        match = _DATE.match(text)
        try:
            if not match:
                raise ValueError
            row.values[column] = datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            self.reject(
                row, _("%(column)s '%(value)s' is not a date (YYYY-MM-DD)") % {"column": column, "value": _shown(text)}
            )

    def _parse_marketing_consent(self, row, column, text):
        key = text.casefold()
        if key in _TRUE or key in _FALSE:
            row.values[column] = key in _TRUE
        elif key:
            self.reject(
                row,
                _("marketing_consent '%(value)s' is not yes or no (yes/no, true/false, 1/0, 是/否)")
                % {"value": _shown(text)},
            )

    def _parse_owner(self, row, column, text):
        # An empty cell keeps the current owner: a file cannot unassign customers by accident.
        row.owner_username = text

    def _parse_tags(self, row, column, text):
        names, seen = [], set()
        for name in _TAG_SEPARATORS.split(text):
            name = name.strip()
            if not name or name.casefold() in seen:
                continue
            if len(name) > _TAG_MAX_LENGTH:
                self.reject(row, too_long("tags", name, _TAG_MAX_LENGTH))
                continue
            seen.add(name.casefold())
            names.append(name)
        row.tag_names = names

    # Matching: a constant number of queries per chunk.
    def match_chunk(self, rows: list[_Row]) -> list[_Row]:
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
        return [row for row in rows if row.valid and self._match(row, by_ref, by_phone, by_email)]

    def _match(self, row: _Row, by_ref, by_phone, by_email) -> bool:
        if row.ref:
            if row.ref in self.line_of_ref:
                self.reject(row, duplicate_of(self.line_of_ref[row.ref]))
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
                    self.reject(
                        row,
                        _(
                            "%(column)s '%(value)s' matches %(count)d existing customers; "
                            "add an external_ref to say which one"
                        )
                        % {"column": column, "value": _shown(row.values[column]), "count": len(found)},
                    )
                    return False
                if found:
                    row.match, row.matched_on = found[0], (column, row.values[column])
                    break
                earlier = [line for line, ref in new_index.get(key, ()) if not row.ref or ref is None]
                if earlier:
                    self.reject(row, duplicate_of(earlier[0]))
                    return False
        if row.match is not None:
            if row.match.pk in self.line_of_pk:
                self.reject(row, duplicate_of(self.line_of_pk[row.match.pk]))
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

    def check_owners(self, rows: list[_Row]) -> None:
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
                self.reject(row, _("owner '%(value)s' is not a user") % shown)
            elif self.restricted and owner.pk not in self.allowed_owner_ids:
                self.reject(row, _("owner '%(value)s' is not in your team") % shown)
            else:
                row.values["owner"] = owner.pk

    @cached_property
    def allowed_owner_ids(self) -> set[int]:
        """Who a restricted actor may make owner: themselves and, for a sales manager, their teams."""
        ids = {self.actor.pk}
        if roles.has_role(self.actor, roles.SALES_MANAGER):
            ids |= set(managed_user_ids(self.actor).values_list("user_id", flat=True))
        return ids

    # Everything that needs the matches: permissions and the change itself.
    def plan_chunk(self, rows: list[_Row]) -> None:
        matched_pks = {row.match.pk for row in rows if row.match is not None}
        editable = None
        if self.actor is not None and matched_pks:
            editable = set(
                Customer.objects.editable_by(self.actor).filter(pk__in=matched_pks).values_list("pk", flat=True)
            )
        current_tags: dict[int, dict[int, str]] = {}
        if matched_pks and any(row.tag_names is not None for row in rows):
            links = Customer.tags.through.objects.filter(customer_id__in=matched_pks)
            for customer_id, tag_id, name in links.values_list("customer_id", "tag_id", "tag__name"):
                current_tags.setdefault(customer_id, {})[tag_id] = name
        for row in rows:
            if row.match is not None and editable is not None and row.match.pk not in editable:
                column, value = row.matched_on
                self.reject(
                    row,
                    _("a customer with %(column)s '%(value)s' exists and you may not change it")
                    % {"column": column, "value": _shown(value)},
                )
            elif row.match is None:
                customer = Customer(owner_id=self.default_owner_id)
                planned = PlannedRow(line=row.line, customer=customer, changed=_assign(customer, row.values))
                if row.tag_names is not None:
                    self._plan_tags(planned, row.tag_names)
                self.plan.creates.append(planned)
            else:
                self._plan_update(row, current_tags.get(row.match.pk, {}))

    def _plan_update(self, row: _Row, current_tags: dict[int, str]) -> None:
        customer = row.match
        planned = PlannedRow(line=row.line, customer=customer, changed=_assign(customer, row.values))
        if row.tag_names is not None:
            tag_names = self._plan_tags(planned, row.tag_names)
            if planned.new_tag_names or planned.tag_ids != set(current_tags):
                planned.reason = services.change_reason(
                    "imported", old_tags=list(current_tags.values()), new_tags=tag_names
                )
            else:
                planned.tag_ids = None
        if planned.changed or planned.tag_ids is not None:
            self.plan.updates.append(planned)
        else:
            self.plan.unchanged += 1

    def _plan_tags(self, planned: PlannedRow, names: list[str]) -> list[str]:
        """Put the row's tags on `planned` (ids of existing tags, names of new ones); return all their names."""
        planned.tag_ids, planned.new_tag_names = set(), []
        for name in names:
            pk = self.tag_by_name.get(name) or self.tag_by_key.get(name.casefold())
            if pk is None:
                # A new tag is created as the file first spells it; later rows name that same tag.
                planned.new_tag_names.append(self.plan.new_tags.setdefault(name.casefold(), name))
            else:
                planned.tag_ids.add(pk)
        return [self.tag_names[pk] for pk in planned.tag_ids] + planned.new_tag_names


def _assign(customer: Customer, values: dict) -> list[str]:
    """Put the row's values on the customer the way the services would; return the fields that changed."""
    attnames = {name: "owner_id" if name == "owner" else name for name in [*values, *_DERIVED_FIELDS]}
    before = {name: getattr(customer, attname) for name, attname in attnames.items()}
    for name, value in values.items():
        setattr(customer, attnames[name], value)
    customer.set_search_keys()
    if "marketing_consent" in values:
        if customer.marketing_consent != before["marketing_consent"]:
            customer.consent_at = timezone.now() if customer.marketing_consent else None
        elif customer.marketing_consent and customer.consent_at is None:
            customer.consent_at = timezone.now()
    if not customer.marketing_consent and ("marketing_consent" in values or "consent_channel" in values):
        customer.consent_channel = ""
    return [name for name, attname in attnames.items() if getattr(customer, attname) != before[name]]


def too_long(column: str, text: str, limit: int) -> str:
    return _("%(column)s '%(value)s' is too long (%(length)d characters, at most %(limit)d)") % {
        "column": column,
        "value": _shown(text),
        "length": len(text),
        "limit": limit,
    }


def duplicate_of(line: int) -> str:
    return _("duplicate of line %(line)d (both rows are the same customer)") % {"line": line}


def _shown(value: str, limit: int = 40) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _lookup_key(text: str) -> str:
    return _WHITESPACE.sub("", str(text).casefold())


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
