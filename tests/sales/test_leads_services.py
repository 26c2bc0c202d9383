"""Lead services: screening score, de-duplication, conversion, disqualifying, web capture routing."""

import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.utils import timezone

from customers import roles
from customers.models import Contact, Customer, Task
from customers.services import customer_create
from sales.models import Lead, LeadRouting, Opportunity, ScreeningCriterion, StageChange
from sales.services import leads as services
from tests.factories import UserFactory
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db


def half_up(numerator, denominator) -> int:
    """The expected score, worked out with exact fractions and decimal half-up rounding."""
    exact = Fraction(100 * numerator, denominator)
    return int((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("met", "weights"),
    [
        ([3, 5], [3, 2, 5]),  # 80
        ([1], [1, 1, 1]),  # 33.3 → 33
        ([1, 1], [1, 1, 1]),  # 66.7 → 67
        ([1], [1, 7]),  # 12.5 → 13 (half up, not to even)
        ([5], [1, 4, 5]),  # 50
        ([], [2, 2]),  # 0
        ([2, 2], [2, 2]),  # 100
    ],
)
def test_screening_score_is_weighted_share_rounded_half_up(met, weights):
    assert services.screening_score(met, weights) == half_up(sum(met), sum(weights))


def test_screening_score_without_criteria_is_zero():
    assert services.screening_score([], []) == 0


def test_lead_score_counts_only_active_criteria(owner):
    power = ScreeningCriterion.objects.create(name="Purchasing power", weight=3)
    need = ScreeningCriterion.objects.create(name="Need", weight=2)
    authority = ScreeningCriterion.objects.create(name="Decision authority", weight=4)
    retired = ScreeningCriterion.objects.create(name="Old rule", weight=10, active=False)
    lead = LeadFactory(owner=owner)

    score = services.lead_score(lead=lead, criteria=[power, authority, retired])

    assert score == half_up(3 + 4, 3 + 2 + 4) == 78
    lead.refresh_from_db()
    assert lead.score == 78
    assert set(lead.criteria_met.all()) == {power, authority, retired}
    assert need not in lead.criteria_met.all()


def test_lead_update_rescores_when_the_checklist_changes(owner):
    power = ScreeningCriterion.objects.create(name="Purchasing power", weight=1)
    ScreeningCriterion.objects.create(name="Need", weight=3)
    lead = services.lead_create(actor=owner, data={"name": "Li Lei", "phone": "13900000000", "owner": owner})
    assert lead.score == 0

    changed = services.lead_update(lead=lead, actor=owner, data={}, expected_version=lead.version, criteria=[power])

    assert changed == ["criteria_met"]
    lead.refresh_from_db()
    assert lead.score == 25
    assert lead.version == 2


def test_lead_update_with_an_old_version_is_a_conflict(owner):
    lead = services.lead_create(actor=owner, data={"name": "Li Lei", "phone": "13900000000", "owner": owner})
    services.lead_update(lead=lead, actor=owner, data={"company": "First"}, expected_version=1)

    with pytest.raises(services.LeadConflictError):
        services.lead_update(lead=lead, actor=owner, data={"company": "Second"}, expected_version=1)

    lead.refresh_from_db()
    assert lead.company == "First"


def test_referrer_is_dropped_when_the_source_is_not_referral(owner):
    referrer = customer_create(actor=owner, data={"name": "Old friend", "phone": "13800000001", "owner": owner})
    lead = services.lead_create(
        actor=owner, data={"name": "A", "phone": "1", "owner": owner, "source": "website", "referred_by": referrer}
    )
    assert lead.referred_by is None


def test_matching_customers_finds_same_phone_email_and_company_name(owner, outsider):
    by_phone = customer_create(actor=owner, data={"name": "Phone Match", "phone": "+86 138-0013-8000", "owner": owner})
    by_email = customer_create(
        actor=owner, data={"name": "Mail Match", "email": "Buyer@Example.com", "phone": "1", "owner": owner}
    )
    by_name = customer_create(actor=owner, data={"name": "ACME Trading Ltd.", "phone": "2", "owner": owner})
    customer_create(actor=owner, data={"name": "Acme Logistics", "phone": "3", "owner": owner})
    hidden = customer_create(actor=outsider, data={"name": "Acme Trading", "phone": "13800138000", "owner": outsider})
    lead = LeadFactory(owner=owner, company="Acme Trading Co., Ltd", phone="138 0013 8000", email="buyer@example.com")

    matches = services.matching_customers(lead=lead, user=owner)

    found = {match.customer.pk: match.reasons for match in matches}
    assert set(found) == {by_phone.pk, by_email.pk, by_name.pk}
    assert hidden.pk not in found
    assert [str(r) for r in found[by_name.pk]] == ["Same company name"]


def test_convert_creates_customer_contact_and_opportunity_once(owner):
    lead = LeadFactory(owner=owner, name="Wang Fang", company="Lotus Foods", phone="13911112222", job_title="Buyer")
    draft = services.OpportunityDraft(
        name="Lotus first order", amount=Decimal("12000"), expected_close=datetime.date(2026, 12, 31)
    )

    converted = services.lead_convert(lead=lead, actor=owner, opportunity=draft)

    customer = Customer.objects.get(name="Lotus Foods")
    assert customer.owner == owner and customer.phone_digits == "13911112222"
    assert customer.history.count() == 1  # made through customer_create: history says who
    contact = Contact.objects.get(customer=customer)
    assert (contact.name, contact.title, contact.is_primary) == ("Wang Fang", "Buyer", True)
    opportunity = Opportunity.objects.get(customer=customer)
    assert opportunity.owner == owner
    assert opportunity.amount == Decimal("12000")
    assert opportunity.stage.name == "Prospecting" and opportunity.stage.pipeline.is_default
    assert opportunity.probability == opportunity.stage.probability
    first_move = StageChange.objects.get(opportunity=opportunity)
    assert first_move.from_stage is None and first_move.to_stage == opportunity.stage
    assert converted.status == Lead.Status.CONVERTED
    assert (converted.customer, converted.contact, converted.opportunity) == (customer, contact, opportunity)
    assert converted.converted_at is not None

    again = services.lead_convert(lead=lead, actor=owner, opportunity=draft)

    assert again.opportunity == opportunity
    assert Customer.objects.count() == 1
    assert Contact.objects.count() == 1
    assert Opportunity.objects.count() == 1
    assert StageChange.objects.count() == 1


def test_convert_links_an_existing_customer_without_an_opportunity(owner):
    existing = customer_create(actor=owner, data={"name": "Lotus Foods", "phone": "13911112222", "owner": owner})
    lead = LeadFactory(owner=owner, company="Lotus Foods Co.", phone="139-1111-2222")

    converted = services.lead_convert(lead=lead, actor=owner, customer=existing)

    assert Customer.objects.count() == 1
    assert converted.customer == existing
    assert converted.opportunity is None
    assert existing.contacts.count() == 1


def test_disqualify_needs_a_reason_and_closes_the_lead(owner):
    lead = LeadFactory(owner=owner)
    with pytest.raises(ValueError):
        services.lead_disqualify(lead=lead, actor=owner, reason="  ")

    services.lead_disqualify(lead=lead, actor=owner, reason="No budget")

    lead.refresh_from_db()
    assert lead.status == Lead.Status.DISQUALIFIED and lead.disqualify_reason == "No budget"
    with pytest.raises(services.LeadClosedError):
        services.lead_update(lead=lead, actor=owner, data={"name": "x"}, expected_version=lead.version)
    with pytest.raises(services.LeadClosedError):
        services.lead_convert(lead=lead, actor=owner)


def test_web_leads_go_round_robin_by_user_id_after_the_last_one():
    reps = [UserFactory(roles=[roles.SALES_REP]) for _ in range(3)]
    reps.sort(key=lambda rep: rep.pk)
    routing = LeadRouting.objects.get_or_create(pk=1)[0]
    routing.mode = LeadRouting.Mode.ROUND_ROBIN
    routing.last_assigned_id = reps[1].pk  # the next one is reps[2], then it wraps round
    routing.save()
    routing.reps.set(reps)

    owners = [
        services.lead_capture(data={"name": f"Visitor {n}", "email": f"v{n}@example.com"}).owner for n in range(4)
    ]

    assert owners == [reps[2], reps[0], reps[1], reps[2]]
    routing.refresh_from_db()
    assert routing.last_assigned_id == reps[2].pk
    tasks = Task.objects.filter(source="lead").order_by("pk")
    assert [task.owner for task in tasks] == owners
    assert all(task.due_date == timezone.localdate() + datetime.timedelta(days=1) for task in tasks)


def test_web_leads_stay_unassigned_by_default():
    lead = services.lead_capture(data={"name": "Visitor", "email": "v@example.com", "marketing_consent": True})

    assert lead.owner is None
    assert lead.from_web_form and lead.source == Customer.Source.WEBSITE and lead.marketing_consent
    assert not Task.objects.exists()
