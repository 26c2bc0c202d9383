"""Browser test of the sales flow: a rep logs a lead, screens it, converts it with an opportunity,
drags the opportunity to Won on the kanban and opens the order draft it made."""

import re

import pytest

from customers.models import Customer
from sales.models import Lead, Opportunity, Order, ScreeningCriterion
from tests.browser import PHONE, console_problems, drag, expect, overflow_width
from tests.sales.factories import LeadFactory, default_stage, ensure_default_pipeline

# serialized_rollback: the default pipeline comes from a data migration, which a flush would remove.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_rep_logs_a_lead_converts_it_wins_the_opportunity_and_sees_the_order(logged_in_page, owner):
    ensure_default_pipeline()
    ScreeningCriterion.objects.create(name="Clear need", weight=2, position=1)
    ScreeningCriterion.objects.create(name="Budget approved", weight=1, position=2)
    ScreeningCriterion.objects.create(name="Talks to the decision maker", weight=1, position=3)
    page = logged_in_page(owner)

    page.goto("/sales/leads/")
    page.get_by_role("link", name="New lead").first.click()
    page.fill("#id_name", "Zhao Min")
    page.fill("#id_company", "Jade River Tea")
    page.fill("#id_phone", "+86 135 5555 0101")
    page.get_by_label(re.compile("Clear need")).check()
    page.get_by_role("button", name="Save").click()

    expect(page.locator("h1")).to_contain_text("Zhao Min")
    expect(page.locator(".lead-score")).to_contain_text("50")
    page.locator(".screening-form").get_by_label(re.compile("Budget approved")).check()
    page.get_by_role("button", name="Save screening").click()
    expect(page.locator(".lead-score")).to_contain_text("75")

    page.get_by_role("link", name="Convert").click()
    expect(page.get_by_label(re.compile("Create a new customer"))).to_be_checked()
    page.fill("#id_opportunity_name", "Jade River tea shop fit-out")
    page.fill("#id_amount", "18000")
    page.get_by_role("button", name="Convert").click()

    lead = Lead.objects.get(name="Zhao Min")
    opportunity = Opportunity.objects.get()
    expect(page).to_have_url(re.compile(rf"/sales/opportunities/{opportunity.pk}/$"))
    assert lead.status == Lead.Status.CONVERTED and lead.score == 75
    assert lead.opportunity == opportunity and opportunity.owner == owner
    assert Customer.objects.get().name == "Jade River Tea"

    # Wide enough for every stage column: the drag starts and ends on screen.
    page.set_viewport_size({"width": 1920, "height": 1000})
    page.goto("/sales/pipeline/")
    card = page.locator(f"#opportunity-card-{opportunity.pk}")
    won = page.locator(f'.pipeline-column[data-stage="{default_stage("Won").pk}"]')
    won.locator(".pipeline-cards[data-sortable]").wait_for(state="attached")
    drag(page, card.locator(".drag-handle"), won.locator(".pipeline-cards"))
    # The board comes back from the server with a notice once the move is saved.
    expect(page.locator(".board-notice")).to_contain_text("order draft")
    expect(won.locator(f"#opportunity-card-{opportunity.pk}")).to_be_visible()

    page.goto(f"/sales/opportunities/{opportunity.pk}/")
    page.locator("a.order-link").click()
    order = Order.objects.get(opportunity=opportunity)
    expect(page).to_have_url(re.compile(rf"/sales/orders/{order.pk}/$"))
    expect(page.locator("h1")).to_contain_text(order.number)
    expect(page.locator("#order-amount")).to_have_text("18,000.00")
    assert order.status == Order.Status.DRAFT
    assert console_problems(page) == []


def test_lead_list_fits_a_phone(logged_in_page, owner):
    LeadFactory.create_batch(3, owner=owner, company="A rather long company name for a small screen Ltd")
    page = logged_in_page(owner, viewport=PHONE)
    page.goto("/sales/leads/")
    expect(page.locator(".lead-table")).to_be_visible()
    assert overflow_width(page) == 0
    assert console_problems(page) == []
