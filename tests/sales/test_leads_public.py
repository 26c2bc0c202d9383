"""The public lead-capture form: no login, CSRF on, honeypot, rate limit per address, routing."""

import pytest
from django.test import Client
from django.urls import reverse

from customers import roles
from customers.models import Task
from sales.models import Lead, LeadRouting
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Chen Jing",
    "company": "Riverside Bakery",
    "phone": "+86 137 0000 1111",
    "email": "chen@example.com",
    "message": "We need 40 ovens.",
    "consent": "on",
}


def submit(client, data=None, ip="203.0.113.7"):
    return client.post(reverse("lead_capture:form"), data or FORM, REMOTE_ADDR=ip)


def test_anonymous_visitor_sees_the_form_with_csrf(client):
    response = client.get("/leads/new/")
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.content.decode()


def test_form_refuses_a_post_without_csrf_token():
    response = Client(enforce_csrf_checks=True).post(reverse("lead_capture:form"), FORM)
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_a_submitted_lead_lands_unassigned_and_the_visitor_is_thanked(client):
    response = submit(client)

    assert response.status_code == 302 and response["Location"] == reverse("lead_capture:thanks")
    lead = Lead.objects.get()
    assert (lead.name, lead.company, lead.owner, lead.from_web_form) == ("Chen Jing", "Riverside Bakery", None, True)
    assert lead.source == "website" and lead.status == Lead.Status.NEW
    assert client.get(response["Location"]).status_code == 200


def test_consent_and_a_way_to_reach_are_required(client):
    response = submit(client, {**FORM, "consent": "", "phone": "", "email": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"consent", "phone"}
    assert not Lead.objects.exists()


def test_a_filled_honeypot_is_thanked_but_stores_nothing(client):
    response = submit(client, {**FORM, "website": "http://spam.example"})
    assert response.status_code == 302 and response["Location"] == reverse("lead_capture:thanks")
    assert not Lead.objects.exists()


def test_more_than_five_submissions_from_one_address_get_429(client):
    for n in range(5):
        assert submit(client, {**FORM, "email": f"v{n}@example.com"}).status_code == 302

    blocked = submit(client)

    assert blocked.status_code == 429
    assert "Too many requests" in blocked.content.decode()
    assert Lead.objects.count() == 5
    # Another address is not affected.
    assert submit(client, ip="198.51.100.9").status_code == 302
    assert Lead.objects.count() == 6


def test_round_robin_gives_web_leads_to_reps_in_turn_with_a_task(client):
    first, second = sorted((UserFactory(roles=[roles.SALES_REP]) for _ in range(2)), key=lambda u: u.pk)
    routing = LeadRouting.objects.get_or_create(pk=1)[0]
    routing.mode = LeadRouting.Mode.ROUND_ROBIN
    routing.save()
    routing.reps.set([second, first])

    for n in range(3):
        submit(client, {**FORM, "email": f"v{n}@example.com"})

    assert [lead.owner for lead in Lead.objects.order_by("pk")] == [first, second, first]
    assert list(Task.objects.filter(source="lead").values_list("owner", flat=True).order_by("pk")) == [
        first.pk,
        second.pk,
        first.pk,
    ]


def test_phone_layout_has_no_sideways_scroll_markup(client):
    # The form uses the plain layout and full-width controls: nothing wider than the phone.
    body = client.get(reverse("lead_capture:form")).content.decode()
    assert 'name="viewport"' in body
    assert "w-100" in body
