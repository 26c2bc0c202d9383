"""The kanban pipeline: columns, filters, card cap, moves through htmx, constant queries."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sales.models import Order, Stage
from sales.views.opportunities import CARDS_PER_STAGE, RECENTLY_CLOSED_DAYS
from tests.factories import CustomerFactory
from tests.sales.factories import OpportunityFactory, PipelineFactory, default_stage

pytestmark = pytest.mark.django_db

PIPELINE = "/sales/pipeline/"


def board(client, **params):
    response = client.get(reverse("sales:pipeline"), params)
    assert response.status_code == 200
    return {column["stage"].name: column for column in response.context["columns"]}, response


def _board_rows(owner, teammate):
    now = timezone.now()
    rows = []
    names = ("Prospecting", "Qualification", "Proposal", "Negotiation")
    for index in range(40):
        rows.append(
            OpportunityFactory(
                customer=CustomerFactory(owner=owner if index % 4 else teammate),
                stage=default_stage(names[index % 4]),
                amount=Decimal("1234.56") + index,
                expected_close=datetime.date(2030, 1 + index % 3, 10),
            )
        )
    # Closed recently: on the board; closed long ago: only in the list.
    rows.append(
        OpportunityFactory(
            customer=CustomerFactory(owner=owner),
            stage=default_stage("Won"),
            amount=Decimal("999.99"),
            closed_at=now - datetime.timedelta(days=3),
            expected_close=datetime.date(2030, 1, 5),
        )
    )
    rows.append(
        OpportunityFactory(
            customer=CustomerFactory(owner=owner),
            stage=default_stage("Lost"),
            lost_reason="Price",
            closed_at=now - datetime.timedelta(days=RECENTLY_CLOSED_DAYS + 10),
        )
    )
    return rows


def _expected(rows, *, owner=None, month=None):
    cutoff = timezone.now() - datetime.timedelta(days=RECENTLY_CLOSED_DAYS)
    shown = [
        o
        for o in rows
        if (not o.stage.is_closed or o.closed_at >= cutoff)
        and (owner is None or o.owner == owner)
        and (month is None or (o.expected_close and o.expected_close.strftime("%Y-%m") == month))
    ]
    result = {}
    for o in shown:
        count, amount = result.get(o.stage.name, (0, Decimal(0)))
        result[o.stage.name] = (count + 1, amount + o.amount)
    return result


def _shown(columns):
    return {name: (c["count"], c["amount"]) for name, c in columns.items() if c["count"]}


def test_columns_count_and_sum_the_board(login, owner, teammate, team_manager):
    rows = _board_rows(owner, teammate)
    client = login(team_manager)
    columns, response = board(client)
    assert list(columns) == ["Prospecting", "Qualification", "Proposal", "Negotiation", "Won", "Lost"]
    assert _shown(columns) == _expected(rows)
    assert columns["Lost"]["count"] == 0  # closed long ago
    assert sum(len(c["cards"]) for c in columns.values()) == 41
    columns, _response = board(client, owner=teammate.pk)
    assert _shown(columns) == _expected(rows, owner=teammate)
    columns, _response = board(client, month="2030-02")
    assert _shown(columns) == _expected(rows, month="2030-02")


def test_a_rep_sees_only_their_own_cards(login, owner, teammate):
    rows = _board_rows(owner, teammate)
    columns, response = board(login(teammate))
    assert _shown(columns) == _expected([o for o in rows if o.owner == teammate])
    assert rows[1].name not in response.content.decode()


def test_columns_are_capped_with_a_link_to_the_rest(login, owner):
    customer = CustomerFactory(owner=owner)
    for _ in range(CARDS_PER_STAGE + 5):
        OpportunityFactory(customer=customer, stage=default_stage("Proposal"))
    columns, response = board(login(owner))
    proposal = columns["Proposal"]
    assert (proposal["count"], len(proposal["cards"]), proposal["more"]) == (CARDS_PER_STAGE + 5, CARDS_PER_STAGE, 5)
    assert "5 more" in response.content.decode()
    assert f"stage={default_stage('Proposal').pk}" in proposal["more_url"]


def test_the_board_takes_a_constant_number_of_queries(login, owner, teammate, team_manager):
    client = login(team_manager)
    OpportunityFactory(customer=CustomerFactory(owner=owner))
    client.get(reverse("sales:pipeline"))  # warm caches (content types, roles)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("sales:pipeline"))
    _board_rows(owner, teammate)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("sales:pipeline"))
    assert sum(len(c["cards"]) for c in response.context["columns"]) == 42
    assert len(many) == len(few)
    assert len(many) <= 14


def test_a_pipeline_is_chosen_when_there_are_several(login, owner):
    renewals = PipelineFactory(name="Renewals", position=5)
    due = Stage.objects.create(pipeline=renewals, name="Due", position=1, probability=60)
    OpportunityFactory(customer=CustomerFactory(owner=owner), stage=due, name="Renewal 2031")
    client = login(owner)
    columns, response = board(client)
    assert "Prospecting" in columns
    assert 'name="pipeline"' in response.content.decode()
    columns, response = board(client, pipeline=renewals.pk)
    assert list(columns) == ["Due"]
    assert "Renewal 2031" in response.content.decode()


def _htmx_move(client, opportunity, stage, *, next_path=PIPELINE, **extra):
    return client.post(
        reverse("sales:opportunity_move", args=[opportunity.pk]),
        {"stage": stage.pk, "board": "1", "next": next_path, **extra},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="pipeline-board",
    )


def test_htmx_move_answers_with_the_refreshed_board(login, owner):
    deal = OpportunityFactory(customer=CustomerFactory(owner=owner), amount=Decimal("500.00"))
    response = _htmx_move(login(owner), deal, default_stage("Negotiation"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="pipeline-board"')
    columns = {c["stage"].name: c for c in response.context["columns"]}
    assert (columns["Negotiation"]["count"], columns["Negotiation"]["amount"]) == (1, Decimal("500.00"))
    assert columns["Prospecting"]["count"] == 0
    deal.refresh_from_db()
    assert deal.stage.name == "Negotiation"


def test_htmx_move_keeps_the_boards_filters(login, owner, teammate, team_manager):
    mine = OpportunityFactory(customer=CustomerFactory(owner=owner))
    OpportunityFactory(customer=CustomerFactory(owner=teammate))
    response = _htmx_move(
        login(team_manager), mine, default_stage("Proposal"), next_path=f"{PIPELINE}?owner={owner.pk}"
    )
    assert response.context["board_count"] == 1


def test_htmx_drop_on_won_marks_won_and_links_the_draft(login, owner):
    deal = OpportunityFactory(customer=CustomerFactory(owner=owner))
    response = _htmx_move(login(owner), deal, default_stage("Won"))
    order = Order.objects.get(opportunity=deal)
    assert order.status == Order.Status.DRAFT
    assert order.get_absolute_url() in response.content.decode()


def test_htmx_drop_on_lost_needs_the_reason(login, owner):
    deal = OpportunityFactory(customer=CustomerFactory(owner=owner))
    client = login(owner)
    response = _htmx_move(client, deal, default_stage("Lost"))
    assert "Say why the opportunity was lost." in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage.name == "Prospecting"
    _htmx_move(client, deal, default_stage("Lost"), lost_reason="No budget this year")
    deal.refresh_from_db()
    assert (deal.stage.name, deal.lost_reason) == ("Lost", "No budget this year")


def test_outsider_cannot_move_from_the_board(login, owner, outsider):
    deal = OpportunityFactory(customer=CustomerFactory(owner=owner))
    assert _htmx_move(login(outsider), deal, default_stage("Won")).status_code == 404
    deal.refresh_from_db()
    assert deal.stage.name == "Prospecting"
    assert not Order.objects.exists()


def test_the_board_offers_a_move_form_on_each_card_for_reps(login, owner):
    deal = OpportunityFactory(customer=CustomerFactory(owner=owner))
    body = board(login(owner))[1].content.decode()
    assert f'action="{reverse("sales:opportunity_move", args=[deal.pk])}"' in body
    assert "data-editable" in body
