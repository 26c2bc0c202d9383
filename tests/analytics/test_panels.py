"""The analytics panels of the customer 360 page: grade history and state changes."""

import datetime

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from analytics import panels
from analytics.models import GradingRule, RfmSegment, RunStatus, StateTransition
from tests.analytics.factories import CustomerGradeFactory, GradingRunFactory, default_rule
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def month_end(index: int) -> datetime.date:
    """The last day of the index-th month of 2025 onwards (0 = January 2025)."""
    year, month = 2025 + (index + 1) // 12, (index + 1) % 12 + 1
    return datetime.date(year, month, 1) - datetime.timedelta(days=1)


def panels_of(response):
    return {panel["key"]: panel["context"] for column in response.context["panels"].values() for panel in column}


@pytest.fixture
def customer(owner):
    return CustomerFactory(name="History Co", owner=owner)


def add_history(customer, runs: int):
    """A grade of `customer` in each of `runs` monthly runs; the RFM code counts the months up."""
    grades = []
    for index in range(runs):
        run = GradingRunFactory(as_of=month_end(index))
        grades.append(
            CustomerGradeFactory(
                run=run,
                customer=customer,
                rfm_code=f"{index % 5 + 1}{index % 5 + 1}1",
                segment="at_risk" if index % 2 else "champions",
                tier="vip" if index % 2 else "key",
                state="loyal",
                lifecycle_stage="stability",
                p_alive=0.5 + index / 100,
                clv=1000 + index,
            )
        )
    return grades


def test_grade_history_shows_the_last_twelve_succeeded_runs_newest_first(login, owner, customer):
    grades = add_history(customer, 14)
    failed = GradingRunFactory(as_of=datetime.date(2026, 12, 31), status=RunStatus.FAILED)
    CustomerGradeFactory(run=failed, customer=customer, rfm_code="999")
    CustomerGradeFactory(run=grades[-1].run, customer=CustomerFactory(owner=owner), rfm_code="888")

    response = login(owner).get(customer.get_absolute_url())

    rows = panels_of(response)["grade_history"]["rows"]
    assert [row["grade"].run.as_of for row in rows] == [month_end(index) for index in range(13, 1, -1)]
    assert rows[0]["segment"] == "At risk"  # index 13: odd
    assert rows[1]["segment"] == "Champions"
    html = response.content.decode()
    assert "Grade history" in html
    newest = html.split('data-as-of="2026-02-28"', 1)[1].split("</tr>", 1)[0]
    assert "441" in newest and "At risk" in newest and "VIP" in newest and "Loyal" in newest
    assert "Stability" in newest and "0.63" in newest and "1,013.00" in newest
    assert "999" not in html and "888" not in html
    assert 'data-as-of="2025-01-31"' not in html  # the thirteenth and fourteenth runs back


def test_segment_names_follow_each_runs_rule(login, owner, customer):
    (grade,) = add_history(customer, 1)
    grade.run.rule.segments.filter(key="champions").update(name="Our best")

    rows = panels_of(login(owner).get(customer.get_absolute_url()))["grade_history"]["rows"]

    assert rows[0]["segment"] == "Our best"


def test_state_changes_newest_first_with_won_back_marked(login, owner, customer):
    runs = [GradingRunFactory(as_of=month_end(index)) for index in range(3)]
    steps = [("first_time", "repeat"), ("repeat", "lost"), ("lost", "repeat")]
    for run, (source, target) in zip(runs, steps, strict=True):
        StateTransition.objects.create(run=run, customer=customer, as_of=run.as_of, from_state=source, to_state=target)
    StateTransition.objects.create(
        run=runs[0], customer=CustomerFactory(owner=owner), as_of=runs[0].as_of, from_state="loyal", to_state="lost"
    )

    response = login(owner).get(customer.get_absolute_url())

    changes = panels_of(response)["state_changes"]["transitions"]
    assert [(c.from_state, c.to_state) for c in changes] == list(reversed(steps))
    html = response.content.decode()
    panel = html.split('id="panel-state_changes"', 1)[1].split("</section>", 1)[0]
    assert panel.count("won-back") == 1
    won_back = panel.split('data-as-of="2025-03-31"', 1)[1].split("</li>", 1)[0]
    assert "Lost" in won_back and "Repeat" in won_back and "won back" in won_back


def test_marketer_reads_the_panels(login, marketer, customer):
    add_history(customer, 2)
    response = login(marketer).get(customer.get_absolute_url())
    assert len(panels_of(response)["grade_history"]["rows"]) == 2


def test_service_agent_sees_nothing_of_the_panels(login, service_agent, customer):
    add_history(customer, 2)
    StateTransition.objects.create(
        run=GradingRunFactory(as_of=datetime.date(2026, 3, 31)),
        customer=customer,
        as_of=datetime.date(2026, 3, 31),
        from_state="lost",
        to_state="repeat",
    )

    response = login(service_agent).get(customer.get_absolute_url())

    assert response.status_code == 200
    assert not {"grade_history", "state_changes"} & set(panels_of(response))
    html = response.content.decode()
    for text in ("Grade history", "State changes", "won back", "champions", "Champions", "2025-01-31"):
        assert text not in html
    assert 'id="panel-grade_history"' not in html and 'id="panel-state_changes"' not in html


def test_outsider_gets_404_on_the_customer(login, outsider, customer):
    add_history(customer, 1)
    assert login(outsider).get(customer.get_absolute_url()).status_code == 404


def test_panels_run_a_constant_number_of_queries(owner, customer):
    request = RequestFactory().get("/")
    request.user = owner
    panels.grade_history(request, customer)  # the user's roles are read once, then cached

    def queries(panel):
        with CaptureQueriesContext(connection) as context:
            panel(request, customer)
        return len(context.captured_queries)

    add_history(customer, 1)
    assert (queries(panels.grade_history), queries(panels.state_changes)) == (2, 1)
    older_rule = GradingRule.objects.create(name="Older rule", active=False)
    RfmSegment.objects.create(rule=older_rule, key="champions", name="Stars")
    for index in range(12, 30):
        # Every other run graded by another rule: still one query for every rule's segment names.
        rule = older_rule if index % 2 else default_rule()
        run = GradingRunFactory(as_of=month_end(index), rule=rule)
        CustomerGradeFactory(run=run, customer=customer, segment="champions")
        StateTransition.objects.create(
            run=run, customer=customer, as_of=run.as_of, from_state="lost", to_state="repeat"
        )
    assert (queries(panels.grade_history), queries(panels.state_changes)) == (2, 1)
    rows = panels.grade_history(request, customer)["rows"]
    assert [row["segment"] for row in rows[:2]] == ["Stars", "Champions"]  # months 29 (older rule) and 28


def test_customer_page_query_count_does_not_grow_with_history(login, owner, customer):
    client = login(owner)
    add_history(customer, 1)

    def count():
        with CaptureQueriesContext(connection) as context:
            assert client.get(customer.get_absolute_url()).status_code == 200
        return len(context.captured_queries)

    few = count()
    for index in range(1, 14):
        run = GradingRunFactory(as_of=month_end(index))
        CustomerGradeFactory(run=run, customer=customer)
        StateTransition.objects.create(
            run=run, customer=customer, as_of=run.as_of, from_state="lost", to_state="repeat"
        )
    assert count() == few
