"""The graded-customers list: visibility, filters, sort, pages, title, CSV, query count."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.analytics.factories import CustomerGradeFactory, GradingRunFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

GRADES = reverse("analytics:grade_list")
CURRENT, EARLIER = datetime.date(2026, 11, 30), datetime.date(2026, 10, 31)


def grade(run, name, owner, **fields):
    return CustomerGradeFactory(run=run, customer=CustomerFactory(name=name, owner=owner), **fields)


@pytest.fixture
def runs():
    return GradingRunFactory(as_of=CURRENT), GradingRunFactory(as_of=EARLIER)


# Owner's five customers in the current run, by the values the tests reason about.
COLUMNS = ("tier", "value", "monetary", "r", "f", "m", "segment", "state", "lifecycle_stage")
COLUMNS += ("p_alive", "clv", "churn_risk", "recency", "frequency")
OWNERS = {
    "Alpha": ("vip", 900, 3000, 5, 5, 5, "champions", "loyal", "stability", 0.95, 5000, "low", 3, 12),
    "Bravo": ("key", 400, 1500, 4, 4, 4, "champions", "repeat", "formation", 0.7, 2000, "medium", 20, 6),
    "Charlie": ("small", 50, 200, 1, 1, 1, "hibernating", "lost", "decline", 0.1, 10, "high", 400, 1),
    "Delta": ("small", 60, 250, 2, 1, 2, "hibernating", "first_time", "exploration", None, None, "", 200, 1),
    # No purchase in the window.
    "Echo": ("", 0, 0, None, None, None, "", "potential", "exploration", None, None, "", None, 0),
}


@pytest.fixture
def dataset(owner, outsider, runs):
    """Owner's five customers in the current run, the outsider's two; one of owner's in the earlier run only."""
    current, earlier = runs
    rows = {}
    for name, values in OWNERS.items():
        fields = dict(zip(COLUMNS, values, strict=True))
        code = "".join(str(fields[score]) for score in "rfm") if fields["r"] else ""
        rows[name] = grade(current, name, owner, rfm_code=code, occasions=fields["frequency"], **fields)
    rows["Xray"] = grade(current, "Xray", outsider, tier="vip", value=5000, segment="champions", r=5, f=5)
    rows["Yankee"] = grade(current, "Yankee", outsider, tier="small", value=5, segment="hibernating", r=1, f=1)
    rows["Foxtrot"] = grade(earlier, "Foxtrot", owner, tier="vip", value=10)
    return rows


def names(response):
    return [row["grade"].customer.name for row in response.context["rows"]]


def test_rep_sees_their_graded_customers_of_the_latest_run_by_value(login, owner, dataset):
    response = login(owner).get(GRADES)

    assert response.status_code == 200
    assert names(response) == ["Alpha", "Bravo", "Delta", "Charlie", "Echo"]
    html = response.content.decode()
    assert dataset["Alpha"].customer.get_absolute_url() in html
    assert "Xray" not in html and "Yankee" not in html
    assert response.context["title"] == "Graded customers as of 2026-11-30"


def test_outsider_never_sees_owners_customers_even_by_search_or_filter(login, outsider, dataset):
    client = login(outsider)
    assert names(client.get(GRADES)) == ["Xray", "Yankee"]
    assert names(client.get(GRADES, {"q": "Alpha"})) == []
    assert names(client.get(GRADES, {"tier": "key"})) == []
    assert names(client.get(GRADES, {"as_of": "2026-10-31"})) == []


def test_manager_sees_everyone(login, manager, dataset):
    assert len(login(manager).get(GRADES).context["rows"]) == 7


def test_service_agent_gets_404(login, service_agent, dataset):
    assert login(service_agent).get(GRADES).status_code == 404
    assert login(service_agent).get(GRADES, {"export": "csv"}).status_code == 404


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tier": "vip"}, ["Alpha"]),
        ({"tier": "none"}, ["Echo"]),
        ({"segment": "hibernating"}, ["Delta", "Charlie"]),
        ({"state": "lost"}, ["Charlie"]),
        ({"lifecycle_stage": "exploration"}, ["Delta", "Echo"]),
        ({"churn_risk": "medium"}, ["Bravo"]),
        ({"r": "4"}, ["Bravo"]),
        ({"f": "1"}, ["Delta", "Charlie"]),
        ({"r": "2", "f": "1"}, ["Delta"]),
        ({"q": "charl"}, ["Charlie"]),
        ({"segment": "champions", "churn_risk": "low"}, ["Alpha"]),
    ],
)
def test_filters(login, owner, dataset, filters, expected):
    assert names(login(owner).get(GRADES, filters)) == expected


def test_an_unknown_filter_value_lists_nothing(login, owner, dataset):
    assert names(login(owner).get(GRADES, {"tier": "gold"})) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
        ("-monetary", ["Alpha", "Bravo", "Delta", "Charlie", "Echo"]),
        ("recency", ["Alpha", "Bravo", "Delta", "Charlie", "Echo"]),  # no purchase: last
        ("-recency", ["Charlie", "Delta", "Bravo", "Alpha", "Echo"]),
        ("-frequency", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),  # ties by id
        ("-p_alive", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),  # no P(alive) yet: last
        ("p_alive", ["Charlie", "Bravo", "Alpha", "Delta", "Echo"]),
        ("-clv", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
        ("value", ["Echo", "Charlie", "Delta", "Bravo", "Alpha"]),
    ],
)
def test_sort(login, owner, dataset, sort, expected):
    assert names(login(owner).get(GRADES, {"sort": sort})) == expected


def test_as_of_picks_the_run(login, owner, dataset):
    response = login(owner).get(GRADES, {"as_of": "2026-10-31", "tier": "vip"})
    assert names(response) == ["Foxtrot"]
    assert response.context["title"] == "VIP customers as of 2026-10-31"


def test_title_says_what_is_filtered(login, owner, dataset):
    client = login(owner)
    assert client.get(GRADES, {"tier": "vip"}).context["title"] == "VIP customers as of 2026-11-30"
    title = client.get(GRADES, {"tier": "small", "segment": "hibernating", "churn_risk": "high"}).context["title"]
    assert title == "Small customers (Hibernating, churn risk High) as of 2026-11-30"
    html = client.get(GRADES, {"tier": "vip"}).content.decode()
    assert '<span id="grade-list-title">VIP customers as of 2026-11-30</span>' in html


def test_pagination_25_50_100(login, owner, runs):
    current, _earlier = runs
    for index in range(60):
        grade(current, f"Customer {index:02d}", owner, value=1000 - index)
    client = login(owner)

    first = client.get(GRADES)
    assert len(first.context["rows"]) == 25
    assert first.context["paginator"].count == 60
    third = client.get(GRADES, {"page": 3})
    assert names(third) == [f"Customer {index:02d}" for index in range(50, 60)]
    assert len(client.get(GRADES, {"per_page": 50}).context["rows"]) == 50
    assert len(client.get(GRADES, {"per_page": 100}).context["rows"]) == 60
    assert len(client.get(GRADES, {"per_page": 7}).context["rows"]) == 25


def test_query_count_does_not_grow_with_rows(login, owner, runs, django_assert_max_num_queries):
    current, _earlier = runs
    for index in range(3):
        grade(current, f"Customer {index:02d}", owner)
    client = login(owner)

    def count():
        with CaptureQueriesContext(connection) as context:
            assert client.get(GRADES, {"per_page": 100}).status_code == 200
        return len(context.captured_queries)

    few = count()
    for index in range(3, 80):
        grade(current, f"Customer {index:02d}", owner)
    assert count() == few
    with django_assert_max_num_queries(13):
        client.get(GRADES, {"per_page": 100, "tier": "small", "q": "Customer"})


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_export_has_the_filtered_rows(login, owner, dataset):
    rows = read_csv(login(owner).get(GRADES, {"segment": "hibernating", "export": "csv"}))

    header = rows[0]
    assert header[:3] == ["Customer", "External reference", "Account manager"]
    assert "P(alive)" in header and "Churn risk" in header
    assert [row[0] for row in rows[1:]] == ["Delta", "Charlie"]
    charlie = dict(zip(header, rows[2], strict=True))
    assert charlie["RFM code"] == "111"
    assert charlie["Segment"] == "Hibernating"
    assert charlie["Tier"] == "Small"
    assert charlie["State"] == "Lost"
    assert charlie["Churn risk"] == "High"
    assert charlie["Account manager"] == "owner"
    assert float(charlie["Value"]) == 50
    delta = dict(zip(header, rows[1], strict=True))
    assert (delta["P(alive)"], delta["Customer lifetime value"]) == ("", "")


def test_csv_export_neutralises_formulas(login, owner, runs):
    current, _earlier = runs
    grade(current, "=cmd|' /C calc'!A0", owner)

    rows = read_csv(login(owner).get(GRADES, {"export": "csv"}))

    assert rows[1][0] == "'=cmd|' /C calc'!A0"


def test_empty_states(login, owner, teammate, manager, dataset):
    html = login(teammate).get(GRADES).content.decode()
    assert "None of the customers you can see was graded in this run." in html
    html = login(owner).get(GRADES, {"tier": "ordinary"}).content.decode()
    assert "No customers in this tier match." in html


def test_no_run_shows_the_as_of_bar(login, manager):
    response = login(manager).get(GRADES, {"as_of": "2026-01-31"})
    assert response.status_code == 200
    assert 'id="no-run"' in response.content.decode()
