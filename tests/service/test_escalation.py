"""The escalation job against the database with the clock set: once per level, reruns change nothing."""

import datetime

import pytest
import time_machine

from customers import roles
from customers.models import JobRun, Task
from service import tasks
from service.models import Ticket, TicketEvent
from service.services import sla
from service.services import tickets as services
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tests.service.factories import SlaPolicyFactory

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 3, 3, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture
def people(db, manager):
    agent = UserFactory(username="agent1", roles=[roles.SERVICE_AGENT])
    supervisor = UserFactory(username="super1", roles=[roles.SERVICE_SUPERVISOR])
    SlaPolicyFactory(priority="normal", first_response_minutes=60, resolution_minutes=240)
    return {"agent": agent, "supervisor": supervisor, "manager": manager}


def open_ticket(agent, **kwargs):
    return services.ticket_create(actor=agent, customer=CustomerFactory(), subject="Late parcel", now=T0, **kwargs)


def run_at(minutes):
    with time_machine.travel(T0 + datetime.timedelta(minutes=minutes), tick=False):
        return tasks.escalate_tickets()


def escalation_tasks():
    return Task.objects.filter(source="escalation")


def test_escalates_once_per_level_and_reruns_change_nothing(people):
    ticket = open_ticket(people["agent"])
    assert run_at(10)["supervisor"] == 0
    # 20% of the 60-minute first-response target is 12 minutes: at 50 minutes it is about to breach.
    assert run_at(50) == {"checked": 1, "supervisor": 1, "manager": 0}
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1
    assert list(escalation_tasks().values_list("owner__username", flat=True)) == ["super1"]
    event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
    assert event.to_value == "1" and event.created_at == T0 + datetime.timedelta(minutes=50)

    assert run_at(50)["supervisor"] == 0
    assert run_at(120) == {"checked": 0, "supervisor": 0, "manager": 0}
    assert escalation_tasks().count() == 1

    # The resolution (240 minutes) is overdue at 250: now the manager hears of it.
    assert run_at(250)["manager"] == 1
    ticket.refresh_from_db()
    assert ticket.escalation_level == 2
    assert sorted(escalation_tasks().values_list("owner__username", flat=True)) == ["manager", "super1"]
    assert run_at(250) == {"checked": 0, "supervisor": 0, "manager": 0}
    assert run_at(600)["manager"] == 0
    assert list(ticket.events.filter(kind="escalated").values_list("to_value", flat=True)) == ["1", "2"]
    assert escalation_tasks().count() == 2
    assert JobRun.objects.filter(job="escalate_tickets", status=JobRun.Status.SUCCEEDED).count() == 7


def test_level_two_only_after_level_one(people):
    ticket = open_ticket(people["agent"])
    # Found long after every due time: one level per run, supervisor first.
    assert run_at(500) == {"checked": 1, "supervisor": 1, "manager": 0}
    assert run_at(505)["manager"] == 1
    ticket.refresh_from_db()
    assert ticket.escalation_level == 2


def test_first_response_given_means_no_escalation_until_the_resolution_nears(people):
    ticket = open_ticket(people["agent"])
    with time_machine.travel(T0 + datetime.timedelta(minutes=20), tick=False):
        services.ticket_set_status(ticket=ticket, actor=people["agent"], status=Ticket.Status.IN_PROGRESS)
    assert run_at(70)["supervisor"] == 0
    # Resolution target 240 min: margin = min(48, 30) = 30 min, so at 215 it is about to breach.
    assert run_at(205)["supervisor"] == 0
    assert run_at(215)["supervisor"] == 1


def test_resolved_and_closed_tickets_are_not_escalated(people):
    ticket = open_ticket(people["agent"])
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.RESOLVED, resolved_at=T0)
    assert run_at(300) == {"checked": 0, "supervisor": 0, "manager": 0}
    assert not escalation_tasks().exists()


def test_team_manager_is_told_instead_of_every_supervisor(people):
    lead = UserFactory(username="servicelead", roles=[roles.SERVICE_SUPERVISOR])
    team = TeamFactory(manager=lead, members=[people["agent"]])
    open_ticket(people["agent"], team=team)
    run_at(55)
    assert list(escalation_tasks().values_list("owner__username", flat=True)) == ["servicelead"]


def test_selection_is_set_based(people, django_assert_max_num_queries):
    for _ in range(30):
        open_ticket(people["agent"])
    # Nothing due yet: the two candidate reads and the job-run record, whatever the number of open tickets.
    with time_machine.travel(T0 + datetime.timedelta(minutes=5), tick=False), django_assert_max_num_queries(3):
        assert sla.ticket_escalate_due()["checked"] == 0
