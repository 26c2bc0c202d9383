"""A customer answers the satisfaction survey on a phone, in a real browser."""

import datetime

import pytest
from django.utils import timezone

from service.models import DIMENSIONS, SurveyInvitation, SurveyResponse, Ticket
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory
from tests.service.factories import TicketFactory


@pytest.mark.browser
def test_a_customer_answers_a_survey_on_a_phone(new_page, transactional_db, settings):
    settings.CRM_COMPANY_NAME = "Acme Service Co"
    customer = CustomerFactory(marketing_consent=True)
    ticket = TicketFactory(
        customer=customer, subject="Blender arrived broken", type=Ticket.Type.COMPLAINT, status=Ticket.Status.CLOSED
    )
    invitation = SurveyInvitation.objects.create(
        token="phone-token-0123456789abcdef",
        customer=customer,
        ticket=ticket,
        email=customer.email,
        sent_at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(days=14),
    )
    page = new_page(viewport=PHONE)
    page.goto(f"/survey/{invitation.token}/")
    expect(page.get_by_text("Acme Service Co")).to_be_visible()
    expect(page.get_by_text("Blender arrived broken")).to_be_visible()
    assert overflow_width(page) == 0, "the survey scrolls sideways on a phone"

    # Sending with nothing picked asks for the answers instead of failing.
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Please answer every question marked below.")).to_be_visible()

    def pick(name, value):
        # The number buttons are the labels that follow each radio.
        page.locator(f"input[name='{name}'][value='{value}'] + label").tap()

    for dim in DIMENSIONS:
        pick(f"{dim}_expected", 5)
        pick(f"{dim}_perceived", 5)
    pick("reliability_perceived", 2)  # changed their mind: one answer per question
    pick("overall_satisfaction", 4)
    pick("likelihood_to_recommend", 9)
    page.get_by_label("Anything else you would like to tell us?").fill("Fixed in a day, thanks.")
    assert overflow_width(page) == 0
    page.get_by_role("button", name="Send my answers").click()

    expect(page.get_by_role("heading", name="Thank you for your answers")).to_be_visible()
    response = SurveyResponse.objects.get()
    assert (response.reliability_expected, response.reliability_perceived, response.empathy_perceived) == (5, 2, 5)
    assert (response.overall_satisfaction, response.likelihood_to_recommend) == (4, 9)
    assert response.comment == "Fixed in a day, thanks."

    # Opening the link again says it was used, kindly.
    page.goto(f"/survey/{invitation.token}/")
    expect(page.get_by_role("heading", name="You have already answered this survey")).to_be_visible()
    assert console_problems(page) == []
