"""Browser test: an agent takes a complaint, replies and resolves it, watching the timeline update."""

import pytest

from customers import roles
from service.models import Ticket
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory, UserFactory


@pytest.mark.browser
def test_agent_takes_a_complaint_replies_and_resolves(transactional_db, logged_in_page, mailoutbox):
    agent = UserFactory(username="agent1", roles=[roles.SERVICE_AGENT])
    customer = CustomerFactory(name="Harbour Bakery", email="bakery@example.com")
    page = logged_in_page(agent)

    page.goto(f"/service/tickets/create/?customer={customer.pk}")
    page.select_option("#id_type", "complaint")
    page.fill("#id_subject", "Oven arrived dented")
    page.fill("#id_description", "The door does not close.")
    page.get_by_role("button", name="Open ticket").click()
    ticket = Ticket.objects.get()
    expect(page).to_have_url(f"/service/tickets/{ticket.pk}/")
    expect(page.locator(".ticket-status")).to_have_text("New")
    expect(page.locator(".ticket-event")).to_have_count(1)

    page.fill("#id_reply_body", "Sorry about that: a technician comes tomorrow.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".ticket-event[data-kind=reply]")).to_contain_text("a technician comes tomorrow")
    expect(page.locator(".ticket-status")).to_have_text("In progress")

    page.fill("#id_status_note", "Door replaced on site.")
    page.get_by_role("button", name="Resolved").click()
    expect(page.locator(".ticket-status")).to_have_text("Resolved")
    expect(page.locator(".ticket-event").first).to_contain_text("Resolved")
    expect(page.get_by_text("Door replaced on site.").first).to_be_visible()

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED and ticket.first_responded_at is not None
    assert len(mailoutbox) == 1 and ticket.number in mailoutbox[0].subject
    assert console_problems(page) == []


@pytest.mark.browser
def test_queue_fits_a_phone(transactional_db, logged_in_page):
    agent = UserFactory(username="agent1", roles=[roles.SERVICE_AGENT])
    from tests.service.factories import TicketFactory

    TicketFactory.create_batch(5, assignee=agent, status=Ticket.Status.ASSIGNED)
    page = logged_in_page(agent, viewport=PHONE)
    page.goto("/service/tickets/")
    expect(page.locator(".ticket-row")).to_have_count(5)
    assert overflow_width(page) == 0
