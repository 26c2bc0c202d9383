"""Lead pages: who sees what, list filters and counts, export, edits, assignment, conversion."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from customers.models import Customer
from customers.services import customer_create
from sales.models import Lead, Opportunity, ScreeningCriterion
from sales.services import leads as services
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db


def listed(response):
    return [lead.name for lead in response.context["leads"]]


def lead_form(owner, **overrides):
    return {
        "name": "Zhang Wei",
        "company": "Harbour Tools",
        "phone": "+86 139 1234 5678",
        "email": "",
        "source": "website",
        "owner": owner.pk,
        "status": Lead.Status.NEW,
        **overrides,
    }


# --- who sees what -----------------------------------------------------------------------------


def test_rep_sees_only_their_own_leads(login, owner, teammate):
    LeadFactory(owner=owner, name="Mine")
    LeadFactory(owner=teammate, name="Teammate's")
    LeadFactory(owner=None, name="Unassigned")

    response = login(owner).get(reverse("sales:lead_list"))

    assert listed(response) == ["Mine"]
    assert "scope" not in response.context["filter"].form.fields


def test_sales_manager_sees_team_and_unassigned_and_can_narrow(login, team_manager, owner, teammate, outsider):
    LeadFactory(owner=owner, name="Owner's")
    LeadFactory(owner=teammate, name="Teammate's")
    LeadFactory(owner=None, name="Unassigned")
    LeadFactory(owner=outsider, name="Outsider's")
    client = login(team_manager)

    assert set(listed(client.get(reverse("sales:lead_list")))) == {"Owner's", "Teammate's", "Unassigned"}
    assert listed(client.get(reverse("sales:lead_list"), {"scope": "unassigned"})) == ["Unassigned"]
    assert set(listed(client.get(reverse("sales:lead_list"), {"scope": "team"}))) == {"Owner's", "Teammate's"}
    assert listed(client.get(reverse("sales:lead_list"), {"scope": "mine"})) == []


def test_manager_sees_all_leads(login, manager, owner, outsider):
    LeadFactory(owner=owner, name="A")
    LeadFactory(owner=outsider, name="B")
    assert set(listed(login(manager).get(reverse("sales:lead_list")))) == {"A", "B"}


def test_search_finds_phone_in_any_format_and_company(login, owner):
    LeadFactory(owner=owner, name="Typed with dashes", phone="+86 139-1234-5678", company="Blue Sky")
    LeadFactory(owner=owner, name="Other", phone="13700000000", company="Green Field")
    client = login(owner)

    assert listed(client.get(reverse("sales:lead_list"), {"q": "13912345678"})) == ["Typed with dashes"]
    assert listed(client.get(reverse("sales:lead_list"), {"q": "139 1234 5678"})) == ["Typed with dashes"]
    assert listed(client.get(reverse("sales:lead_list"), {"q": "green"})) == ["Other"]


def test_filters_and_status_counts(login, owner):
    LeadFactory.create_batch(3, owner=owner, status=Lead.Status.NEW, score=10)
    LeadFactory.create_batch(2, owner=owner, status=Lead.Status.QUALIFIED, score=80)
    LeadFactory(owner=owner, status=Lead.Status.DISQUALIFIED, source="referral", score=50)
    client = login(owner)

    response = client.get(reverse("sales:lead_list"), {"status": "qualified"})

    assert len(listed(response)) == 2
    counts = {row["code"]: row["count"] for row in response.context["status_summary"]}
    # The badges count the whole list whatever status is picked, so each one says what clicking gives.
    assert counts == {"new": 3, "contacted": 0, "qualified": 2, "converted": 0, "disqualified": 1}
    assert response.context["paginator"].count == 2
    assert len(listed(client.get(reverse("sales:lead_list"), {"score_min": 50}))) == 3
    assert len(listed(client.get(reverse("sales:lead_list"), {"score_max": 49}))) == 3
    assert len(listed(client.get(reverse("sales:lead_list"), {"source": "referral"}))) == 1


def test_lead_list_queries_do_not_grow_with_rows(login, team_manager, owner, teammate, django_assert_max_num_queries):
    referrer = customer_create(actor=owner, data={"name": "Referrer", "phone": "1", "owner": owner})
    LeadFactory.create_batch(20, owner=owner, source="referral", referred_by=referrer)
    LeadFactory.create_batch(15, owner=teammate)
    LeadFactory.create_batch(5, owner=None)
    client = login(team_manager)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("sales:lead_list"), {"per_page": 100})

    assert len(response.context["leads"]) == 40
    assert response.context["paginator"].count == 40


def test_export_is_scoped_filtered_and_neutralised(login, owner, outsider, django_assert_max_num_queries):
    LeadFactory(owner=owner, name='=HYPERLINK("http://evil")', company="+cmd")
    LeadFactory.create_batch(30, owner=owner)
    LeadFactory(owner=outsider, name="Not yours")
    client = login(owner)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("sales:lead_export"))
        body = b"".join(response.streaming_content).decode("utf-8-sig")

    rows = list(csv.reader(io.StringIO(body)))
    names = [row[0] for row in rows[1:]]
    assert len(names) == 31
    assert "Not yours" not in names
    assert '\'=HYPERLINK("http://evil")' in names
    assert any(row[1] == "'+cmd" for row in rows)

    xlsx = client.get(reverse("sales:lead_export"), {"format": "xlsx", "q": "HYPERLINK"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and values[1][0].startswith("'=")


# --- outsiders -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lead_detail", "lead_update", "lead_assign", "lead_convert", "lead_disqualify"])
def test_outsider_gets_404_on_every_lead_page(login, owner, outsider, name):
    lead = LeadFactory(owner=owner)
    client = login(outsider)
    url = reverse(f"sales:{name}", args=[lead.pk])

    assert client.get(url).status_code == 404
    if name != "lead_detail":
        assert client.post(url, {"reason": "spam", "customer": "new", "owner": outsider.pk}).status_code == 404
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW and lead.owner == owner


def test_outsider_gets_404_on_screening(login, owner, outsider):
    lead = LeadFactory(owner=owner)
    criterion = ScreeningCriterion.objects.create(name="Need", weight=1)
    response = login(outsider).post(
        reverse("sales:lead_screen", args=[lead.pk]), {"version": lead.version, "criteria": [criterion.pk]}
    )
    assert response.status_code == 404
    assert not lead.criteria_met.exists()


def test_manager_may_look_but_not_change(login, manager, owner):
    lead = LeadFactory(owner=owner)
    client = login(manager)
    assert client.get(reverse("sales:lead_detail", args=[lead.pk])).status_code == 200
    assert client.get(reverse("sales:lead_update", args=[lead.pk])).status_code == 403
    assert client.post(reverse("sales:lead_disqualify", args=[lead.pk]), {"reason": "x"}).status_code == 403


# --- assigning -----------------------------------------------------------------------------------


def test_rep_cannot_assign_or_bulk_assign(login, owner, teammate):
    leads = LeadFactory.create_batch(2, owner=owner)
    client = login(owner)

    response = client.post(
        reverse("sales:lead_bulk_assign"), {"leads": [lead.pk for lead in leads], "owner": teammate.pk}
    )
    assert response.status_code == 403
    assert client.post(reverse("sales:lead_assign", args=[leads[0].pk]), {"owner": teammate.pk}).status_code == 403
    assert Lead.objects.filter(owner=owner).count() == 2


def test_bulk_assign_with_a_lead_outside_the_team_changes_nothing(login, team_manager, owner, teammate, outsider):
    mine = LeadFactory(owner=owner)
    foreign = LeadFactory(owner=outsider)

    response = login(team_manager).post(
        reverse("sales:lead_bulk_assign"), {"leads": [mine.pk, foreign.pk], "owner": teammate.pk}
    )

    assert response.status_code == 404
    mine.refresh_from_db()
    foreign.refresh_from_db()
    assert (mine.owner, foreign.owner) == (owner, outsider)


def test_sales_manager_bulk_assigns_to_a_rep_of_their_team(login, team_manager, owner, teammate):
    leads = [LeadFactory(owner=owner), LeadFactory(owner=None)]

    response = login(team_manager).post(
        reverse("sales:lead_bulk_assign"), {"leads": [lead.pk for lead in leads], "owner": teammate.pk}
    )

    assert response.status_code == 302
    assert Lead.objects.filter(owner=teammate).count() == 2


def test_sales_manager_cannot_assign_to_a_rep_outside_their_team(login, team_manager, owner, outsider):
    lead = LeadFactory(owner=owner)
    response = login(team_manager).post(reverse("sales:lead_assign", args=[lead.pk]), {"owner": outsider.pk})
    assert response.status_code == 200  # the form again, with the error
    lead.refresh_from_db()
    assert lead.owner == owner


def test_assign_one_lead(login, team_manager, owner, teammate):
    lead = LeadFactory(owner=owner)
    response = login(team_manager).post(reverse("sales:lead_assign", args=[lead.pk]), {"owner": teammate.pk})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == teammate


# --- create, edit, screen ------------------------------------------------------------------------


def test_rep_creates_a_lead_with_the_checklist(login, owner):
    need = ScreeningCriterion.objects.create(name="Need", weight=3)
    ScreeningCriterion.objects.create(name="Budget", weight=1)
    response = login(owner).post(reverse("sales:lead_create"), lead_form(owner, criteria=[need.pk]))

    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == lead.get_absolute_url()
    assert (lead.owner, lead.created_by, lead.score) == (owner, owner, 75)


def test_referral_needs_a_referring_customer_the_user_can_see(login, owner, outsider):
    customer_create(actor=outsider, data={"name": "Hidden Friend", "phone": "1", "owner": outsider})
    visible = customer_create(actor=owner, data={"name": "Good Friend", "phone": "2", "owner": owner})
    client = login(owner)

    missing = client.post(reverse("sales:lead_create"), lead_form(owner, source="referral"))
    assert "referred_by_lookup" in missing.context["form"].errors
    hidden = client.post(
        reverse("sales:lead_create"), lead_form(owner, source="referral", referred_by_lookup="Hidden Friend")
    )
    assert "referred_by_lookup" in hidden.context["form"].errors
    assert not Lead.objects.exists()

    client.post(reverse("sales:lead_create"), lead_form(owner, source="referral", referred_by_lookup="Good Friend"))
    assert Lead.objects.get().referred_by == visible


def test_detail_shows_score_and_reasons(login, owner):
    need = ScreeningCriterion.objects.create(name="Clear need", weight=1)
    ScreeningCriterion.objects.create(name="Budget approved", weight=1)
    lead = LeadFactory(owner=owner)
    services.lead_score(lead=lead, criteria=[need])

    response = login(owner).get(reverse("sales:lead_detail", args=[lead.pk]))

    assert [(item["criterion"].name, item["met"]) for item in response.context["checklist"]] == [
        ("Clear need", True),
        ("Budget approved", False),
    ]
    assert "50<small" in response.content.decode()


def test_screening_from_the_detail_page(login, owner):
    criteria = [ScreeningCriterion.objects.create(name=f"C{n}", weight=n) for n in (1, 2, 3)]
    lead = LeadFactory(owner=owner)

    login(owner).post(
        reverse("sales:lead_screen", args=[lead.pk]), {"version": lead.version, "criteria": [criteria[2].pk]}
    )

    lead.refresh_from_db()
    assert lead.score == 50


def test_edit_with_a_stale_version_shows_the_conflict(login, owner):
    lead = services.lead_create(actor=owner, data={"name": "Zhang Wei", "phone": "1", "owner": owner})
    client = login(owner)
    services.lead_update(lead=lead, actor=owner, data={"company": "Theirs"}, expected_version=1)

    response = client.post(
        reverse("sales:lead_update", args=[lead.pk]), lead_form(owner, company="Mine", version=1, phone="1")
    )

    assert response.status_code == 409
    assert any(diff["theirs"] == "Theirs" for diff in response.context["conflict"]["differences"])
    lead.refresh_from_db()
    assert lead.company == "Theirs"
    # Saving again from the merged form (now on the current version) keeps this user's value.
    again = client.post(
        reverse("sales:lead_update", args=[lead.pk]),
        lead_form(owner, company="Mine", version=response.context["form"]["version"].value(), phone="1"),
    )
    assert again.status_code == 302
    lead.refresh_from_db()
    assert lead.company == "Mine"


# --- convert and disqualify ----------------------------------------------------------------------


def test_convert_offers_the_duplicate_and_redirects_to_the_opportunity(login, owner):
    existing = customer_create(actor=owner, data={"name": "Harbour Tools Ltd", "phone": "13912345678", "owner": owner})
    lead = LeadFactory(owner=owner, company="Harbour Tools", phone="139-1234-5678")
    client = login(owner)
    url = reverse("sales:lead_convert", args=[lead.pk])

    page = client.get(url)
    assert [match.customer for match in page.context["matches"]] == [existing]

    form = {
        "customer": existing.pk,
        "create_opportunity": "on",
        "opportunity_name": "Tools deal",
        "amount": "5000",
        "expected_close": "2026-12-01",
    }
    response = client.post(url, form)
    opportunity = Opportunity.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sales/opportunities/{opportunity.pk}/"
    assert opportunity.customer == existing

    # The same form posted again (a double click, the back button) makes nothing more.
    again = client.post(url, form)
    assert again.status_code == 302 and again["Location"] == f"/sales/opportunities/{opportunity.pk}/"
    assert Customer.objects.count() == 1 and Opportunity.objects.count() == 1
    assert existing.contacts.count() == 1


def test_convert_without_opportunity_goes_to_the_new_customer(login, owner):
    lead = LeadFactory(owner=owner, company="Brand New Co")
    response = login(owner).post(reverse("sales:lead_convert", args=[lead.pk]), {"customer": "new"})
    customer = Customer.objects.get()
    assert customer.name == "Brand New Co"
    assert response["Location"] == customer.get_absolute_url()
    assert not Opportunity.objects.exists()


def test_convert_refuses_a_customer_that_is_not_a_match(login, owner, outsider):
    other = customer_create(actor=outsider, data={"name": "Elsewhere", "phone": "5", "owner": outsider})
    lead = LeadFactory(owner=owner)
    response = login(owner).post(reverse("sales:lead_convert", args=[lead.pk]), {"customer": other.pk})
    assert response.status_code == 200 and "customer" in response.context["form"].errors
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW


def test_disqualify_needs_a_reason_and_makes_the_lead_read_only(login, owner):
    lead = LeadFactory(owner=owner)
    client = login(owner)

    assert client.post(reverse("sales:lead_disqualify", args=[lead.pk]), {"reason": " "}).status_code == 200
    client.post(reverse("sales:lead_disqualify", args=[lead.pk]), {"reason": "No budget this year"})

    lead.refresh_from_db()
    assert lead.status == Lead.Status.DISQUALIFIED
    assert client.get(reverse("sales:lead_update", args=[lead.pk])).status_code == 302
    client.post(reverse("sales:lead_update", args=[lead.pk]), lead_form(owner, name="Changed", version=lead.version))
    client.post(reverse("sales:lead_convert", args=[lead.pk]), {"customer": "new"})
    lead.refresh_from_db()
    assert lead.name != "Changed" and lead.status == Lead.Status.DISQUALIFIED
    assert not Customer.objects.exists()
    detail = client.get(reverse("sales:lead_detail", args=[lead.pk]))
    assert not detail.context["can_edit"]
