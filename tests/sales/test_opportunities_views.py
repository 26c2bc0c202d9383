"""Opportunity pages: who sees and changes what, the list's totals, create/edit, actions."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Task
from sales.models import Opportunity, Order, StageChange
from tests.factories import CustomerFactory, InteractionFactory
from tests.sales.factories import OpportunityFactory, ProductFactory, default_stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(owner):
    return OpportunityFactory(customer=CustomerFactory(owner=owner), name="Fleet deal", amount=Decimal("8000.00"))


def url(name, deal):
    return reverse(f"sales:{name}", args=[deal.pk])


def snapshot(deal):
    deal.refresh_from_db()
    return (deal.stage_id, deal.name, deal.version, deal.lost_reason, deal.stage_changes.count(), deal.orders.count())


# ---------------------------------------------------------------------------------------------
# Who sees what


def test_outsider_gets_404_on_every_opportunity_page_and_action(login, outsider, deal):
    client = login(outsider)
    before = snapshot(deal)
    assert client.get(url("opportunity_detail", deal)).status_code == 404
    assert client.get(url("opportunity_update", deal)).status_code == 404
    assert client.post(url("opportunity_update", deal), {"name": "Mine now", "version": 1}).status_code == 404
    assert client.post(url("opportunity_move", deal), {"stage": default_stage("Proposal").pk}).status_code == 404
    assert client.post(url("opportunity_mark_won", deal)).status_code == 404
    assert client.get(url("opportunity_mark_lost", deal)).status_code == 404
    assert client.post(url("opportunity_mark_lost", deal), {"reason": "gone"}).status_code == 404
    task = {"title": "x", "due_date": "2099-01-01", "owner": outsider.pk}
    assert client.post(url("opportunity_task_create", deal), task).status_code == 404
    assert snapshot(deal) == before
    assert not Task.objects.exists()
    assert deal.name not in client.get(reverse("sales:opportunity_list")).content.decode()
    assert deal.name not in client.get(reverse("sales:pipeline")).content.decode()


def test_manager_reads_but_cannot_move_or_edit(login, manager, deal):
    client = login(manager)
    before = snapshot(deal)
    page = client.get(url("opportunity_detail", deal))
    assert page.status_code == 200
    assert url("opportunity_move", deal) not in page.content.decode()
    assert client.post(url("opportunity_move", deal), {"stage": default_stage("Proposal").pk}).status_code == 403
    assert client.post(url("opportunity_mark_won", deal)).status_code == 403
    assert client.post(url("opportunity_mark_lost", deal), {"reason": "x"}).status_code == 403
    assert client.get(url("opportunity_update", deal)).status_code == 403
    assert snapshot(deal) == before
    board = client.get(reverse("sales:pipeline")).content.decode()
    assert "Fleet deal" in board
    assert "card-move-form" not in board
    assert "data-editable" not in board


def test_team_manager_can_move_a_team_members_opportunity(login, team_manager, deal):
    response = login(team_manager).post(url("opportunity_move", deal), {"stage": default_stage("Proposal").pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"


# ---------------------------------------------------------------------------------------------
# List


def _spread(owner, teammate):
    """Opportunities over stages, owners and close months, with awkward amounts and probabilities."""
    today = datetime.date(2030, 5, 15)
    stages = [default_stage(n) for n in ("Prospecting", "Qualification", "Proposal", "Negotiation", "Won", "Lost")]
    rows = []
    for index in range(45):
        stage = stages[index % len(stages)]
        rows.append(
            OpportunityFactory(
                customer=CustomerFactory(owner=owner if index % 3 else teammate),
                stage=stage,
                probability=(index * 7) % 101,
                amount=Decimal("1000.33") * (index + 1),
                expected_close=today + datetime.timedelta(days=index * 3),
            )
        )
    return rows


def test_list_totals_and_weighted_totals_follow_the_filters(login, owner, teammate, team_manager):
    rows = _spread(owner, teammate)
    client = login(team_manager)

    def expected(selection):
        amount = sum((o.amount for o in selection), Decimal(0))
        weighted = sum((o.amount * o.probability / 100 for o in selection), Decimal(0))
        return len(selection), amount.quantize(Decimal("0.01")), weighted.quantize(Decimal("0.01"))

    def shown(params):
        totals = client.get(reverse("sales:opportunity_list"), params).context["totals"]
        return totals["count"], totals["amount"], totals["weighted"]

    assert shown({}) == expected(rows)
    open_rows = [o for o in rows if not o.stage.is_closed]
    assert shown({"status": "open"}) == expected(open_rows)
    assert shown({"status": "open", "owner": teammate.pk}) == expected([o for o in open_rows if o.owner == teammate])
    may = [o for o in rows if o.expected_close.strftime("%Y-%m") == "2030-06"]
    assert shown({"month": "2030-06"}) == expected(may)
    stage = default_stage("Proposal")
    assert shown({"stage": stage.pk}) == expected([o for o in rows if o.stage == stage])
    assert shown({"q": rows[4].customer.name}) == expected([rows[4]])


def test_list_sorts_and_paginates(login, owner, teammate, team_manager):
    rows = _spread(owner, teammate)
    response = login(team_manager).get(reverse("sales:opportunity_list"), {"sort": "-amount", "per_page": 25})
    listed = list(response.context["opportunities"])
    assert len(listed) == 25
    assert [o.pk for o in listed] == [o.pk for o in sorted(rows, key=lambda o: -o.amount)][:25]
    assert response.context["paginator"].count == 45


def test_list_query_count_does_not_grow_with_rows(login, owner, teammate, team_manager, django_assert_max_num_queries):
    _spread(owner, teammate)
    client = login(team_manager)
    # Session, user, roles, permissions (menu), filter choices (3), totals, rows, session save.
    with django_assert_max_num_queries(14):
        response = client.get(reverse("sales:opportunity_list"), {"per_page": 100})
    assert len(response.context["opportunities"]) == 45


def test_list_exports_csv_of_the_filtered_set(login, owner, deal):
    OpportunityFactory(customer=CustomerFactory(owner=owner), name="=HYPERLINK(1)", stage=default_stage("Won"))
    response = login(owner).get(reverse("sales:opportunity_list"), {"export": "csv", "status": "won"})
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in body
    assert "Fleet deal" not in body


def test_htmx_filtering_returns_only_the_results(login, owner, deal):
    response = login(owner).get(
        reverse("sales:opportunity_list"), {"q": "Fleet"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="opportunity-results"
    )
    assert b"<html" not in response.content
    assert b"Fleet deal" in response.content


# ---------------------------------------------------------------------------------------------
# Detail, create, edit


def test_detail_shows_timeline_tasks_and_the_order_link(login, owner, deal):
    InteractionFactory(customer=deal.customer, actor=owner, subject="Demo visit")
    client = login(owner)
    client.post(url("opportunity_move", deal), {"stage": default_stage("Qualification").pk})
    client.post(
        url("opportunity_task_create", deal),
        {"title": "Send the proposal", "due_date": "2099-01-01", "owner": owner.pk},
    )
    task = Task.objects.get()
    assert (task.customer, task.source, task.owner) == (deal.customer, "opportunity", owner)
    client.post(url("opportunity_mark_won", deal))
    order = Order.objects.get(opportunity=deal)
    page = client.get(url("opportunity_detail", deal)).content.decode()
    assert "Demo visit" in page
    assert "Moved from Prospecting to Qualification" in page
    assert "Send the proposal" in page
    assert f'href="{order.get_absolute_url()}"' in page
    assert order.number in page


def test_follow_up_with_errors_shows_the_page_again(login, owner, deal):
    response = login(owner).post(url("opportunity_task_create", deal), {"title": "", "due_date": "2000-01-01"})
    assert response.status_code == 400
    assert not Task.objects.exists()


def test_create_preselects_the_customer_and_saves_products(login, owner):
    customer = CustomerFactory(owner=owner, name="Lotus Trading")
    product = ProductFactory(unit_price=Decimal("300.00"))
    client = login(owner)
    form = client.get(reverse("sales:opportunity_create"), {"customer": customer.pk}).context["form"]
    assert form.initial["customer_lookup"] == "Lotus Trading"
    data = {
        "name": "Lotus shelving",
        "customer_lookup": "Lotus Trading",
        "stage": default_stage("Qualification").pk,
        "owner": owner.pk,
        "amount": "0",
        "probability": "",
        "expected_close": "2030-03-31",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": product.pk,
        "lines-0-quantity": "7",
        "lines-0-unit_price": "",
        "lines-1-product": "",
        "lines-1-quantity": "1",
        "lines-1-unit_price": "",
    }
    response = client.post(reverse("sales:opportunity_create"), data)
    opportunity = Opportunity.objects.get(name="Lotus shelving")
    assert response.status_code == 302
    assert (opportunity.customer, opportunity.amount, opportunity.probability) == (customer, Decimal("2100.00"), 25)
    assert StageChange.objects.get(opportunity=opportunity).from_stage is None


def test_create_refuses_a_customer_the_rep_cannot_see(login, owner, outsider):
    CustomerFactory(owner=outsider, name="Hidden Co")
    data = {
        "name": "Steal",
        "customer_lookup": "Hidden Co",
        "stage": default_stage("Prospecting").pk,
        "owner": owner.pk,
        "amount": "10",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
    }
    response = login(owner).post(reverse("sales:opportunity_create"), data)
    assert response.status_code == 400
    assert not Opportunity.objects.exists()


def _edit_data(deal, **overrides):
    return {
        "version": deal.version,
        "name": deal.name,
        "customer_lookup": deal.customer.name,
        "owner": deal.owner_id,
        "amount": str(deal.amount),
        "probability": deal.probability,
        "expected_close": "2030-01-31",
        "next_step": "",
        "competitor": "",
        "notes": "",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
        **overrides,
    }


def test_edit_saves_and_a_stale_form_gets_a_conflict(login, owner, deal):
    client = login(owner)
    stale = _edit_data(deal, competitor="Rival")
    assert client.post(url("opportunity_update", deal), _edit_data(deal, next_step="Call the CFO")).status_code == 302
    deal.refresh_from_db()
    assert deal.next_step == "Call the CFO"
    response = client.post(url("opportunity_update", deal), stale)
    assert response.status_code == 409
    assert "Someone else saved this opportunity" in response.content.decode()
    deal.refresh_from_db()
    assert deal.competitor == ""


# ---------------------------------------------------------------------------------------------
# Actions


def test_move_without_javascript_redirects_and_records(login, owner, deal):
    response = login(owner).post(
        url("opportunity_move", deal), {"stage": default_stage("Proposal").pk, "next": "/sales/pipeline/"}
    )
    assert response.status_code == 302
    assert response.url == "/sales/pipeline/"
    assert deal.stage_changes.get().to_stage.name == "Proposal"


def test_move_to_lost_without_a_reason_asks_for_it(login, owner, deal):
    client = login(owner)
    response = client.post(url("opportunity_move", deal), {"stage": default_stage("Lost").pk})
    assert response.status_code == 302
    assert response.url.startswith(url("opportunity_mark_lost", deal))
    deal.refresh_from_db()
    assert deal.stage.name == "Prospecting"
    page = client.get(response.url)
    assert page.status_code == 200
    assert client.post(url("opportunity_mark_lost", deal), {"reason": "  "}).status_code == 400
    client.post(url("opportunity_mark_lost", deal), {"reason": "Chose a competitor"})
    deal.refresh_from_db()
    assert (deal.stage.name, deal.lost_reason) == ("Lost", "Chose a competitor")


def test_moving_to_won_from_the_move_form_makes_the_draft(login, owner, deal):
    login(owner).post(url("opportunity_move", deal), {"stage": default_stage("Won").pk})
    assert Order.objects.filter(opportunity=deal, status=Order.Status.DRAFT).count() == 1


def test_a_stage_of_another_pipeline_is_refused_by_the_view(login, owner, deal):
    from sales.models import Stage
    from tests.sales.factories import PipelineFactory

    foreign = Stage.objects.create(pipeline=PipelineFactory(), name="Elsewhere", position=1)
    before = snapshot(deal)
    login(owner).post(url("opportunity_move", deal), {"stage": foreign.pk})
    assert snapshot(deal) == before
