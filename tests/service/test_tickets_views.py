"""Ticket pages: who sees what, the queue, create, detail and the in-place actions, edits."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import roles
from service.models import Ticket, TicketEvent
from service.services import tickets as services
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tests.service.factories import SlaPolicyFactory, TicketFactory

pytestmark = pytest.mark.django_db
Status = Ticket.Status


@pytest.fixture
def agent(db):
    return UserFactory(username="agent1", roles=[roles.SERVICE_AGENT])


@pytest.fixture
def owned_ticket(owner, agent):
    """A ticket about one of `owner`'s customers, so sales reps outside owner's team cannot see it."""
    customer = CustomerFactory(owner=owner, email="shop@example.com")
    return services.ticket_create(actor=agent, customer=customer, subject="Broken screen", type="complaint")


ACTIONS = [
    ("service:ticket_set_status", {"status": "in_progress"}),
    ("service:ticket_assign", {"assignee": ""}),
    ("service:ticket_reply", {"body": "Hello"}),
    ("service:ticket_note", {"body": "Psst"}),
    ("service:ticket_set_priority", {"priority": "urgent"}),
    ("service:ticket_update", {"subject": "Hacked", "type": "inquiry", "channel": "phone", "version": 1}),
]


def test_outsider_gets_404_on_every_ticket_view_and_action(login, outsider, owned_ticket, mailoutbox):
    client = login(outsider)
    pk = owned_ticket.pk
    assert client.get(reverse("service:ticket_detail", args=[pk])).status_code == 404
    assert client.get(reverse("service:ticket_update", args=[pk])).status_code == 404
    for name, data in ACTIONS:
        assert client.post(reverse(name, args=[pk]), data).status_code == 404, name
        assert client.post(reverse(name, args=[pk]), data, HTTP_HX_REQUEST="true").status_code == 404, name
    customer_create = reverse("service:ticket_create") + f"?customer={owned_ticket.customer_id}"
    assert client.get(customer_create).status_code in (403, 404)
    list_page = client.get(reverse("service:ticket_list"), {"tab": "all", "status": "any"})
    assert owned_ticket.number not in list_page.content.decode()
    owned_ticket.refresh_from_db()
    assert owned_ticket.subject == "Broken screen" and owned_ticket.priority == "normal"
    assert owned_ticket.events.count() == 1 and not mailoutbox


def test_owner_can_read_the_ticket_but_not_work_it(login, owner, owned_ticket):
    client = login(owner)
    assert client.get(reverse("service:ticket_detail", args=[owned_ticket.pk])).status_code == 200
    response = client.post(reverse("service:ticket_note", args=[owned_ticket.pk]), {"body": "x"})
    assert response.status_code == 403


def test_agent_sees_own_team_and_unassigned_tickets_only(login, agent):
    teammate = UserFactory(roles=[roles.SERVICE_AGENT])
    stranger = UserFactory(roles=[roles.SERVICE_AGENT])
    team = TeamFactory(members=[agent, teammate])
    mine = TicketFactory(assignee=agent, status=Status.ASSIGNED)
    teams = TicketFactory(assignee=teammate, team=team, status=Status.ASSIGNED)
    unassigned = TicketFactory()
    other = TicketFactory(assignee=stranger, status=Status.ASSIGNED)
    client = login(agent)
    page = client.get(reverse("service:ticket_list"), {"tab": "all"}).content.decode()
    for ticket in (mine, teams, unassigned):
        assert ticket.number in page
    assert other.number not in page
    assert client.get(reverse("service:ticket_detail", args=[other.pk])).status_code == 404
    assert client.post(reverse("service:ticket_note", args=[other.pk]), {"body": "x"}).status_code == 404
    my_tab = client.get(reverse("service:ticket_list"), {"tab": "mine"}).content.decode()
    assert mine.number in my_tab and teams.number not in my_tab and unassigned.number not in my_tab
    team_tab = client.get(reverse("service:ticket_list"), {"tab": "team"}).content.decode()
    assert teams.number in team_tab and unassigned.number not in team_tab
    free_tab = client.get(reverse("service:ticket_list"), {"tab": "unassigned"}).content.decode()
    assert unassigned.number in free_tab and mine.number not in free_tab


def test_queue_breaching_tab_highlights_and_counts(login, manager):
    now = timezone.now()
    late = TicketFactory(resolution_due=now - datetime.timedelta(hours=1))
    fine = TicketFactory(resolution_due=now + datetime.timedelta(days=1))
    TicketFactory.create_batch(2, status=Status.CLOSED)
    client = login(manager)
    response = client.get(reverse("service:ticket_list"), {"tab": "all"})
    page = response.content.decode()
    assert 'data-sla="breached"' in page and late.number in page and fine.number in page
    summary = {s["code"]: s["count"] for s in response.context["status_summary"]}
    assert summary["new"] == 2 and summary["closed"] == 2
    assert [t.number for t in response.context["tickets"]] == [late.number, fine.number]
    breaching = client.get(reverse("service:ticket_list"), {"tab": "breaching"}).content.decode()
    assert late.number in breaching and fine.number not in breaching


def test_huge_status_counts_are_capped_and_say_so(login, manager, monkeypatch):
    """Above the cap a status count reads "N+" and the total "more than": counting 200,000 tickets
    exactly on every page view is what made the queue slow."""
    from service.views import tickets as queue

    monkeypatch.setattr(queue, "COUNT_CAP", 2)
    TicketFactory.create_batch(3)  # new
    TicketFactory(status=Status.CLOSED)
    response = login(manager).get(reverse("service:ticket_list"), {"tab": "all", "status": "any"})
    page = response.content.decode()
    summary = {s["code"]: s["count"] for s in response.context["status_summary"]}
    assert summary["closed"] == 1  # below the cap: exact
    assert "More than 3 tickets" in page  # 2 (capped new) + 1 closed
    assert "2+" in page


def test_queue_search_and_filters(login, manager):
    acme = CustomerFactory(name="Acme Trading")
    hit = TicketFactory(customer=acme, subject="Wrong colour", type="complaint", priority="high")
    miss = TicketFactory(subject="Invoice copy")
    client = login(manager)
    page = client.get(reverse("service:ticket_list"), {"tab": "all", "q": "acme"}).content.decode()
    assert hit.number in page and miss.number not in page
    page = client.get(reverse("service:ticket_list"), {"tab": "all", "type": "complaint", "priority": "high"})
    assert list(page.context["tickets"]) == [hit]
    page = client.get(reverse("service:ticket_list"), {"tab": "all", "q": hit.number})
    assert list(page.context["tickets"]) == [hit]
    page = client.get(reverse("service:ticket_list"), {"tab": "all", "customer": acme.pk})
    assert list(page.context["tickets"]) == [hit]


def test_queue_queries_do_not_grow_with_rows(login, agent, django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(5)
    for n in range(45):
        TicketFactory(customer=customers[n % 5], assignee=agent if n % 2 else None, status=Status.ASSIGNED)
    client = login(agent)
    client.get(reverse("service:ticket_list"))  # warm the session
    with django_assert_max_num_queries(14):
        response = client.get(reverse("service:ticket_list"), {"tab": "all", "sort": "priority"})
    assert len(response.context["tickets"]) == 25
    with django_assert_max_num_queries(14):
        client.get(
            reverse("service:ticket_list"), {"tab": "all"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ticket-results"
        )


def test_detail_queries_do_not_grow_with_events(login, agent, owned_ticket, django_assert_max_num_queries):
    for n in range(40):
        services.ticket_add_note(ticket=owned_ticket, actor=agent if n % 2 else None, body=f"note {n}")
    client = login(agent)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("service:ticket_detail", args=[owned_ticket.pk]))
    assert response.content.decode().count('data-kind="note"') == 40


def test_agent_creates_a_ticket_for_a_customer(login, agent):
    SlaPolicyFactory(priority="high", first_response_minutes=60, resolution_minutes=480)
    customer = CustomerFactory()
    client = login(agent)
    picker = client.get(reverse("service:ticket_create"), {"q": customer.name})
    assert customer.name in picker.content.decode()
    url = reverse("service:ticket_create") + f"?customer={customer.pk}"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"customer": customer.pk, "type": "complaint", "channel": "phone", "priority": "high", "subject": "Late"},
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response.url == ticket.get_absolute_url()
    assert ticket.customer == customer and ticket.created_by == agent and ticket.first_response_due is not None


def test_reply_posts_email_and_show_on_the_timeline(login, agent, owned_ticket, mailoutbox):
    client = login(agent)
    url = reverse("service:ticket_reply", args=[owned_ticket.pk])
    response = client.post(url, {"body": "A new screen is on its way."}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="ticket-work"' in page and "A new screen is on its way." in page and "Emailed" in page
    assert len(mailoutbox) == 1 and owned_ticket.number in mailoutbox[0].subject
    plain = client.post(url, {"body": "Second"})
    assert plain.status_code == 302 and len(mailoutbox) == 2


def test_status_buttons_move_the_ticket_and_refuse_bad_moves(login, agent, owned_ticket):
    client = login(agent)
    url = reverse("service:ticket_set_status", args=[owned_ticket.pk])
    refused = client.post(url, {"status": "closed"}, HTTP_HX_REQUEST="true")
    assert "cannot become" in refused.content.decode()
    owned_ticket.refresh_from_db()
    assert owned_ticket.status == Status.NEW
    client.post(url, {"status": "in_progress"})
    response = client.post(url, {"status": "resolved", "note": "Screen replaced"}, HTTP_HX_REQUEST="true")
    assert 'data-status="resolved"' in response.content.decode()
    owned_ticket.refresh_from_db()
    assert owned_ticket.status == Status.RESOLVED and owned_ticket.resolution == "Screen replaced"
    assert owned_ticket.events.filter(kind=TicketEvent.Kind.STATUS, actor=agent).count() == 2


def test_assign_and_priority_actions(login, agent, owned_ticket):
    SlaPolicyFactory(priority="urgent", first_response_minutes=15, resolution_minutes=60)
    client = login(agent)
    client.post(reverse("service:ticket_assign", args=[owned_ticket.pk]), {"assignee": agent.pk})
    client.post(reverse("service:ticket_set_priority", args=[owned_ticket.pk]), {"priority": "urgent"})
    owned_ticket.refresh_from_db()
    assert owned_ticket.assignee == agent and owned_ticket.status == Status.ASSIGNED
    assert owned_ticket.resolution_due == owned_ticket.created_at + datetime.timedelta(minutes=60)


def test_manager_reads_but_cannot_act(login, manager, owned_ticket):
    client = login(manager)
    assert client.get(reverse("service:ticket_detail", args=[owned_ticket.pk])).status_code == 200
    assert client.post(reverse("service:ticket_note", args=[owned_ticket.pk]), {"body": "x"}).status_code == 403


def test_edit_records_complaint_fields_and_catches_conflicts(login, agent, owned_ticket):
    client = login(agent)
    url = reverse("service:ticket_update", args=[owned_ticket.pk])
    data = {
        "subject": "Broken screen",
        "type": "complaint",
        "channel": "phone",
        "root_cause": "Packaging too thin",
        "recovery_action": "replacement",
        "customer_attitude": "accepted",
        "version": 1,
    }
    assert client.post(url, data).status_code == 302
    owned_ticket.refresh_from_db()
    assert owned_ticket.root_cause == "Packaging too thin" and owned_ticket.version == 2
    stale = client.post(url, {**data, "root_cause": "Something else"})
    assert stale.status_code == 409 and "Someone else saved" in stale.content.decode()
    owned_ticket.refresh_from_db()
    assert owned_ticket.root_cause == "Packaging too thin"
    detail = client.get(reverse("service:ticket_detail", args=[owned_ticket.pk])).content.decode()
    assert "Packaging too thin" in detail and "Replacement" in detail


def test_tickets_panel_on_the_customer_page(login, agent, owned_ticket, django_assert_max_num_queries):
    client = login(agent)
    page = client.get(reverse("customers:detail", args=[owned_ticket.customer_id])).content.decode()
    assert owned_ticket.number in page and f"?customer={owned_ticket.customer_id}" in page
