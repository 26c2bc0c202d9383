"""Sales reports: each number against a hand-computed value on a small dataset, visibility by role."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from sales import reporting
from sales.models import Opportunity, Order, SalesTarget, StageChange
from tests.factories import CustomerFactory
from tests.sales.factories import OrderFactory, default_stage

pytestmark = pytest.mark.django_db

REPORTS = reverse("sales:reports")
Q2 = {"start": "2026-04-01", "end": "2026-06-30"}


def at(day: str) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time(12)))


def opportunity(owner, name, amount, path, *, probability=None, expected_close=None, closed_at=None):
    """An opportunity that moved through `path`: [(stage name, "YYYY-MM-DD"), …]; created on the first date."""
    stage = default_stage(path[-1][0])
    opp = Opportunity.objects.create(
        name=name,
        customer=CustomerFactory(owner=owner),
        owner=owner,
        pipeline=stage.pipeline,
        stage=stage,
        amount=Decimal(amount),
        probability=stage.probability if probability is None else probability,
        expected_close=datetime.date.fromisoformat(expected_close) if expected_close else None,
        closed_at=at(closed_at) if closed_at else None,
        created_at=at(path[0][1]),
    )
    previous = None
    for stage_name, day in path:
        to_stage = default_stage(stage_name)
        StageChange.objects.create(opportunity=opp, from_stage=previous, to_stage=to_stage, changed_at=at(day))
        previous = to_stage
    return opp


@pytest.fixture
def dataset(owner, teammate, outsider):
    """The hand-made data the expected numbers below were computed from (see each test)."""
    opportunity(
        owner,
        "A",
        "1000",
        [("Prospecting", "2026-04-02"), ("Qualification", "2026-04-05"), ("Proposal", "2026-04-09")],
        probability=50,
        expected_close="2026-06-15",
    )
    opportunity(
        owner,
        "B",
        "2000",
        [
            ("Prospecting", "2026-04-10"),
            ("Qualification", "2026-04-12"),
            ("Proposal", "2026-04-20"),
            ("Negotiation", "2026-05-01"),
            ("Won", "2026-05-10"),
        ],
    )
    opportunity(owner, "C", "500", [("Prospecting", "2026-04-03"), ("Lost", "2026-04-20")])
    opportunity(
        teammate, "D", "3000", [("Prospecting", "2026-04-01"), ("Qualification", "2026-04-15"), ("Won", "2026-06-01")]
    )
    # Created before the period, won in it (closed_at is what counts when set).
    opportunity(owner, "E", "700", [("Prospecting", "2026-03-01"), ("Won", "2026-04-20")], closed_at="2026-04-15")
    opportunity(outsider, "F", "9999", [("Prospecting", "2026-05-01"), ("Won", "2026-05-11")])
    # Open, created before the period: only the forecast sees them.
    opportunity(
        owner,
        "G",
        "4000",
        [("Prospecting", "2026-03-15"), ("Qualification", "2026-03-20")],
        probability=25,
        expected_close="2026-05-20",
    )
    opportunity(
        teammate,
        "H",
        "1000",
        [("Prospecting", "2026-03-15"), ("Negotiation", "2026-03-25")],
        probability=75,
        expected_close="2026-05-03",
    )
    opportunity(owner, "I", "5000", [("Prospecting", "2026-03-15")], probability=10, expected_close="2026-07-10")
    opportunity(outsider, "J", "8000", [("Prospecting", "2026-03-15")], probability=50, expected_close="2026-05-01")

    def order(rep, day, amount, status=Order.Status.CONFIRMED):
        OrderFactory(
            customer=CustomerFactory(owner=rep),
            owner=rep,
            ordered_at=datetime.date.fromisoformat(day),
            amount=Decimal(amount),
            status=status,
        )

    order(owner, "2026-04-05", "1500")
    order(owner, "2026-05-05", "2500", Order.Status.DELIVERED)
    order(owner, "2026-05-06", "999", Order.Status.CANCELLED)
    order(owner, "2026-05-07", "888", Order.Status.DRAFT)
    order(owner, "2026-07-01", "777")
    order(teammate, "2026-06-30", "1000")
    order(outsider, "2026-05-01", "5000")
    for rep, month, amount in [
        (owner, 4, "2000"),
        (owner, 5, "2000"),
        (owner, 6, "1000"),
        (owner, 7, "9999"),
        (teammate, 4, "1000"),
        (outsider, 5, "2500"),
    ]:
        SalesTarget.objects.create(rep=rep, month=datetime.date(2026, month, 1), amount=Decimal(amount))


def funnel_of(response):
    return [(s.name, s.count, s.amount, s.conversion) for s in response.context["report"].funnel]


D = Decimal


def test_team_manager_sees_the_teams_numbers(login, team_manager, dataset):
    report = login(team_manager).get(REPORTS, Q2).context["report"]
    # Created in Q2 by the team: A (reached Proposal), B (Won), C (only Prospecting; lost), D (Won, skipping two).
    assert [(s.name, s.count, s.amount, s.conversion) for s in report.funnel] == [
        ("Prospecting", 4, D("6500.00"), None),
        ("Qualification", 3, D("6000.00"), D("75.0")),
        ("Proposal", 3, D("6000.00"), D("100.0")),
        ("Negotiation", 2, D("5000.00"), D("66.7")),
        ("Won", 2, D("5000.00"), D("100.0")),
    ]
    # Closed in Q2: B, D, E won; C lost. Cycles 30, 61 and 45 days.
    assert (report.won, report.lost, report.won_amount) == (3, 1, D("5700.00"))
    assert report.win_rate == D("75.0")
    assert report.cycle_days == D("45.3")
    # Open, closing in Q2: H 1000 × 75% and G 4000 × 25% in May, A 1000 × 50% in June.
    assert report.forecast == [
        {"month": datetime.date(2026, 5, 1), "count": 2, "amount": D("5000.00"), "weighted": D("1750.00")},
        {"month": datetime.date(2026, 6, 1), "count": 1, "amount": D("1000.00"), "weighted": D("500.00")},
    ]
    # Orders confirmed/delivered in Q2 against the sum of April–June targets.
    board = [(r["name"], r["orders_amount"], r["won_amount"], r["target"], r["percent"]) for r in report.leaderboard]
    names = {r["rep"].username: r["name"] for r in report.leaderboard}
    assert board == [
        (names["teammate"], D("1000.00"), D("3000.00"), D("1000.00"), D("100.0")),
        (names["owner"], D("4000.00"), D("2700.00"), D("5000.00"), D("80.0")),
    ]


def test_rep_sees_only_their_own_numbers(login, owner, dataset):
    report = login(owner).get(REPORTS, Q2).context["report"]
    assert [(s.count, s.conversion) for s in report.funnel] == [
        (3, None),
        (2, D("66.7")),
        (2, D("100.0")),
        (1, D("50.0")),
        (1, D("100.0")),
    ]
    assert (report.won, report.lost, report.win_rate, report.cycle_days) == (2, 1, D("66.7"), D("37.5"))
    assert [r["rep"] for r in report.leaderboard] == [owner]


def test_manager_sees_everyone_and_filters_by_team_and_rep(login, manager, outsider, owner, dataset):
    client = login(manager)
    report = client.get(REPORTS, Q2).context["report"]
    # The team's three won plus F (10 days); cycles 30, 61, 45, 10.
    assert (report.won, report.lost, report.win_rate, report.cycle_days) == (4, 1, D("80.0"), D("36.5"))
    assert {r["rep"].username for r in report.leaderboard} == {"owner", "teammate", "outsider"}
    west = outsider.teams.get()
    by_team = client.get(REPORTS, {**Q2, "team": west.pk}).context["report"]
    assert [r["rep"] for r in by_team.leaderboard] == [outsider]
    assert by_team.won_amount == D("9999.00")
    by_rep = client.get(REPORTS, {**Q2, "rep": owner.pk, "measure": "won"}).context["report"]
    assert [(r["actual"], r["percent"]) for r in by_rep.leaderboard] == [(D("2700.00"), D("54.0"))]


def test_default_period_is_this_quarter(login, owner):
    response = login(owner).get(REPORTS)
    start, end = reporting.quarter_of(timezone.localdate())
    assert (response.context["filters"].start, response.context["filters"].end) == (start, end)


@pytest.mark.parametrize("persona", ["service_agent", "marketer"])
def test_other_roles_get_404_on_reports_and_targets(login, persona, request):
    client = login(request.getfixturevalue(persona))
    assert client.get(REPORTS).status_code == 404
    assert client.get(reverse("sales:target_list")).status_code == 404


def test_reports_run_a_constant_number_of_queries(login, manager, team_manager, dataset, django_assert_max_num_queries):
    for user in (manager, team_manager):
        client = login(user)
        with django_assert_max_num_queries(22):
            response = client.get(REPORTS, Q2)
        assert response.status_code == 200
        assert b"sales-report-data" in response.content


def test_csv_exports_each_table_safely(login, manager, owner, dataset):
    owner.first_name, owner.last_name = "=HYPERLINK(1)", ""
    owner.save()
    client = login(manager)
    for table, header in [("funnel", "Stage"), ("forecast", "Close month"), ("leaderboard", "Rep")]:
        response = client.get(REPORTS, {**Q2, "export": table})
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][0] == header
        assert len(rows) > 1
    leaderboard = client.get(REPORTS, {**Q2, "export": "leaderboard"}).content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in leaderboard


def test_pure_helpers():
    assert reporting.quarter_of(datetime.date(2026, 11, 23)) == (
        datetime.date(2026, 10, 1),
        datetime.date(2026, 12, 31),
    )
    assert reporting.months_between(datetime.date(2026, 11, 15), datetime.date(2027, 1, 2)) == [
        datetime.date(2026, 11, 1),
        datetime.date(2026, 12, 1),
        datetime.date(2027, 1, 1),
    ]
    assert reporting.percent(1, 3) == D("33.3")
    assert reporting.percent(1, 0) is None
    assert reporting.average_days(86400 * 3, 2) == D("1.5")
