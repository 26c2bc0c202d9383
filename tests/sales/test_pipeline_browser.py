"""Browser tests of the kanban pipeline: drag a card to Won, then see the order draft."""

import re
from decimal import Decimal

import pytest

from sales.models import Order
from tests.browser import PHONE, console_problems, drag, expect, overflow_width
from tests.factories import CustomerFactory
from tests.sales.factories import OpportunityFactory, ProductFactory, default_stage, ensure_default_pipeline

# serialized_rollback: the default pipeline comes from a data migration, which a flush would remove.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _default_pipeline(transactional_db):
    """The default pipeline, recreated if a flush between transactional tests removed it (seen on
    PostgreSQL in long runs even with serialized_rollback)."""
    ensure_default_pipeline()


@pytest.mark.parametrize("how", ["drag", "form"])
def test_rep_drags_a_card_to_won_and_sees_the_order_draft(logged_in_page, owner, how):
    customer = CustomerFactory(owner=owner, name="Lotus Trading")
    deal = OpportunityFactory(customer=customer, name="Lotus shelving", amount=Decimal("4200.00"))
    deal.lines.create(product=ProductFactory(unit_price=Decimal("700.00")), quantity=6, unit_price=Decimal("700.00"))
    # Wide enough for all six columns side by side: the drag starts and ends on screen.
    page = logged_in_page(owner, viewport={"width": 1920, "height": 1000})
    page.goto("/sales/pipeline/")
    card = page.locator(f"#opportunity-card-{deal.pk}")
    won = page.locator(f'.pipeline-column[data-stage="{default_stage("Won").pk}"]')
    if how == "drag":
        # Sortable is bound once pipeline.js has run (it marks each column).
        won.locator(".pipeline-cards[data-sortable]").wait_for(state="attached")
        drag(page, card.locator(".drag-handle"), won.locator(".pipeline-cards"))
    else:
        card.locator("select[name=stage]").select_option(label="Won")
        card.get_by_role("button", name="Move").click()
    expect(page.locator(".board-notice")).to_contain_text("order draft")
    expect(won.locator(f"#opportunity-card-{deal.pk}")).to_be_visible()
    expect(won.locator(".column-count")).to_have_text("1")
    order = Order.objects.get(opportunity=deal)
    assert order.status == Order.Status.DRAFT
    assert order.amount == Decimal("4200.00")

    page.goto(f"/sales/opportunities/{deal.pk}/")
    link = page.locator("a.order-link")
    expect(link).to_have_text(order.number)
    expect(link).to_have_attribute("href", re.compile(rf"/sales/orders/{order.pk}/$"))
    assert console_problems(page) == []


def test_dropping_on_lost_asks_for_a_reason_and_cancel_puts_the_card_back(logged_in_page, owner):
    deal = OpportunityFactory(customer=CustomerFactory(owner=owner), name="Risky deal")
    lost = default_stage("Lost")
    page = logged_in_page(owner)
    page.goto("/sales/pipeline/")
    card = page.locator(f"#opportunity-card-{deal.pk}")
    card.locator("select[name=stage]").select_option(label="Lost")
    card.get_by_role("button", name="Move").click()
    dialog = page.locator("#lost-reason-modal")
    expect(dialog).to_be_visible()
    dialog.locator(".modal-footer").get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    # The backdrop fades out after the dialog; a new dialog can open once it has gone.
    expect(page.locator(".modal-backdrop")).to_have_count(0)
    expect(card.locator("select[name=stage]")).to_have_value(str(deal.stage_id))
    deal.refresh_from_db()
    assert deal.stage.name == "Prospecting"

    card.locator("select[name=stage]").select_option(label="Lost")
    card.get_by_role("button", name="Move").click()
    page.fill("#lost-reason-input", "Went with a competitor")
    dialog.get_by_role("button", name="Mark lost").click()
    expect(page.locator(f'.pipeline-column[data-stage="{lost.pk}"] #opportunity-card-{deal.pk}')).to_be_visible()
    deal.refresh_from_db()
    assert (deal.stage.name, deal.lost_reason) == ("Lost", "Went with a competitor")


def test_the_board_fits_a_phone(logged_in_page, owner):
    OpportunityFactory(customer=CustomerFactory(owner=owner), name="Phone deal")
    page = logged_in_page(owner, viewport=PHONE)
    page.goto("/sales/pipeline/")
    expect(page.get_by_text("Phone deal")).to_be_visible()
    assert overflow_width(page) == 0
