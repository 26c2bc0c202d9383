"""The satisfaction dashboard: NPS and satisfaction by month, the service-quality gap, the
satisfaction–loyalty matrix and the customers of a quadrant. Every expected figure is worked out by
hand from the responses and grades each test writes."""

import csv
import datetime
import io
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.services.satisfaction import satisfaction_figures
from analytics.services.summaries import stored_figures, summaries_store
from analytics.views import satisfaction as views
from service.models import DIMENSIONS, SurveyInvitation, SurveyResponse
from tests.analytics.factories import ChurnModelRunFactory, CustomerGradeFactory, GradingRunFactory
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 3, 15)
URL = reverse("analytics:satisfaction")
CUSTOMERS_URL = reverse("analytics:satisfaction_customers")
_tokens = itertools.count()


def local(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    """An aware datetime on `day` in the site's time zone (the dashboard counts local days)."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone())


def respond(customer, when, *, overall=4, recommend=8, dims=None) -> SurveyResponse:
    """A survey answered at `when`; `dims` maps a dimension to (expected, perceived), default (5, 5)."""
    invitation = SurveyInvitation.objects.create(
        token=f"token-{next(_tokens)}",
        customer=customer,
        email="customer@example.com",
        created_at=when - datetime.timedelta(days=1),
        sent_at=when - datetime.timedelta(days=1),
        expires_at=when + datetime.timedelta(days=14),
        responded_at=when,
    )
    scores = dict.fromkeys(DIMENSIONS, (5, 5)) | (dims or {})
    return SurveyResponse.objects.create(
        invitation=invitation,
        customer=customer,
        answered_at=when,
        overall_satisfaction=overall,
        likelihood_to_recommend=recommend,
        **{f"{dim}_expected": scores[dim][0] for dim in DIMENSIONS},
        **{f"{dim}_perceived": scores[dim][1] for dim in DIMENSIONS},
    )


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def month_row(survey: dict, month: str) -> dict:
    return next(row for row in survey["monthly"] if row["month"] == month)


# --------------------------------------------------------------------------------------------
# NPS and mean satisfaction by month


@pytest.fixture
def monthly_responses(manager):
    customer = CustomerFactory()
    day = datetime.date
    respond(customer, local(day(2026, 3, 2)), overall=5, recommend=10)  # promoter
    respond(customer, local(day(2026, 3, 15), 23, 30), overall=2, recommend=3)  # detractor, late on the as-of day
    respond(customer, local(day(2026, 3, 16), 0, 10), overall=1, recommend=0)  # after the as-of date: ignored
    respond(customer, local(day(2026, 2, 10)), overall=4, recommend=8)  # passive
    respond(customer, local(day(2026, 2, 20)), overall=3, recommend=9)  # promoter
    respond(customer, local(day(2026, 2, 28)), overall=4, recommend=9)  # promoter
    respond(customer, local(day(2025, 4, 1), 0, 5), overall=5, recommend=7)  # passive, first day of the window
    respond(customer, local(day(2025, 3, 31), 23, 50), overall=1, recommend=1)  # the day before the window: ignored
    return customer


def test_monthly_nps_and_satisfaction(login, manager, monthly_responses):
    response = login(manager).get(URL, {"as_of": "2026-03-15"})

    assert response.status_code == 200
    survey = response.context["survey"]
    assert (survey["window_start"], survey["window_end"]) == ("2025-04-01", "2026-03-15")
    assert [row["month"] for row in survey["monthly"]] == [
        "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09",
        "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03",
    ]  # fmt: skip
    # March: one promoter, one detractor → NPS 50 − 50 = 0; satisfaction (5 + 2) / 2.
    march = month_row(survey, "2026-03")
    assert (march["responses"], march["promoters"], march["passives"], march["detractors"]) == (2, 1, 0, 1)
    assert march["nps"] == 0
    assert march["satisfaction"] == 3.5
    # February: two promoters, one passive → NPS 200/3 = 66.7; satisfaction 11/3 = 3.67.
    february = month_row(survey, "2026-02")
    assert (february["responses"], february["promoters"], february["passives"], february["detractors"]) == (3, 2, 1, 0)
    assert february["nps"] == 66.7
    assert february["satisfaction"] == 3.67
    # April 2025: one passive → NPS 0, satisfaction 5.
    april = month_row(survey, "2025-04")
    assert (april["responses"], april["nps"], april["satisfaction"]) == (1, 0, 5)
    january = month_row(survey, "2026-01")
    assert (january["responses"], january["nps"], january["satisfaction"]) == (0, None, None)
    # Twelve months: 3 promoters, 2 passives, 1 detractor of 6 → NPS (3 − 1) / 6 = 33.3; satisfaction 23/6 = 3.83.
    headline = survey["headline"]
    assert (headline["responses"], headline["promoters"], headline["passives"], headline["detractors"]) == (6, 3, 2, 1)
    assert headline["nps"] == 33.3
    assert headline["satisfaction"] == 3.83
    assert (headline["promoters_share"], headline["passives_share"], headline["detractors_share"]) == (50, 33.3, 16.7)
    html = response.content.decode()
    assert 'id="kpi-nps">33.3<' in html
    assert 'id="kpi-responses">6<' in html
    assert 'id="kpi-satisfaction">3.83 ' in html


def test_monthly_csv(login, manager, monthly_responses):
    rows = csv_rows(login(manager).get(URL, {"as_of": "2026-03-15", "export": "monthly"}))

    assert rows[0] == ["Month", "Responses", "NPS", "Mean satisfaction", "Promoters", "Passives", "Detractors"]
    assert len(rows) == 13
    assert rows[1] == ["2025-04", "1", "0.0", "5.0", "0", "1", "0"]
    assert rows[2] == ["2025-05", "0", "", "", "0", "0", "0"]
    assert rows[11] == ["2026-02", "3", "66.7", "3.67", "2", "1", "0"]
    assert rows[12] == ["2026-03", "2", "0.0", "3.5", "1", "0", "1"]


def test_without_as_of_the_page_is_as_of_the_latest_run(login, manager, monthly_responses):
    GradingRunFactory(as_of=AS_OF - datetime.timedelta(days=30))
    GradingRunFactory(as_of=AS_OF)

    response = login(manager).get(URL)

    # The run of 2026-03-15 is the latest: the response of 2026-03-16 stays out, as with ?as_of.
    assert response.context["as_of"] == AS_OF
    assert response.context["survey"]["headline"]["responses"] == 6
    assert response.context["matrix"] is not None


# --------------------------------------------------------------------------------------------
# The five-dimension gap


def test_gap_per_dimension(login, manager):
    customer = CustomerFactory()
    respond(
        customer,
        local(datetime.date(2026, 1, 5)),
        dims={
            "tangibles": (5, 6),
            "reliability": (7, 5),
            "responsiveness": (6, 6),
            "assurance": (4, 7),
            "empathy": (3, 2),
        },
    )
    respond(
        customer,
        local(datetime.date(2025, 9, 9)),
        dims={
            "tangibles": (6, 6),
            "reliability": (6, 4),
            "responsiveness": (5, 3),
            "assurance": (5, 6),
            "empathy": (4, 4),
        },
    )
    respond(
        customer,
        local(datetime.date(2026, 3, 15)),
        dims={
            "tangibles": (7, 4),
            "reliability": (7, 6),
            "responsiveness": (7, 7),
            "assurance": (6, 6),
            "empathy": (5, 5),
        },
    )
    # After the as-of date, and before the window: both would pull every gap far up.
    respond(customer, local(datetime.date(2026, 3, 20)), dims=dict.fromkeys(DIMENSIONS, (1, 7)))
    respond(customer, local(datetime.date(2025, 3, 1)), dims=dict.fromkeys(DIMENSIONS, (1, 7)))

    response = login(manager).get(URL, {"as_of": "2026-03-15"})

    gaps = {
        row["dimension"]: (row["expected"], row["perceived"], row["gap"]) for row in response.context["survey"]["gaps"]
    }
    assert gaps == {
        "tangibles": (6.0, 5.33, -0.67),  # expected 18/3, perceived 16/3
        "reliability": (6.67, 5.0, -1.67),  # 20/3, 15/3
        "responsiveness": (6.0, 5.33, -0.67),  # 18/3, 16/3
        "assurance": (5.0, 6.33, 1.33),  # 15/3, 19/3
        "empathy": (4.0, 3.67, -0.33),  # 12/3, 11/3
    }
    rows = csv_rows(login(manager).get(URL, {"as_of": "2026-03-15", "export": "gap"}))
    assert rows == [
        ["Dimension", "Mean expected", "Mean perceived", "Gap"],
        ["Tangibles", "6.0", "5.33", "-0.67"],
        ["Reliability", "6.67", "5.0", "-1.67"],
        ["Responsiveness", "6.0", "5.33", "-0.67"],
        ["Assurance", "5.0", "6.33", "1.33"],
        ["Empathy", "4.0", "3.67", "-0.33"],
    ]


# --------------------------------------------------------------------------------------------
# The satisfaction–loyalty matrix


@pytest.fixture
def matrix_run(db):
    """A run as of AS_OF, churn-filled, with customers placed at every boundary of the matrix.

    By hand: loyalists = {sat4_repeat_p050, in_window_then_later_low, sat5_repeat_p099} (3);
    hostages = {sat3_loyal, superseded_high} (2); mercenaries = {sat5_first_time, sat4_repeat_p049} (2);
    defectors = {sat3_first_time, lost_low} (2); total 9."""
    run = GradingRunFactory(as_of=AS_OF)
    ChurnModelRunFactory(grading_run=run)
    owner = UserFactory(username="matrixrep", roles=["sales rep"])
    day = datetime.date
    people = {}

    def customer(name, *, state, p_alive, answers):
        person = CustomerFactory(name=name, owner=owner)
        CustomerGradeFactory(run=run, customer=person, state=state, p_alive=p_alive)
        for when, overall, recommend in answers:
            respond(person, when, overall=overall, recommend=recommend)
        people[name] = person
        return person

    customer("sat4_repeat_p050", state="repeat", p_alive=0.5, answers=[(local(day(2026, 1, 1)), 4, 9)])
    customer("sat3_loyal", state="loyal", p_alive=0.9, answers=[(local(day(2026, 2, 1)), 3, 7)])
    customer("sat5_first_time", state="first_time", p_alive=0.95, answers=[(local(day(2025, 12, 1)), 5, 10)])
    customer("sat4_repeat_p049", state="repeat", p_alive=0.49, answers=[(local(day(2025, 11, 1)), 4, 6)])
    # A later answer supersedes an earlier one.
    customer(
        "superseded_high",
        state="repeat",
        p_alive=0.7,
        answers=[(local(day(2025, 6, 1)), 5, 10), (local(day(2026, 3, 1)), 2, 4)],
    )
    customer("sat3_first_time", state="first_time", p_alive=0.8, answers=[(local(day(2025, 10, 1)), 3, 5)])
    # Only answered before the window, or only after the as-of date: not in the matrix.
    customer("before_window", state="loyal", p_alive=0.9, answers=[(local(day(2025, 3, 31), 23, 50), 5, 10)])
    customer("after_as_of", state="loyal", p_alive=0.9, answers=[(local(day(2026, 3, 16), 0, 10), 5, 10)])
    # Its answer after the as-of date (1) is ignored: the latest in the window is 4.
    customer(
        "in_window_then_later_low",
        state="loyal",
        p_alive=0.8,
        answers=[(local(day(2026, 3, 15), 23, 30), 4, 8), (local(day(2026, 3, 16), 9), 1, 0)],
    )
    customer("never_answered", state="loyal", p_alive=0.9, answers=[])
    customer("lost_low", state="lost", p_alive=0.1, answers=[(local(day(2025, 4, 1), 0, 5), 1, 2)])
    customer("sat5_repeat_p099", state="repeat", p_alive=0.99, answers=[(local(day(2025, 8, 8)), 5, 9)])
    run.people = people
    run.owner = owner
    return run


EXPECTED_MATRIX = {
    "loyalists": {"count": 3, "share": 33.3},
    "hostages": {"count": 2, "share": 22.2},
    "mercenaries": {"count": 2, "share": 22.2},
    "defectors": {"count": 2, "share": 22.2},
}


def test_matrix_quadrants_at_the_boundaries(login, manager, matrix_run):
    response = login(manager).get(URL, {"as_of": "2026-03-15"})

    matrix = response.context["matrix"]
    assert matrix["customers"] == 9
    assert matrix["quadrants"] == EXPECTED_MATRIX
    html = response.content.decode()
    assert 'id="matrix-rule"' in html
    assert "P(alive) of at least 0.5" in html
    assert 'id="p-alive-missing"' not in html
    link = f"{CUSTOMERS_URL}?quadrant=hostages&amp;as_of=2026-03-15"
    assert link in html


def test_matrix_by_state_alone_before_the_churn_run(login, manager):
    run = GradingRunFactory(as_of=AS_OF)
    repeat = CustomerFactory()
    CustomerGradeFactory(run=run, customer=repeat, state="repeat", p_alive=None)
    respond(repeat, local(datetime.date(2026, 3, 1)), overall=4)
    first_time = CustomerFactory()
    CustomerGradeFactory(run=run, customer=first_time, state="first_time", p_alive=None)
    respond(first_time, local(datetime.date(2026, 3, 1)), overall=4)

    response = login(manager).get(URL, {"as_of": "2026-03-15"})

    quadrants = response.context["matrix"]["quadrants"]
    assert {key: value["count"] for key, value in quadrants.items()} == {
        "loyalists": 1,
        "hostages": 0,
        "mercenaries": 1,
        "defectors": 0,
    }
    assert 'id="p-alive-missing"' in response.content.decode()


def test_managers_matrix_same_with_and_without_the_stored_summary(login, manager, matrix_run):
    client = login(manager)
    computed = client.get(URL, {"as_of": "2026-03-15"}).context["matrix"]
    assert stored_figures(run=matrix_run, key="satisfaction", scope="all") is None

    summaries_store(run=matrix_run, computations={"satisfaction": satisfaction_figures})
    assert stored_figures(run=matrix_run, key="satisfaction", scope="all")["quadrants"] == EXPECTED_MATRIX
    stored = client.get(URL, {"as_of": "2026-03-15"}).context["matrix"]

    assert stored == computed
    assert computed["quadrants"] == EXPECTED_MATRIX


def test_matrix_csv(login, manager, matrix_run):
    rows = csv_rows(login(manager).get(URL, {"as_of": "2026-03-15", "export": "matrix"}))

    assert rows == [
        ["Quadrant", "Customers", "Share (%)"],
        ["Loyalists (apostles)", "3", "33.3"],
        ["Hostages", "2", "22.2"],
        ["Mercenaries", "2", "22.2"],
        ["Defectors", "2", "22.2"],
    ]


def test_without_a_run_the_survey_figures_show_and_the_matrix_asks_for_one(login, manager, service_agent):
    respond(CustomerFactory(), local(datetime.date(2026, 3, 1)), overall=5, recommend=10)

    response = login(manager).get(URL, {"as_of": "2026-03-15"})

    assert response.context["matrix"] is None
    assert response.context["survey"]["headline"]["responses"] == 1
    assert response.context["survey"]["headline"]["nps"] == 100
    html = response.content.decode()
    assert 'id="matrix-needs-run"' in html
    assert "Compute now" in html
    # Service agents may read the page but not start a computation.
    agent_html = login(service_agent).get(URL, {"as_of": "2026-03-15"}).content.decode()
    assert 'id="matrix-needs-run"' in agent_html
    assert "Compute now" not in agent_html


def test_empty_states(login, manager):
    GradingRunFactory(as_of=AS_OF)

    response = login(manager).get(URL, {"as_of": "2026-03-15"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-responses"' in html
    assert 'id="matrix-empty"' in html
    assert response.context["survey"]["headline"]["nps"] is None


# --------------------------------------------------------------------------------------------
# Who sees what


def test_rep_sees_only_their_own_customers(login, owner, outsider, manager):
    run = GradingRunFactory(as_of=AS_OF)
    mine = CustomerFactory(owner=owner)
    CustomerGradeFactory(run=run, customer=mine, state="loyal", p_alive=0.9)
    respond(mine, local(datetime.date(2026, 3, 1)), overall=5, recommend=10)
    theirs = CustomerFactory(owner=outsider)
    CustomerGradeFactory(run=run, customer=theirs, state="first_time", p_alive=0.9)
    respond(theirs, local(datetime.date(2026, 3, 2)), overall=1, recommend=0)
    respond(theirs, local(datetime.date(2026, 2, 2)), overall=2, recommend=1)

    mine_page = login(owner).get(URL, {"as_of": "2026-03-15"})
    all_page = login(manager).get(URL, {"as_of": "2026-03-15"})

    # The rep: one promoter → NPS 100, satisfaction 5; one loyalist.
    assert mine_page.context["survey"]["headline"]["responses"] == 1
    assert mine_page.context["survey"]["headline"]["nps"] == 100
    assert mine_page.context["survey"]["headline"]["satisfaction"] == 5
    assert mine_page.context["matrix"]["customers"] == 1
    assert mine_page.context["matrix"]["quadrants"]["loyalists"]["count"] == 1
    # The manager: 1 promoter, 2 detractors of 3 → NPS −33.3; satisfaction 8/3.
    assert all_page.context["survey"]["headline"]["nps"] == -33.3
    assert all_page.context["survey"]["headline"]["satisfaction"] == 2.67
    assert all_page.context["matrix"]["quadrants"]["defectors"]["count"] == 1
    # The quadrant list too.
    defectors = login(owner).get(CUSTOMERS_URL, {"quadrant": "defectors", "as_of": "2026-03-15"})
    assert list(defectors.context["grades"]) == []
    loyalists = login(owner).get(CUSTOMERS_URL, {"quadrant": "loyalists", "as_of": "2026-03-15"})
    assert [grade.customer_id for grade in loyalists.context["grades"]] == [mine.pk]


def test_service_agent_reads_the_page(login, service_agent, matrix_run):
    response = login(service_agent).get(URL, {"as_of": "2026-03-15"})

    assert response.status_code == 200
    assert response.context["matrix"]["quadrants"] == EXPECTED_MATRIX
    listing = login(service_agent).get(CUSTOMERS_URL, {"quadrant": "hostages", "as_of": "2026-03-15"})
    assert listing.status_code == 200


def test_user_without_a_role_gets_404(login):
    nobody = UserFactory(username="nobody")
    client = login(nobody)

    assert client.get(URL).status_code == 404
    assert client.get(CUSTOMERS_URL, {"quadrant": "loyalists"}).status_code == 404


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --------------------------------------------------------------------------------------------
# The customers of a quadrant


def test_quadrant_customers_list(login, manager, matrix_run):
    response = login(manager).get(CUSTOMERS_URL, {"quadrant": "loyalists", "as_of": "2026-03-15"})

    assert response.status_code == 200
    rows = [
        (grade.customer.name, grade.latest_satisfaction, grade.latest_recommend, grade.state, grade.p_alive)
        for grade in response.context["grades"]
    ]
    assert rows == [
        ("in_window_then_later_low", 4, 8, "loyal", 0.8),
        ("sat4_repeat_p050", 4, 9, "repeat", 0.5),
        ("sat5_repeat_p099", 5, 9, "repeat", 0.99),
    ]
    html = response.content.decode()
    person = matrix_run.people["sat4_repeat_p050"]
    assert f'href="{reverse("customers:detail", args=[person.pk])}"' in html
    assert "Promoter" in html
    assert "Passive" in html


def test_quadrant_customers_sorted_and_paginated(login, manager, matrix_run, monkeypatch):
    monkeypatch.setattr(views, "PER_PAGE", 2)
    client = login(manager)

    first = client.get(CUSTOMERS_URL, {"quadrant": "loyalists", "as_of": "2026-03-15", "sort": "-satisfaction"})
    second = client.get(
        CUSTOMERS_URL, {"quadrant": "loyalists", "as_of": "2026-03-15", "sort": "-satisfaction", "page": 2}
    )

    # Satisfaction 5 first, then the two 4s by name.
    assert [g.customer.name for g in first.context["grades"]] == ["sat5_repeat_p099", "in_window_then_later_low"]
    assert [g.customer.name for g in second.context["grades"]] == ["sat4_repeat_p050"]
    assert first.context["page_obj"].paginator.count == 3
    by_p_alive = client.get(CUSTOMERS_URL, {"quadrant": "mercenaries", "as_of": "2026-03-15", "sort": "p_alive"})
    assert [g.customer.name for g in by_p_alive.context["grades"]] == ["sat4_repeat_p049", "sat5_first_time"]
    assert "sort=-p_alive" in by_p_alive.content.decode()
    # States sort in the order customers move through them: repeat before loyal.
    by_state = client.get(CUSTOMERS_URL, {"quadrant": "hostages", "as_of": "2026-03-15", "sort": "state"})
    assert [g.customer.name for g in by_state.context["grades"]] == ["superseded_high", "sat3_loyal"]


def test_quadrant_customers_csv_is_neutralised(login, manager, matrix_run):
    person = matrix_run.people["sat3_loyal"]
    person.name = '=HYPERLINK("http://evil.example")'
    person.save()

    rows = csv_rows(login(manager).get(CUSTOMERS_URL, {"quadrant": "hostages", "as_of": "2026-03-15", "export": "csv"}))

    assert rows[0] == [
        "Customer",
        "External reference",
        "Latest satisfaction (1–5)",
        "Likelihood to recommend (0–10)",
        "NPS group",
        "State",
        "P(alive)",
    ]
    assert sorted(rows[1:]) == sorted(
        [
            ['\'=HYPERLINK("http://evil.example")', "", "3", "7", "Passive", "Loyal", "0.9"],
            ["superseded_high", "", "2", "4", "Detractor", "Repeat", "0.7"],
        ]
    )


def test_quadrant_customers_without_a_run(login, manager):
    response = login(manager).get(CUSTOMERS_URL, {"quadrant": "loyalists", "as_of": "2026-03-15"})

    assert response.status_code == 200
    assert 'id="matrix-needs-run"' in response.content.decode()


def test_unknown_quadrant_is_404(login, manager):
    assert login(manager).get(CUSTOMERS_URL, {"quadrant": "apostates"}).status_code == 404


# --------------------------------------------------------------------------------------------
# Query counts


@pytest.fixture
def many(owner):
    """40 customers of `owner` and 40 of someone else, each graded with two responses in the window."""
    run = GradingRunFactory(as_of=AS_OF)
    other = UserFactory(username="otherrep", roles=["sales rep"])
    for index in range(80):
        person = CustomerFactory(owner=owner if index % 2 else other)
        CustomerGradeFactory(run=run, customer=person, state="repeat", p_alive=0.6)
        respond(person, local(datetime.date(2026, 1, 1 + index % 28)), overall=4, recommend=9)
        respond(person, local(datetime.date(2025, 6, 1 + index % 28)), overall=2, recommend=3)
    return run


# Session, user, roles, two permission lookups of the sidebar and the session's save (three statements)
# come with every page (8); the dashboard adds the run, the survey aggregate, the matrix aggregate and the list of runs;
# the quadrant list the run, its count, its page and the list of runs. With 40 or 80 customers on
# the page, a query per customer could not hide under these bounds.
QUERY_BOUND = 13


def test_query_counts(login, manager, owner, many, django_assert_max_num_queries):
    params = {"as_of": "2026-03-15"}
    for user in (manager, owner):
        client = login(user)
        with django_assert_max_num_queries(QUERY_BOUND):
            response = client.get(URL, params)
        assert response.context["matrix"]["customers"] == (80 if user == manager else 40)
        with django_assert_max_num_queries(QUERY_BOUND):
            response = client.get(CUSTOMERS_URL, {"quadrant": "loyalists", **params})
        assert response.context["page_obj"].paginator.count == (80 if user == manager else 40)
