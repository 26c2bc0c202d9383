"""The public survey page: every token state, one answer per link, low scores start service recovery."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Task
from service.models import DIMENSIONS, SurveyInvitation, SurveyResponse, SurveyRule, Ticket, TicketEvent
from service.services import surveys
from service.survey_panels import register_survey_panels
from tests.factories import CustomerFactory, UserFactory
from tests.sales.factories import OrderFactory
from tests.service.factories import TicketFactory

pytestmark = pytest.mark.django_db


def make_invitation(*, ticket=None, order=None, expires_in=datetime.timedelta(days=10), **kwargs):
    customer = (ticket or order).customer if (ticket or order) else CustomerFactory()
    return SurveyInvitation.objects.create(
        token=f"tok-{SurveyInvitation.objects.count()}-abcdefghijklmnop",
        customer=customer,
        ticket=ticket,
        order=order,
        email=customer.email or "x@example.com",
        sent_at=timezone.now(),
        expires_at=timezone.now() + expires_in,
        **kwargs,
    )


def answers(*, overall=4, recommend=9, comment="Quick and friendly."):
    data = {f"{dim}_{side}": 5 for dim in DIMENSIONS for side in ("expected", "perceived")}
    data["reliability_perceived"] = 3
    data.update(overall_satisfaction=overall, likelihood_to_recommend=recommend, comment=comment)
    return data


@pytest.fixture(autouse=True)
def _company(settings):
    settings.CRM_COMPANY_NAME = "Acme Service Co"


@pytest.fixture
def agent(db):
    return UserFactory(username="fixer", roles=["service agent"])


@pytest.fixture
def ticket(agent):
    return TicketFactory(
        subject="Blender arrived broken",
        type=Ticket.Type.COMPLAINT,
        status=Ticket.Status.CLOSED,
        closed_at=timezone.now(),
        assignee=agent,
    )


def url(invitation_or_token):
    token = getattr(invitation_or_token, "token", invitation_or_token)
    return reverse("survey:answer", kwargs={"token": token})


def test_the_page_names_the_company_and_the_ticket_and_asks_every_question(client, ticket):
    invitation = make_invitation(ticket=ticket)
    response = client.get(url(invitation))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme Service Co" in page and ticket.number in page and "Blender arrived broken" in page
    for dim in DIMENSIONS:
        for side in ("expected", "perceived"):
            assert page.count(f'name="{dim}_{side}"') == 7
    assert page.count('name="overall_satisfaction"') == 5
    assert page.count('name="likelihood_to_recommend"') == 11
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_page_names_the_order(client):
    order = OrderFactory(number="SO-2026-000777", ordered_at=datetime.date(2026, 2, 3))
    response = client.get(url(make_invitation(order=order)))
    assert "SO-2026-000777" in response.content.decode() and "2026-02-03" in response.content.decode()


def test_answering_saves_the_response_once(client, ticket):
    invitation = make_invitation(ticket=ticket)
    response = client.post(url(invitation), answers())
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    saved = SurveyResponse.objects.get()
    assert (saved.customer, saved.ticket, saved.reliability_perceived, saved.likelihood_to_recommend) == (
        ticket.customer,
        ticket,
        3,
        9,
    )
    invitation.refresh_from_db()
    assert invitation.responded_at is not None
    # The link is used: a second answer is refused with a friendly page, and nothing changes.
    again = client.post(url(invitation), answers(overall=1))
    assert again.status_code == 200
    assert "already answered" in again.content.decode()
    assert SurveyResponse.objects.get().overall_satisfaction == 4
    assert client.get(url(invitation)).status_code == 200


def test_a_good_score_adds_the_answer_to_the_ticket_timeline_without_a_task(client, ticket):
    client.post(url(make_invitation(ticket=ticket)), answers())
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.kind == TicketEvent.Kind.SURVEY and "4/5" in event.body
    assert not Task.objects.exists()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED


def test_a_low_score_opens_a_recovery_task_for_the_assignee_and_an_event(client, ticket, agent):
    client.post(url(make_invitation(ticket=ticket)), answers(overall=2, recommend=8, comment="Nobody called back"))
    task = Task.objects.get()
    assert (task.owner, task.customer, task.source) == (agent, ticket.customer, "survey")
    assert ticket.number in task.title and "Nobody called back" in task.notes
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.SURVEY)
    assert event.to_value == "low"


def test_a_low_recommendation_alone_is_low_too(client, ticket):
    rule = SurveyRule.objects.get_or_create(pk=1)[0]
    client.post(url(make_invitation(ticket=ticket)), answers(overall=5, recommend=rule.low_recommend))
    assert Task.objects.count() == 1


def test_a_low_score_on_an_order_goes_to_the_order_owner(client):
    order = OrderFactory()
    client.post(url(make_invitation(order=order)), answers(overall=1, recommend=2))
    task = Task.objects.get()
    assert task.owner == order.owner and order.number in task.title
    assert not TicketEvent.objects.exists()


def test_missing_answers_show_the_form_again(client, ticket):
    data = answers()
    del data["empathy_expected"]
    response = client.post(url(make_invitation(ticket=ticket)), data)
    assert response.status_code == 200
    assert "Please pick a number." in response.content.decode()
    assert not SurveyResponse.objects.exists()


def test_out_of_range_answers_are_refused(client, ticket):
    response = client.post(url(make_invitation(ticket=ticket)), answers(recommend=11))
    assert not SurveyResponse.objects.exists()
    assert response.status_code == 200


def test_an_expired_link_gets_a_friendly_410(client, ticket):
    invitation = make_invitation(ticket=ticket, expires_in=datetime.timedelta(seconds=-1))
    response = client.get(url(invitation))
    assert response.status_code == 410
    assert "has closed" in response.content.decode()
    assert client.post(url(invitation), answers()).status_code == 410
    assert not SurveyResponse.objects.exists()


def test_an_unknown_link_gets_a_friendly_404(client):
    response = client.get(url("no-such-token"))
    assert response.status_code == 404
    assert "could not find this survey" in response.content.decode()


def test_the_page_needs_no_login_but_checks_csrf(ticket):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    invitation = make_invitation(ticket=ticket)
    assert strict.post(url(invitation), answers()).status_code == 403
    assert not SurveyResponse.objects.exists()


def test_requests_are_rate_limited_per_address(client, settings):
    settings.CRM_SURVEY_RATE_LIMIT = 5
    for _n in range(5):
        assert client.get(url("guess")).status_code == 404
    limited = client.get(url("guess"))
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    # Another address is not affected.
    assert client.get(url("guess"), REMOTE_ADDR="10.0.0.9").status_code == 404


def test_recording_twice_raises_survey_closed(ticket):
    invitation = make_invitation(ticket=ticket)
    surveys.survey_record_response(invitation=invitation, answers=answers())
    with pytest.raises(surveys.SurveyClosed):
        surveys.survey_record_response(invitation=invitation, answers=answers())
    assert SurveyResponse.objects.count() == 1


# Where the answers show ---------------------------------------------------------------------------


def test_the_360_panel_shows_the_customers_answers(login, manager, ticket, client, django_assert_max_num_queries):
    register_survey_panels()
    for _n in range(3):
        other = TicketFactory(customer=ticket.customer, status=Ticket.Status.CLOSED)
        surveys.survey_record_response(invitation=make_invitation(ticket=other), answers=answers(recommend=10))
    surveys.survey_record_response(invitation=make_invitation(ticket=ticket), answers=answers(comment="Loved it"))
    login(manager)
    response = client.get(ticket.customer.get_absolute_url())
    page = response.content.decode()
    assert "Survey responses" in page and "Loved it" in page and ticket.number in page
    assert "NPS 100" in page  # four promoters, no detractors
    from service.survey_panels import survey_responses

    with django_assert_max_num_queries(3):
        survey_responses(None, ticket.customer)


def test_the_partial_lists_gaps_per_dimension(ticket):
    from django.template.loader import render_to_string

    surveys.survey_record_response(invitation=make_invitation(ticket=ticket), answers=answers())
    rows = surveys.response_summaries(ticket.survey_responses.all())
    html = render_to_string("service/partials/survey_response.html", {"survey_responses": rows})
    assert rows[0]["dimensions"][1]["gap"] == -2  # reliability: expected 5, got 3
    assert "-2" in html and "Promoter" in html
