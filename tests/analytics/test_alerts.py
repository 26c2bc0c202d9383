"""Churn alerts: the list (filters, sorting, pagination, CSV), the page, the status workflow with conflict
detection, and who may do what."""

import csv
import datetime
import io
from decimal import Decimal

import factory
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from analytics.models import ChurnAlert
from analytics.services.alerts import AlertConflict, alert_set_status
from tests.factories import CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

LIST = reverse("analytics:alert_list")


class ChurnAlertFactory(factory.django.DjangoModelFactory):
    """An open alert with its win-back task, as the churn job opens them."""

    class Meta:
        model = ChurnAlert

    customer = factory.SubFactory(CustomerFactory)
    opened_on = datetime.date(2026, 6, 30)
    status = ChurnAlert.Status.OPEN
    reasons = factory.LazyFunction(lambda: [{"code": "silence", "days": 200, "limit": 150}])
    p_alive = 0.2
    value_at_risk = Decimal("1500")
    task = factory.LazyAttribute(
        lambda alert: (
            TaskFactory(customer=alert.customer, title="Win back", source="churn_alert")
            if alert.customer.owner
            else None
        )
    )


def detail_url(alert):
    return reverse("analytics:alert_detail", args=[alert.pk])


def status_url(alert):
    return reverse("analytics:alert_set_status", args=[alert.pk])


@pytest.fixture
def alert(owner):
    return ChurnAlertFactory(customer=CustomerFactory(owner=owner, name="Acme"))


# The list


@pytest.fixture
def alerts(owner, teammate, outsider):
    """Alerts of owner's, teammate's and outsider's customers in every status."""
    made = {
        "open": ChurnAlertFactory(
            customer=CustomerFactory(owner=owner, name="Open Ltd"),
            opened_on=datetime.date(2026, 6, 1),
            value_at_risk=Decimal("100"),
            p_alive=0.25,
        ),
        "contacted": ChurnAlertFactory(
            customer=CustomerFactory(owner=owner, name="Called Ltd"),
            status="contacted",
            opened_on=datetime.date(2026, 5, 1),
            value_at_risk=Decimal("3000"),
            p_alive=0.05,
        ),
        "won_back": ChurnAlertFactory(
            customer=CustomerFactory(owner=owner, name="Back Ltd"),
            status="won_back",
            opened_on=datetime.date(2026, 4, 1),
        ),
        "lost": ChurnAlertFactory(
            customer=CustomerFactory(owner=owner, name="Gone Ltd"), status="lost", opened_on=datetime.date(2026, 3, 1)
        ),
        "teammate": ChurnAlertFactory(
            customer=CustomerFactory(owner=teammate, name="Mate Ltd"),
            opened_on=datetime.date(2026, 6, 15),
            value_at_risk=Decimal("2000"),
            p_alive=None,
        ),
        "outsider": ChurnAlertFactory(
            customer=CustomerFactory(owner=outsider, name="Far Ltd"),
            opened_on=datetime.date(2026, 6, 20),
            value_at_risk=Decimal("500"),
            p_alive=0.1,
        ),
    }
    return made


def names(response) -> list[str]:
    return [alert.customer.name for alert in response.context["alerts"]]


def test_rep_sees_unresolved_alerts_of_their_own_customers(login, owner, alerts):
    response = login(owner).get(LIST)
    assert response.status_code == 200
    assert names(response) == ["Open Ltd", "Called Ltd"]
    html = response.content.decode()
    assert "No purchase for 200 days (limit 150 days)." in html
    assert 'name="owner"' not in html  # a rep has nobody else's alerts to filter by


def test_status_filter(login, owner, alerts):
    client = login(owner)
    assert names(client.get(LIST, {"status": "any"})) == ["Open Ltd", "Called Ltd", "Back Ltd", "Gone Ltd"]
    assert names(client.get(LIST, {"status": "lost"})) == ["Gone Ltd"]
    assert names(client.get(LIST, {"status": "contacted"})) == ["Called Ltd"]


def test_manager_sees_every_alert_and_filters_by_owner(login, manager, outsider, alerts):
    client = login(manager)
    assert names(client.get(LIST)) == ["Far Ltd", "Mate Ltd", "Open Ltd", "Called Ltd"]
    response = client.get(LIST, {"owner": outsider.pk})
    assert names(response) == ["Far Ltd"]
    assert 'name="owner"' in response.content.decode()


def test_team_manager_sees_the_team(login, team_manager, alerts):
    assert names(login(team_manager).get(LIST)) == ["Mate Ltd", "Open Ltd", "Called Ltd"]


def test_opened_date_range_and_name_search(login, manager, alerts):
    client = login(manager)
    response = client.get(LIST, {"status": "any", "opened_after": "2026-04-01", "opened_before": "2026-06-01"})
    assert names(response) == ["Open Ltd", "Called Ltd", "Back Ltd"]
    assert names(client.get(LIST, {"q": "mate"})) == ["Mate Ltd"]


def test_sorting(login, manager, alerts):
    client = login(manager)
    assert names(client.get(LIST, {"sort": "-value"})) == ["Called Ltd", "Mate Ltd", "Far Ltd", "Open Ltd"]
    # Lowest P(alive) first; an alert without one last.
    assert names(client.get(LIST, {"sort": "p_alive"})) == ["Called Ltd", "Far Ltd", "Open Ltd", "Mate Ltd"]
    assert names(client.get(LIST, {"sort": "opened"})) == ["Called Ltd", "Open Ltd", "Mate Ltd", "Far Ltd"]


def test_pagination(login, owner):
    for n in range(30):
        ChurnAlertFactory(
            customer=CustomerFactory(owner=owner), opened_on=datetime.date(2026, 1, 1) + datetime.timedelta(n)
        )
    client = login(owner)
    first = client.get(LIST)
    assert len(first.context["alerts"]) == 25
    assert first.context["paginator"].count == 30
    assert len(client.get(LIST, {"page": 2}).context["alerts"]) == 5


def test_empty_states(login, owner, alerts):
    client = login(owner)
    html = client.get(LIST, {"q": "nobody"}).content.decode()
    assert "No alert matches these filters." in html
    ChurnAlert.objects.all().delete()
    html = client.get(LIST).content.decode()
    assert "No unresolved churn alerts." in html


def test_list_runs_a_constant_number_of_queries(login, owner, manager, django_assert_max_num_queries):
    for _n in range(30):
        ChurnAlertFactory(customer=CustomerFactory(owner=owner), updated_by=owner)
    for user in (owner, manager):
        client = login(user)
        # Session, user, roles, count, page, owner choices, sidebar permissions ×2, session save ×3.
        with django_assert_max_num_queries(11):
            response = client.get(LIST)
        assert len(response.context["alerts"]) == 25


def test_csv_export_is_filtered_and_neutralised(login, owner, alerts):
    alerts["open"].customer.name = "=cmd|' /C calc'!A0"
    alerts["open"].customer.save()
    response = login(owner).get(LIST, {"status": "any", "export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Customer", "Account manager", "Status"]
    assert [row[0] for row in rows[1:]] == ["'=cmd|' /C calc'!A0", "Called Ltd", "Back Ltd", "Gone Ltd"]
    assert rows[2][2] == "Contacted" and rows[2][5] == "3000.00"


def test_service_agent_cannot_open_the_list(login, service_agent, alerts):
    assert login(service_agent).get(LIST).status_code == 404


# The alert's page


def test_owner_sees_the_alert_and_the_status_form(login, owner, alert):
    response = login(owner).get(detail_url(alert))
    assert response.status_code == 200
    html = response.content.decode()
    assert alert.customer.get_absolute_url() in html
    assert "No purchase for 200 days (limit 150 days)." in html
    assert 'id="alert-status-form"' in html
    assert 'data-task-state="open"' in html
    assert [code for code, _label in response.context["form"].fields["status"].choices] == [
        "contacted",
        "won_back",
        "lost",
    ]


def test_manager_reads_the_alert_without_a_form(login, manager, alert):
    response = login(manager).get(detail_url(alert))
    assert response.status_code == 200
    assert 'id="alert-status-form"' not in response.content.decode()
    assert 'id="alert-read-only"' in response.content.decode()


def test_outsider_and_service_agent_get_404(login, outsider, service_agent, alert):
    assert login(outsider).get(detail_url(alert)).status_code == 404
    assert login(service_agent).get(detail_url(alert)).status_code == 404


def test_detail_runs_a_constant_number_of_queries(login, owner, alert, django_assert_max_num_queries):
    client = login(owner)
    with django_assert_max_num_queries(11):
        assert client.get(detail_url(alert)).status_code == 200


# The status workflow


def post(client, alert, status, note="", version=None):
    return client.post(
        status_url(alert), {"status": status, "note": note, "version": alert.version if version is None else version}
    )


def test_contacted_then_won_back_closes_the_task(login, owner, alert):
    client = login(owner)
    response = post(client, alert, "contacted", "Called, will order next week")
    assert response.status_code == 302 and response.url == detail_url(alert)
    alert.refresh_from_db()
    assert alert.status == "contacted"
    assert alert.version == 2
    assert alert.updated_by == owner
    assert "Called, will order next week" in alert.note
    assert alert.closed_at is None
    assert alert.task.done is False
    response = post(client, alert, "won_back", "Ordered again")
    alert.refresh_from_db()
    alert.task.refresh_from_db()
    assert alert.status == "won_back"
    assert alert.closed_at is not None
    assert alert.task.done is True and alert.task.done_at is not None
    # Both notes are kept, newest first.
    assert alert.note.index("Ordered again") < alert.note.index("Called, will order next week")
    html = client.get(detail_url(alert)).content.decode()
    assert 'id="alert-status-form"' not in html
    assert 'data-task-state="done"' in html


def test_lost_requires_a_note(login, owner, alert):
    client = login(owner)
    response = post(client, alert, "lost", "  ")
    assert response.status_code == 400
    assert "Say why the customer is lost." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "open" and alert.version == 1
    response = post(client, alert, "lost", "Went to a competitor")
    alert.refresh_from_db()
    alert.task.refresh_from_db()
    assert alert.status == "lost" and alert.closed_at is not None and alert.task.done


def test_a_resolved_alert_cannot_change(login, owner, alert):
    alert_set_status(alert=alert, status="lost", note="Closed down", actor=owner, version=1)
    alert.refresh_from_db()
    response = post(login(owner), alert, "contacted")
    assert response.status_code == 400
    alert.refresh_from_db()
    assert alert.status == "lost"


def test_conflicting_edit_shows_the_form_again_and_loses_nothing(login, owner, teammate, team_manager, alert):
    stale_version = alert.version
    alert_set_status(alert=alert, status="contacted", note="Manager's call", actor=team_manager, version=stale_version)
    response = post(login(owner), alert, "lost", "My note about the loss", version=stale_version)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="alert-conflict"' in html
    assert "changed this alert" in html and "Contacted" in html
    form = response.context["form"]
    assert form.initial["note"] == "My note about the loss"
    assert form.initial["status"] == "lost"
    assert form.initial["version"] == 2
    assert "My note about the loss</textarea>" in html
    alert.refresh_from_db()
    assert alert.status == "contacted" and "My note about the loss" not in alert.note
    # Sent again from the re-rendered form, it goes through.
    assert post(login(owner), alert, "lost", "My note about the loss", version=2).status_code == 302
    alert.refresh_from_db()
    assert alert.status == "lost"


def test_conflict_on_an_alert_resolved_meanwhile_keeps_the_note_on_the_page(login, owner, team_manager, alert):
    alert_set_status(alert=alert, status="won_back", note="", actor=team_manager, version=1)
    response = post(login(owner), alert, "contacted", "Left a message", version=1)
    assert response.status_code == 409
    assert response.context["form"] is None
    assert 'id="conflict-note"' in response.content.decode()
    assert "Left a message" in response.content.decode()


def test_manager_cannot_change_an_alert(login, manager, alert):
    response = post(login(manager), alert, "contacted", "Hi")
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


def test_outsider_and_service_agent_get_404_when_posting(login, outsider, service_agent, alert):
    assert post(login(outsider), alert, "contacted").status_code == 404
    assert post(login(service_agent), alert, "contacted").status_code == 404
    alert.refresh_from_db()
    assert alert.status == "open"


def test_status_change_is_post_only(login, owner, alert):
    assert login(owner).get(status_url(alert)).status_code == 405


# The service


def test_service_detects_a_stale_version(owner, alert):
    alert_set_status(alert=alert, status="contacted", note="", actor=owner, version=1)
    with pytest.raises(AlertConflict) as raised:
        alert_set_status(alert=alert, status="lost", note="x", actor=owner, version=1)
    assert raised.value.current.status == "contacted"


def test_service_refuses_managers_and_bad_moves(owner, manager, alert):
    with pytest.raises(PermissionDenied):
        alert_set_status(alert=alert, status="contacted", note="", actor=manager, version=1)
    with pytest.raises(ValidationError):
        alert_set_status(alert=alert, status="lost", note="", actor=owner, version=1)
    with pytest.raises(ValidationError):
        alert_set_status(alert=alert, status="open", note="", actor=owner, version=1)
    alert.refresh_from_db()
    assert alert.status == "open" and alert.version == 1


def test_resolving_an_alert_without_a_task(owner):
    alert = ChurnAlertFactory(customer=CustomerFactory(owner=owner), task=None)
    changed = alert_set_status(alert=alert, status="won_back", note="", actor=owner, version=1)
    assert changed.status == "won_back" and changed.closed_at is not None


# In Chromium


@pytest.mark.browser
def test_rep_marks_an_alert_contacted_on_a_phone(logged_in_page, owner, alert):
    from tests.browser import PHONE, console_problems, expect, overflow_width

    page = logged_in_page(owner, viewport=PHONE)
    page.goto(LIST)
    page.get_by_role("link", name="Acme").click()
    expect(page.locator("#alert-reasons")).to_contain_text("No purchase for 200 days")
    assert overflow_width(page) == 0
    page.get_by_label("Contacted").check()
    page.get_by_label("Note").fill("Called the buyer")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success")).to_contain_text("Contacted")
    expect(page.locator("#alert-note")).to_contain_text("Called the buyer")
    assert overflow_width(page) == 0
    assert console_problems(page) == []
