"""Opportunity services: creation, edits with conflict detection, stage moves, won and lost."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from sales.models import Opportunity, Order, OrderLine, Stage, StageChange
from sales.services import opportunities as services
from tests.factories import CustomerFactory
from tests.sales.factories import OpportunityFactory, PipelineFactory, ProductFactory, default_stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(owner):
    return OpportunityFactory(customer=CustomerFactory(owner=owner), amount=Decimal("12000.00"))


def test_create_starts_in_the_default_pipeline_and_records_the_first_stage_change(owner):
    customer = CustomerFactory(owner=owner)
    opportunity = services.opportunity_create(actor=owner, customer=customer, name="  Fleet renewal ")
    assert opportunity.name == "Fleet renewal"
    assert opportunity.stage == default_stage("Prospecting")
    assert opportunity.probability == 10
    assert opportunity.owner == owner
    [change] = StageChange.objects.filter(opportunity=opportunity)
    assert change.from_stage is None
    assert change.to_stage == default_stage("Prospecting")
    assert change.changed_by == owner


def test_create_with_products_takes_their_total_as_amount(owner):
    laptop = ProductFactory(unit_price=Decimal("5000.00"))
    mouse = ProductFactory(unit_price=Decimal("80.00"))
    opportunity = services.opportunity_create(
        actor=owner,
        customer=CustomerFactory(owner=owner),
        name="Office kit",
        amount=Decimal("1"),
        lines=[
            services.OpportunityLineDraft(product=laptop, quantity=Decimal("3")),
            services.OpportunityLineDraft(product=mouse, quantity=Decimal("3"), unit_price=Decimal("75.50")),
        ],
    )
    assert opportunity.amount == Decimal("15226.50")
    assert opportunity.lines.count() == 2


def test_create_refuses_a_closed_stage(owner):
    with pytest.raises(services.MoveRefused):
        services.opportunity_create(
            actor=owner, customer=CustomerFactory(owner=owner), name="x", stage=default_stage("Won")
        )
    assert not Opportunity.objects.exists()


def test_move_records_who_when_from_and_to_and_takes_the_stage_probability(deal, teammate):
    before = timezone.now()
    assert services.opportunity_move(opportunity=deal, stage=default_stage("Proposal"), actor=teammate)
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"
    assert deal.probability == 50
    assert deal.closed_at is None
    change = StageChange.objects.get(opportunity=deal)
    assert (change.from_stage.name, change.to_stage.name, change.changed_by) == ("Prospecting", "Proposal", teammate)
    assert change.changed_at >= before


def test_moving_to_the_same_stage_records_nothing(deal, owner):
    assert not services.opportunity_move(opportunity=deal, stage=default_stage("Prospecting"), actor=owner)
    assert not StageChange.objects.filter(opportunity=deal).exists()


def test_closing_sets_closed_at_and_reopening_clears_it(deal, owner):
    services.opportunity_mark_lost(opportunity=deal, actor=owner, reason="Price too high")
    deal.refresh_from_db()
    assert deal.stage.is_lost and deal.probability == 0
    assert deal.closed_at is not None
    assert deal.lost_reason == "Price too high"
    services.opportunity_move(opportunity=deal, stage=default_stage("Negotiation"), actor=owner)
    deal.refresh_from_db()
    assert deal.closed_at is None
    assert deal.lost_reason == ""
    assert deal.probability == 75
    assert [c.to_stage.name for c in deal.stage_changes.all()] == ["Lost", "Negotiation"]


def test_lost_needs_a_reason(deal, owner):
    with pytest.raises(services.MoveRefused):
        services.opportunity_move(opportunity=deal, stage=default_stage("Lost"), actor=owner, lost_reason="  ")
    with pytest.raises(services.MoveRefused):
        services.opportunity_mark_lost(opportunity=deal, actor=owner, reason="")
    deal.refresh_from_db()
    assert deal.stage.name == "Prospecting"
    assert not StageChange.objects.filter(opportunity=deal).exists()


def test_a_stage_of_another_pipeline_is_refused(deal, owner):
    renewals = PipelineFactory(name="Renewals")
    foreign = Stage.objects.create(pipeline=renewals, name="Due", position=1, probability=60)
    with pytest.raises(services.MoveRefused):
        services.opportunity_move(opportunity=deal, stage=foreign, actor=owner)
    deal.refresh_from_db()
    assert deal.stage.name == "Prospecting"
    assert deal.pipeline.is_default


def test_mark_won_makes_one_order_draft_from_the_products(deal, owner):
    laptop = ProductFactory(unit_price=Decimal("5000.00"), unit_cost=Decimal("3800.00"))
    support = ProductFactory(unit_price=Decimal("1200.00"), unit_cost=Decimal("300.00"))
    deal.lines.create(product=laptop, quantity=Decimal("2"), unit_price=Decimal("4800.00"))
    deal.lines.create(product=support, quantity=Decimal("1.5"), unit_price=Decimal("1200.00"))

    order = services.opportunity_mark_won(opportunity=deal, actor=owner)

    deal.refresh_from_db()
    assert deal.stage.is_won and deal.probability == 100 and deal.closed_at is not None
    assert order.status == Order.Status.DRAFT
    assert (order.customer, order.owner, order.opportunity) == (deal.customer, owner, deal)
    lines = sorted(
        OrderLine.objects.filter(order=order).values_list("product_id", "quantity", "unit_price", "unit_cost")
    )
    assert lines == sorted(
        [
            (laptop.pk, Decimal("2"), Decimal("4800.00"), Decimal("3800.00")),
            (support.pk, Decimal("1.5"), Decimal("1200.00"), Decimal("300.00")),
        ]
    )
    assert order.amount == Decimal("2") * Decimal("4800") + Decimal("1.5") * Decimal("1200")
    assert order.cost == Decimal("2") * Decimal("3800") + Decimal("1.5") * Decimal("300")


def test_marking_won_again_does_not_make_a_second_draft(deal, owner):
    first = services.opportunity_mark_won(opportunity=deal, actor=owner)
    again = services.opportunity_mark_won(opportunity=deal, actor=owner)
    services.opportunity_move(opportunity=deal, stage=default_stage("Negotiation"), actor=owner)
    third = services.opportunity_mark_won(opportunity=deal, actor=owner)
    assert first.pk == again.pk == third.pk
    assert Order.objects.filter(opportunity=deal).count() == 1


def test_mark_won_without_products_makes_one_line_for_the_amount(deal, owner):
    order = services.opportunity_mark_won(opportunity=deal, actor=owner)
    [line] = order.lines.all()
    assert line.product is None
    assert line.description == deal.name
    assert (line.quantity, line.unit_price, line.unit_cost) == (Decimal(1), Decimal("12000.00"), Decimal(0))
    assert order.amount == Decimal("12000.00")


def test_update_saves_edits_and_detects_a_stale_version(deal, owner, teammate):
    changed = services.opportunity_update(
        opportunity=deal,
        actor=owner,
        data={"name": "Bigger deal", "competitor": "Rival Ltd", "expected_close": datetime.date(2031, 1, 31)},
        expected_version=1,
    )
    assert sorted(changed) == ["competitor", "expected_close", "name"]
    deal.refresh_from_db()
    assert (deal.name, deal.version) == ("Bigger deal", 2)
    with pytest.raises(services.OpportunityConflict) as conflict:
        services.opportunity_update(opportunity=deal, actor=teammate, data={"name": "Stale"}, expected_version=1)
    assert conflict.value.current.name == "Bigger deal"
    deal.refresh_from_db()
    assert deal.name == "Bigger deal"


def test_an_update_that_changes_nothing_keeps_the_version(deal, owner):
    assert (
        services.opportunity_update(opportunity=deal, actor=owner, data={"name": deal.name}, expected_version=1) == []
    )
    deal.refresh_from_db()
    assert deal.version == 1


def test_a_move_makes_an_open_edit_form_stale(deal, owner):
    services.opportunity_move(opportunity=deal, stage=default_stage("Qualification"), actor=owner)
    with pytest.raises(services.OpportunityConflict):
        services.opportunity_update(opportunity=deal, actor=owner, data={"name": "x"}, expected_version=1)


def test_update_replaces_the_products_and_their_total_becomes_the_amount(deal, owner):
    product = ProductFactory(unit_price=Decimal("250.00"))
    changed = services.opportunity_update(
        opportunity=deal,
        actor=owner,
        data={},
        expected_version=1,
        lines=[services.OpportunityLineDraft(product=product, quantity=Decimal("4"))],
    )
    assert set(changed) == {"lines", "amount"}
    deal.refresh_from_db()
    assert deal.amount == Decimal("1000.00")
    assert list(deal.lines.values_list("product_id", "quantity")) == [(product.pk, Decimal("4"))]
