"""Writes with side effects on leads: create, edit, screen, assign, convert, disqualify, web capture.

Every function takes keyword arguments and runs in one transaction; `actor` is the person acting
(None for the public web form).
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import roles
from customers.forms import sales_users_for
from customers.models import Contact, Customer
from customers.normalize import normalize_email, normalize_name, normalize_phone, search_key
from customers.services import contact_save, customer_create, task_create

from ..models import Lead, LeadRouting, ScreeningCriterion
from .opportunities import opportunity_create

# Fields a person edits on the lead form; status, conversion and score belong to the services.
EDITABLE_FIELDS = (
    "name",
    "company",
    "job_title",
    "phone",
    "email",
    "region",
    "message",
    "source",
    "referred_by",
    "owner",
    "status",
    "marketing_consent",
    "notes",
)
# Statuses a person may set by editing; converted and disqualified come only from their actions.
WORKING_STATUSES = (Lead.Status.NEW, Lead.Status.CONTACTED, Lead.Status.QUALIFIED)
TASK_SOURCE = "lead"
# Customers read to compare company names in Python; enough for any real set of namesakes.
NAME_CANDIDATES = 200


class LeadConflictError(Exception):
    """The lead changed since the editor loaded it; carries the lead as saved now."""

    def __init__(self, current: Lead):
        super().__init__(_("This lead was changed by someone else."))
        self.current = current


class LeadClosedError(Exception):
    """The lead is converted or disqualified: it is kept as a record and no longer changes."""

    def __init__(self, lead: Lead):
        super().__init__(
            _("This lead is %(status)s and can no longer be changed.") % {"status": lead.get_status_display().lower()}
        )
        self.lead = lead


def screening_score(met_weights: list[int], all_weights: list[int]) -> int:
    """100 × (sum of the weights met) / (sum of all active weights), rounded half up; 0 without criteria."""
    total = sum(all_weights)
    if not total:
        return 0
    # Integer arithmetic: round-half-up without float error (Python's round() rounds half to even).
    return (200 * sum(met_weights) + total) // (2 * total)


@transaction.atomic
def lead_score(*, lead: Lead, criteria=None) -> int:
    """Set the criteria the lead meets (when given) and store its score over the active criteria."""
    active = list(ScreeningCriterion.objects.filter(active=True).values_list("pk", "weight"))
    if criteria is not None:
        lead.criteria_met.set(criteria)
    met = set(lead.criteria_met.values_list("pk", flat=True))
    score = screening_score([w for pk, w in active if pk in met], [w for _pk, w in active])
    if score != lead.score:
        lead.score = score
        Lead.objects.filter(pk=lead.pk).update(score=score)
    return score


def _apply(lead: Lead, data: dict) -> list[str]:
    """Copy editable values from `data` onto `lead`; return the names that changed."""
    changed = []
    for name in EDITABLE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "email":
            value = normalize_email(value)
        elif isinstance(value, str):
            value = value.strip()
        if getattr(lead, name) != value:
            setattr(lead, name, value)
            changed.append(name)
    if lead.source != Customer.Source.REFERRAL:
        # A referrer only means something for a referral; a stale one would mislead the reports.
        if lead.referred_by_id:
            changed.append("referred_by")
        lead.referred_by = None
    return changed


@transaction.atomic
def lead_create(*, actor, data: dict, criteria=None) -> Lead:
    """Create a lead from form-cleaned data, screened against `criteria`; the actor is its creator."""
    lead = Lead(created_by=actor)
    _apply(lead, data)
    lead.save()
    if criteria:
        lead_score(lead=lead, criteria=criteria)
    return lead


def _ensure_open(lead: Lead):
    if not lead.is_open:
        raise LeadClosedError(lead)


@transaction.atomic
def lead_update(*, lead: Lead, actor, data: dict, expected_version: int, criteria=None) -> list[str]:
    """Save edits made to version `expected_version`; raise LeadConflictError if it is no longer current,
    LeadClosedError if the lead was converted or disqualified. Returns the names of the fields changed."""
    _ensure_open(lead)
    # Compare-and-set on the version takes the row lock, so two editors cannot both win.
    claimed = (
        Lead.objects.filter(pk=lead.pk, version=expected_version)
        .exclude(status__in=[Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED])
        .update(version=F("version") + 1)
    )
    if not claimed:
        current = Lead.objects.get(pk=lead.pk)
        _ensure_open(current)
        raise LeadConflictError(current)
    fresh = Lead.objects.select_related("referred_by", "owner").get(pk=lead.pk)
    changed = _apply(fresh, data)
    old_met = set(fresh.criteria_met.values_list("pk", flat=True))
    if criteria is not None and old_met != {c.pk for c in criteria}:
        changed.append("criteria_met")
    if not changed:
        # Nothing to record: undo the version claim so other editors are not disturbed.
        Lead.objects.filter(pk=fresh.pk).update(version=expected_version)
        lead.refresh_from_db()
        return []
    fresh.updated_at = timezone.now()
    fresh.save()
    if "criteria_met" in changed:
        lead_score(lead=fresh, criteria=criteria)
    lead.refresh_from_db()
    return changed


@transaction.atomic
def lead_screen(*, lead: Lead, actor, criteria, expected_version: int) -> bool:
    """Record which screening criteria the lead meets and rescore it (same conflict rules as editing)."""
    return bool(lead_update(lead=lead, actor=actor, data={}, expected_version=expected_version, criteria=criteria))


@transaction.atomic
def lead_assign(*, leads, owner, actor) -> int:
    """Give the open leads among `leads` to `owner` (None: unassigned); returns how many changed hands."""
    now = timezone.now()
    return (
        Lead.objects.filter(pk__in=[lead.pk for lead in leads])
        .open()
        .exclude(owner=owner)
        .update(owner=owner, version=F("version") + 1, updated_at=now)
    )


@dataclass
class CustomerMatch:
    """An existing customer that looks like the lead's company, and why."""

    customer: Customer
    reasons: list[str] = field(default_factory=list)


def _name_probe(company: str) -> str:
    """The most selective word of a company name, as stored in `search_text`, to narrow the candidates."""
    words = [normalize_name(word) for word in search_key(company).split()]
    words = [word for word in words if len(word) >= 2]
    return max(words, key=len, default="")


def matching_customers(*, lead: Lead, user) -> list[CustomerMatch]:
    """Active customers the user may see with the lead's phone, email or company name (normalised).

    Phone and email are indexed lookups; the name key is computed in Python over the few customers
    whose search text holds the name's most selective word, so the cost does not grow with the table."""
    visible = Customer.objects.visible_to(user).active().select_related("owner")
    matches: dict[int, CustomerMatch] = {}

    def add(customers, reason):
        for customer in customers:
            matches.setdefault(customer.pk, CustomerMatch(customer)).reasons.append(reason)

    phone = normalize_phone(lead.phone)
    if len(phone) >= 5:
        add(visible.filter(phone_digits=phone)[:20], _("Same phone"))
    email = normalize_email(lead.email)
    if email:
        add(visible.filter(email=email)[:20], _("Same email"))
    key = normalize_name(lead.company)
    probe = _name_probe(lead.company)
    if key and probe:
        candidates = visible.filter(search_text__contains=probe).order_by("pk")[:NAME_CANDIDATES]
        add((c for c in candidates if normalize_name(c.name) == key), _("Same company name"))
    return sorted(matches.values(), key=lambda m: (-len(m.reasons), m.customer.name, m.customer.pk))


@dataclass(frozen=True)
class OpportunityDraft:
    name: str
    amount: Decimal = Decimal(0)
    expected_close: datetime.date | None = None


def _customer_from_lead(lead: Lead, actor) -> Customer:
    consent_channel = Customer.ConsentChannel.WEB_FORM if lead.marketing_consent and lead.from_web_form else ""
    return customer_create(
        actor=actor,
        data={
            "name": lead.company or lead.name,
            "kind": Customer.Kind.ORGANISATION if lead.company else Customer.Kind.INDIVIDUAL,
            "phone": lead.phone,
            "email": lead.email,
            "region": lead.region,
            "owner": lead.owner or actor,
            "source": lead.source,
            "referred_by": lead.referred_by,
            "marketing_consent": lead.marketing_consent,
            "consent_channel": consent_channel,
            "notes": lead.message,
        },
    )


@transaction.atomic
def lead_convert(
    *, lead: Lead, actor, customer: Customer | None = None, opportunity: OpportunityDraft | None = None
) -> Lead:
    """Turn an open lead into a customer (the one given, or a new one), a contact and optionally an
    opportunity in the default pipeline's first stage. A lead already converted is returned unchanged,
    so a repeated submit creates nothing more; a disqualified one raises LeadClosedError."""
    lead = Lead.objects.select_for_update(of=("self",)).select_related("owner", "referred_by").get(pk=lead.pk)
    if lead.status == Lead.Status.CONVERTED:
        return lead
    _ensure_open(lead)
    if customer is None:
        customer = _customer_from_lead(lead, actor)
    has_primary = Contact.objects.filter(customer=customer, is_primary=True).exists()
    contact = contact_save(
        contact=Contact(
            customer=customer,
            name=lead.name,
            title=lead.job_title,
            phone=lead.phone,
            email=lead.email,
            is_primary=not has_primary,
        ),
        actor=actor,
    )
    created = None
    if opportunity is not None:
        created = opportunity_create(
            actor=actor,
            customer=customer,
            contact=contact,
            name=opportunity.name,
            owner=lead.owner or actor,
            amount=opportunity.amount or Decimal(0),
            expected_close=opportunity.expected_close,
        )
    lead.status = Lead.Status.CONVERTED
    lead.customer = customer
    lead.contact = contact
    lead.opportunity = created
    lead.converted_at = timezone.now()
    lead.updated_at = lead.converted_at
    lead.version += 1
    lead.save()
    return lead


@transaction.atomic
def lead_disqualify(*, lead: Lead, actor, reason: str) -> Lead:
    """Close an open lead as not worth pursuing, with the reason; it stays as a read-only record."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError(_("Give a reason for disqualifying the lead."))
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _ensure_open(lead)
    lead.status = Lead.Status.DISQUALIFIED
    lead.disqualify_reason = reason
    lead.updated_at = timezone.now()
    lead.version += 1
    lead.save()
    return lead


def _next_rep(routing: LeadRouting):
    """The rep after the last one served, by user id, wrapping round; None when no rep is chosen."""
    reps = list(routing.reps.filter(is_active=True).order_by("pk"))
    if not reps:
        return None
    after = routing.last_assigned_id or 0
    return next((rep for rep in reps if rep.pk > after), reps[0])


@transaction.atomic
def lead_capture(*, data: dict) -> Lead:
    """Store a lead from the public web form and route it: unassigned, or round-robin over the chosen
    reps (the routing row is locked so two submissions never go to the same turn); an assigned rep
    gets a follow-up task."""
    LeadRouting.objects.get_or_create(pk=1)
    routing = LeadRouting.objects.select_for_update().get(pk=1)
    rep = _next_rep(routing) if routing.mode == LeadRouting.Mode.ROUND_ROBIN else None
    if rep is not None:
        routing.last_assigned_id = rep.pk
        routing.save(update_fields=["last_assigned_id"])
    lead = Lead(from_web_form=True, source=Customer.Source.WEBSITE, owner=rep)
    _apply(lead, {key: value for key, value in data.items() if key in EDITABLE_FIELDS and key != "owner"})
    lead.status = Lead.Status.NEW
    lead.save()
    if rep is not None:
        task_create(
            owner=rep,
            title=_("Follow up web lead: %(lead)s") % {"lead": lead},
            due_date=timezone.localdate() + datetime.timedelta(days=1),
            notes=lead.message,
            source=TASK_SOURCE,
        )
    return lead


def assignable_reps(user):
    """Users `user` may give leads to: a sales manager their teams' members and themselves; an admin any
    active sales user; nobody else."""
    if not roles.has_role(user, roles.ADMIN, roles.SALES_MANAGER):
        return get_user_model().objects.none()
    return sales_users_for(user)


def can_assign(user) -> bool:
    """Sales managers and admins hand out leads; reps work the ones they have."""
    return roles.has_role(user, roles.ADMIN, roles.SALES_MANAGER)
