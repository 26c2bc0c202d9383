"""Merging two customer records that are the same customer: `customer_merge` and its preview.

Related rows are found through `Customer._meta.related_objects`, so rows that apps added
later (orders, tickets, campaign members, …) move too without `customers` importing them.
"""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.models import HistoricalChanges

from .models import Contact, Customer, CustomerMerge

# Fields the kept record takes from the merged one when its own value is blank. `notes` is
# appended instead; `external_ref` is unique, so it moves only when the kept record has none.
FILL_FIELDS = (
    "external_ref",
    "phone",
    "email",
    "region",
    "city",
    "address",
    "industry",
    "source",
    "referred_by",
    "birthday",
    "anniversary",
)

# Relations that describe the merge itself (or earlier ones) rather than the customer.
_SKIPPED_RELATIONS = {(Customer, "merged_into"), (CustomerMerge, "kept"), (CustomerMerge, "merged")}


class MergeError(Exception):
    """The two records cannot be merged (the same record, or one is already archived)."""


@dataclass(frozen=True)
class _UniqueRule:
    """Columns that must stay unique together with the customer column, maybe under a condition."""

    others: tuple[str, ...]
    condition: models.Q | None = None


@dataclass(frozen=True)
class _Relation:
    """One kind of row pointing at a customer: `model.<column>` holds the customer's id."""

    key: str
    label: str
    model: type[models.Model]
    column: str
    # A row that would break one of these rules once moved stays on the merged record.
    unique_rules: tuple[_UniqueRule, ...]
    # Pure link rows (auto-created M2M tables): a link the kept record already has is dropped.
    is_link: bool = False


def _unique_rules(model, column: str) -> tuple[_UniqueRule, ...]:
    """The uniqueness rules of `model` that include `column`, as the other fields they cover."""
    opts = model._meta
    rules = [_UniqueRule(())] if opts.get_field(column).unique else []
    declared = [(tuple(names), None) for names in opts.unique_together]
    declared += [
        (tuple(c.fields), c.condition)
        for c in opts.constraints
        if isinstance(c, models.UniqueConstraint) and c.fields and not c.expressions
    ]
    for names, condition in declared:
        names = tuple(opts.get_field(name).name for name in names)
        if column in names:
            rules.append(_UniqueRule(tuple(n for n in names if n != column), condition))
    return tuple(rules)


def _relations() -> list[_Relation]:
    """Every kind of row that points at a customer and should follow it into the kept record."""
    relations = []
    tags = Customer._meta.get_field("tags")
    relations.append(
        _Relation(
            key="tags",
            label=str(tags.verbose_name),
            model=tags.remote_field.through,
            column=tags.m2m_field_name(),
            unique_rules=(_UniqueRule((tags.m2m_reverse_field_name(),)),),
            is_link=True,
        )
    )
    for rel in Customer._meta.related_objects:
        model = rel.related_model
        if issubclass(model, HistoricalChanges) or (model, rel.field.name) in _SKIPPED_RELATIONS:
            continue
        key = rel.get_accessor_name()
        if rel.many_to_many:
            through = rel.through
            if not through._meta.auto_created:
                # The custom through model's own foreign key is in this list too; moved there.
                continue
            relations.append(
                _Relation(
                    key=key,
                    label=str(model._meta.verbose_name_plural),
                    model=through,
                    column=rel.field.m2m_reverse_field_name(),
                    unique_rules=(_UniqueRule((rel.field.m2m_field_name(),)),),
                    is_link=True,
                )
            )
        else:
            label = str(model._meta.verbose_name_plural)
            if model is Customer and rel.field.name == "referred_by":
                label = _("referred customers")
            relations.append(
                _Relation(
                    key=key,
                    label=label,
                    model=model,
                    column=rel.field.name,
                    unique_rules=_unique_rules(model, rel.field.name),
                )
            )
    return relations


def _rows_of(relation: _Relation, customer_pk: int, *, keep_pk: int, merge_pk: int):
    rows = relation.model._base_manager.filter(**{relation.column: customer_pk})
    if relation.model is Customer:
        # Neither record refers to itself or to its twin after the merge.
        rows = rows.exclude(pk__in=[keep_pk, merge_pk])
    return rows


def _collisions(relation: _Relation, rows, keep_pk: int):
    """The rows that the kept customer already has an equal of, under a uniqueness rule."""
    clash = None
    for rule in relation.unique_rules:
        twins = relation.model._base_manager.filter(
            **{relation.column: keep_pk}, **{name: OuterRef(name) for name in rule.others}
        )
        rule_clash = models.Q(Exists(twins))
        if rule.condition is not None:
            rule_clash = rule.condition & models.Q(Exists(twins.filter(rule.condition)))
        clash = rule_clash if clash is None else clash | rule_clash
    return rows.filter(clash)


def _move_related(keep: Customer, merge: Customer) -> tuple[dict[str, int], dict[str, int]]:
    """Point every related row of `merge` at `keep`, one UPDATE per kind of row.

    Returns (moved, left): rows that would break a uniqueness rule stay on the merged record
    (link rows that `keep` already has are dropped instead).
    """
    moved, left = {}, {}
    for relation in _relations():
        rows = _rows_of(relation, merge.pk, keep_pk=keep.pk, merge_pk=merge.pk)
        if relation.unique_rules:
            collisions = _collisions(relation, rows, keep.pk)
            if relation.is_link:
                collisions.delete()
            else:
                kept_back = collisions.count()
                if kept_back:
                    left[relation.key] = kept_back
                rows = rows.exclude(pk__in=collisions.values("pk"))
        changes = {relation.column: keep.pk}
        if relation.model is Customer:
            # Customers that now point elsewhere count as changed for editors holding a stale form.
            changes["version"] = F("version") + 1
        moved[relation.key] = rows.update(**changes)
    return moved, left


def fill_values(*, keep: Customer, merge: Customer) -> dict[str, object]:
    """The values `keep` takes from `merge`: fields blank on `keep` and set on `merge` (notes: appended)."""
    values = {}
    if keep.referred_by_id == merge.pk:
        # Referred by its own duplicate: it takes over whoever referred that one.
        values["referred_by"] = merge.referred_by if merge.referred_by_id != keep.pk else None
    for name in FILL_FIELDS:
        field = Customer._meta.get_field(name)
        theirs = getattr(merge, field.attname)
        if name in values:
            continue
        if getattr(keep, field.attname) in (None, "") and theirs not in (None, ""):
            if name == "referred_by" and theirs in (keep.pk, merge.pk):
                continue
            values[name] = getattr(merge, name)
    if merge.notes.strip():
        values["notes"] = f"{keep.notes.rstrip()}\n\n{merge.notes.strip()}" if keep.notes.strip() else merge.notes
    return values


def related_counts(customer: Customer, *, twin: Customer) -> list[tuple[str, str, int]]:
    """(key, label, count) of the rows attached to `customer`, not counting links to `twin`.

    One query per kind of row; for the record to merge, these are the rows that will move
    (less any the kept record already has, for kinds that must stay unique).
    """
    counts = []
    for relation in _relations():
        n = _rows_of(relation, customer.pk, keep_pk=twin.pk, merge_pk=customer.pk).count()
        counts.append((relation.key, relation.label, n))
    return counts


def _save(customer: Customer, *, actor: AbstractBaseUser | None, fields: list[str]) -> None:
    customer.version += 1
    customer.updated_at = timezone.now()
    customer._history_user = actor
    customer._change_reason = "merged"
    customer.save(update_fields=[*fields, "version", "updated_at"])


@transaction.atomic
def customer_merge(*, keep: Customer, merge: Customer, actor: AbstractBaseUser | None) -> CustomerMerge:
    """Fold `merge` into `keep`: related rows move, blanks are filled, `merge` is archived; recorded."""
    if keep.pk == merge.pk:
        raise MergeError(_("A customer cannot be merged into itself."))
    # Both rows locked in pk order, so two merges of the same pair cannot deadlock.
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[keep.pk, merge.pk]).order_by("pk")}
    if len(locked) != 2:
        raise Customer.DoesNotExist
    keep, merge = locked[keep.pk], locked[merge.pk]
    if keep.archived or merge.archived:
        raise MergeError(_("Only active customers can be merged; one of them is archived."))

    values = fill_values(keep=keep, merge=merge)
    if "external_ref" in values:
        # The reference is unique: the merged record (saved first, below) gives it up before
        # the kept one takes it.
        merge.external_ref = None
    # One primary contact per customer: the kept record's stays primary.
    Contact.objects.filter(customer=merge, is_primary=True).filter(
        Exists(Contact.objects.filter(customer=keep, is_primary=True))
    ).update(is_primary=False)
    moved, left = _move_related(keep, merge)

    merge.archived = True
    merge.archived_at = timezone.now()
    merge.merged_into = keep
    _save(merge, actor=actor, fields=["archived", "archived_at", "merged_into", "external_ref"])

    for name, value in values.items():
        setattr(keep, name, value)
    keep.set_search_keys()
    _save(keep, actor=actor, fields=[*values, "phone_digits", "search_text"])

    if left:
        moved["left_on_merged"] = left
    return CustomerMerge.objects.create(kept=keep, merged=merge, actor=actor, moved=moved)
