"""The customer pyramid dashboard: every figure against numbers worked out by hand below, by role.

The dataset (grades written by hand, not by the grading job):

Run of 2026-11-30 ("current"); owner's twelve customers A…L and the outsider's X, Y:

    name tier      value  R F M  monetary  segment          earlier tier (2026-10-31)
    A    vip        500   5 5 5   1000     champions        vip
    B    key        200   5 5 4    600     champions        ordinary
    C    ordinary   100   4 3 3    300     loyal            key
    D    ordinary    80   4 3 2    200     loyal            (not graded: new)
    E    small       50   1 1 1     50     hibernating      small
    F    small       30   1 1 1     40     hibernating      (no tier)
    G    small       20   1 1 2     60     hibernating      small
    H    small       10   3 2 1     30     need_attention   small
    I    small        7   3 2 1     20     need_attention   small
    J    small        3   2 1 1     10     hibernating      small
    K    (no purchase in the window)                        small
    L    (no purchase in the window)                        (not graded: new)
    X    vip       9000   5 5 5  20000     champions        vip       (outsider's)
    Y    (no purchase in the window)                        (not graded)  (outsider's)

A failed run of 2026-11-15 lies between the two and must be skipped; an older run of 2026-09-30
must not be used either. State changes of the current run: A repeat → loyal, B lost → repeat
(won back), K loyal → lost, X repeat → loyal; and one of the older run (C), not counted.
"""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.models import RunStatus, StateTransition
from analytics.services.pyramid import pareto_positions, pyramid_figures
from analytics.services.summaries import stored_figures, summaries_store
from tests.analytics.factories import CustomerGradeFactory, GradingRunFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PYRAMID = reverse("analytics:pyramid")
CURRENT, PREVIOUS = datetime.date(2026, 11, 30), datetime.date(2026, 10, 31)

OWNERS_BUYERS = [
    # name, tier, value, r, f, m, monetary, segment
    ("A", "vip", 500, 5, 5, 5, 1000, "champions"),
    ("B", "key", 200, 5, 5, 4, 600, "champions"),
    ("C", "ordinary", 100, 4, 3, 3, 300, "loyal"),
    ("D", "ordinary", 80, 4, 3, 2, 200, "loyal"),
    ("E", "small", 50, 1, 1, 1, 50, "hibernating"),
    ("F", "small", 30, 1, 1, 1, 40, "hibernating"),
    ("G", "small", 20, 1, 1, 2, 60, "hibernating"),
    ("H", "small", 10, 3, 2, 1, 30, "need_attention"),
    ("I", "small", 7, 3, 2, 1, 20, "need_attention"),
    ("J", "small", 3, 2, 1, 1, 10, "hibernating"),
]
# Earlier tier per customer: None = not graded in the earlier run, "" = graded without a tier.
EARLIER = {"A": "vip", "B": "ordinary", "C": "key", "E": "small", "F": "", "G": "small", "H": "small"}
EARLIER |= {"I": "small", "J": "small", "K": "small", "X": "vip"}


def buyer(run, customer, tier, value, r, f, m, monetary, segment, **extra):
    return CustomerGradeFactory(
        run=run,
        customer=customer,
        tier=tier,
        value=value,
        gross_profit=value,
        r=r,
        f=f,
        m=m,
        rfm_code=f"{r}{f}{m}",
        monetary=monetary,
        segment=segment,
        **extra,
    )


def non_buyer(run, customer):
    return CustomerGradeFactory(
        run=run,
        customer=customer,
        frequency=0,
        occasions=0,
        recency=None,
        r=None,
        f=None,
        m=None,
        rfm_code="",
        segment="",
        tier="",
        value=0,
        monetary=0,
        gross_profit=0,
        state="potential",
    )


@pytest.fixture
def dataset(owner, outsider):
    current = GradingRunFactory(as_of=CURRENT)
    previous = GradingRunFactory(as_of=PREVIOUS)
    GradingRunFactory(as_of=datetime.date(2026, 11, 15), status=RunStatus.FAILED)
    older = GradingRunFactory(as_of=datetime.date(2026, 9, 30))
    customers = {name: CustomerFactory(name=f"Customer {name}", owner=owner) for name in "ABCDEFGHIJKL"}
    customers |= {name: CustomerFactory(name=f"Customer {name}", owner=outsider) for name in "XY"}
    for row in OWNERS_BUYERS:
        buyer(current, customers[row[0]], *row[1:])
    buyer(current, customers["X"], "vip", 9000, 5, 5, 5, 20000, "champions")
    for name in "KLY":
        non_buyer(current, customers[name])
    for name, tier in EARLIER.items():
        if tier:
            buyer(previous, customers[name], tier, 1, 3, 3, 3, 1, "loyal")
        else:
            non_buyer(previous, customers[name])
    # The older run would give other movements: every customer VIP.
    for customer in customers.values():
        buyer(older, customer, "vip", 1, 3, 3, 3, 1, "loyal")
    for name, source, target in [("A", "repeat", "loyal"), ("B", "lost", "repeat"), ("K", "loyal", "lost")]:
        StateTransition.objects.create(
            run=current, customer=customers[name], as_of=CURRENT, from_state=source, to_state=target
        )
    StateTransition.objects.create(
        run=current, customer=customers["X"], as_of=CURRENT, from_state="repeat", to_state="loyal"
    )
    StateTransition.objects.create(
        run=older, customer=customers["C"], as_of=older.as_of, from_state="first_time", to_state="repeat"
    )
    return {"current": current, "previous": previous, "customers": customers}


def figures_for(client):
    response = client.get(PYRAMID)
    assert response.status_code == 200
    return response.context["figures"]


def test_rep_sees_tier_counts_shares_and_value_of_their_own_customers(login, owner, dataset):
    figures = figures_for(login(owner))

    # 12 graded, 10 bought in the window and are ranked; total value 500+200+100+80+50+30+20+10+7+3.
    assert figures["totals"] == {"customers": 12, "buyers": 10, "ranked": 10, "value": 1000.0}
    tiers = {row["tier"]: row for row in figures["tiers"]}
    assert [row["tier"] for row in figures["tiers"]] == ["vip", "key", "ordinary", "small"]
    expected = {  # customers, share of the 10 ranked, value, share of 1000
        "vip": (1, 0.1, 500.0, 0.5),
        "key": (1, 0.1, 200.0, 0.2),
        "ordinary": (2, 0.2, 180.0, 0.18),
        "small": (6, 0.6, 120.0, 0.12),
    }
    for tier, (count, share, value, value_share) in expected.items():
        row = tiers[tier]
        assert row["customers"] == count
        assert row["customer_share"] == pytest.approx(share)
        assert row["value"] == pytest.approx(value)
        assert row["value_share"] == pytest.approx(value_share)


def test_movement_matrix_compares_with_the_latest_earlier_succeeded_run(login, owner, dataset):
    movement = figures_for(login(owner))["movement"]

    assert movement["previous_as_of"] == "2026-10-31"
    nonzero = {
        (source, target): count for source, row in movement["counts"].items() for target, count in row.items() if count
    }
    assert nonzero == {
        ("vip", "vip"): 1,  # A
        ("ordinary", "key"): 1,  # B moved up
        ("key", "ordinary"): 1,  # C moved down
        ("new", "ordinary"): 1,  # D
        ("small", "small"): 5,  # E, G, H, I, J
        ("none", "small"): 1,  # F bought again
        ("small", "none"): 1,  # K stopped buying
        ("new", "none"): 1,  # L
    }


def test_state_changes_count_only_the_runs_changes_of_visible_customers(login, owner, manager, dataset):
    transitions = figures_for(login(owner))["transitions"]
    assert {(t["from"], t["to"]): (t["customers"], t["won_back"]) for t in transitions} == {
        ("repeat", "loyal"): (1, False),
        ("lost", "repeat"): (1, True),
        ("loyal", "lost"): (1, False),
    }
    transitions = figures_for(login(manager))["transitions"]
    assert {(t["from"], t["to"]): t["customers"] for t in transitions}[("repeat", "loyal")] == 2  # A and X


def test_pareto_curve_and_top_twenty_percent_headline(login, owner, dataset):
    pareto = figures_for(login(owner))["pareto"]

    # Ten ranked customers: one point per customer; cumulative value of the best m out of 1000.
    cumulative = [0, 500, 700, 800, 880, 930, 960, 980, 990, 997, 1000]
    assert [p["customers"] for p in pareto["points"]] == list(range(11))
    assert [p["customer_share"] for p in pareto["points"]] == pytest.approx([m / 10 for m in range(11)])
    assert [p["value_share"] for p in pareto["points"]] == pytest.approx([c / 1000 for c in cumulative])
    # The top 20 % are two customers, A and B: 700 of 1000.
    assert pareto["headline_customers"] == 2
    assert pareto["headline_share"] == pytest.approx(0.7)


def test_pareto_curve_samples_at_most_101_points_of_many_customers(login, owner):
    run = GradingRunFactory(as_of=CURRENT)
    values = [v % 40 + 1 for v in range(250)]  # ties on purpose: each value 1…40 several times
    for value in values:
        buyer(run, CustomerFactory(owner=owner), "small", value, 3, 3, 3, value, "loyal")

    pareto = figures_for(login(owner))["pareto"]

    best_first = sorted(values, reverse=True)
    total = sum(values)
    assert len(pareto["points"]) == 101
    by_customers = {p["customers"]: p for p in pareto["points"]}
    # 20 % of 250 customers = 50; 37 % = 92.5, rounded half up to 93.
    assert pareto["headline_customers"] == 50
    assert pareto["headline_share"] == pytest.approx(sum(best_first[:50]) / total)
    assert by_customers[93]["value_share"] == pytest.approx(sum(best_first[:93]) / total)
    assert by_customers[250]["value_share"] == pytest.approx(1.0)
    assert pareto_positions(250)[:3] == [0, 3, 5]  # 2.5 → 3 and 5, rounded half up


def test_heatmap_counts_and_averages_per_r_and_f(login, owner, dataset):
    heatmap = figures_for(login(owner))["heatmap"]

    cells = {(c["r"], c["f"]): (c["customers"], c["avg_monetary"], c["avg_m"]) for c in heatmap}
    assert cells.keys() == {(5, 5), (4, 3), (3, 2), (2, 1), (1, 1)}
    assert cells[(5, 5)] == pytest.approx((2, (1000 + 600) / 2, (5 + 4) / 2))  # A, B
    assert cells[(4, 3)] == pytest.approx((2, (300 + 200) / 2, (3 + 2) / 2))  # C, D
    assert cells[(3, 2)] == pytest.approx((2, (30 + 20) / 2, 1))  # H, I
    assert cells[(2, 1)] == pytest.approx((1, 10, 1))  # J
    assert cells[(1, 1)] == pytest.approx((3, (50 + 40 + 60) / 3, (1 + 1 + 2) / 3))  # E, F, G


def test_segment_sizes_and_links_to_the_filtered_grade_list(login, owner, dataset):
    response = login(owner).get(PYRAMID)

    segments = {s["segment"]: (s["customers"], s["value"]) for s in response.context["figures"]["segments"]}
    assert segments == {
        "champions": (2, 700.0),  # A, B
        "loyal": (2, 180.0),  # C, D
        "hibernating": (4, 103.0),  # E, F, G, J
        "need_attention": (2, 17.0),  # H, I
    }
    html = response.content.decode()
    assert "Champions" in html and "Need attention" in html
    assert f"{reverse('analytics:grade_list')}?as_of=2026-11-30&amp;segment=champions" in html
    assert f"{reverse('analytics:grade_list')}?as_of=2026-11-30&amp;tier=vip" in html


def test_manager_sees_every_customer(login, manager, dataset):
    figures = figures_for(login(manager))

    # The owner's figures plus X (VIP, 9000) and Y (no purchase).
    assert figures["totals"] == {"customers": 14, "buyers": 11, "ranked": 11, "value": 10000.0}
    vip = figures["tiers"][0]
    assert (vip["customers"], vip["value"], vip["value_share"]) == (2, 9500.0, pytest.approx(0.95))
    # 20 % of 11 = 2.2 → the best 2 customers, X and A: 9500 of 10000.
    assert figures["pareto"]["headline_customers"] == 2
    assert figures["pareto"]["headline_share"] == pytest.approx(0.95)


def test_team_manager_sees_their_team_and_outsider_not_the_owners(login, team_manager, outsider, dataset):
    assert figures_for(login(team_manager))["totals"]["customers"] == 12
    figures = figures_for(login(outsider))
    assert figures["totals"] == {"customers": 2, "buyers": 1, "ranked": 1, "value": 9000.0}


def test_manager_figures_are_the_same_with_and_without_the_stored_summary(login, manager, dataset):
    client = login(manager)
    computed = figures_for(client)
    run = dataset["current"]
    assert stored_figures(run=run, key="pyramid", scope="all") is None

    summaries_store(run=run, computations={"pyramid": pyramid_figures})

    assert stored_figures(run=run, key="pyramid", scope="all") == computed
    with CaptureQueriesContext(connection) as stored_queries:
        stored = figures_for(client)
    assert stored == computed
    # Read back, not computed again: no query touches the grades.
    assert not [q for q in stored_queries.captured_queries if "analytics_customergrade" in q["sql"]]


def test_service_agent_gets_404(login, service_agent, dataset):
    assert login(service_agent).get(PYRAMID).status_code == 404
    assert login(service_agent).get(PYRAMID, {"export": "tiers"}).status_code == 404


def test_empty_state_without_a_run(login, manager):
    response = login(manager).get(PYRAMID)
    assert response.status_code == 200
    assert 'id="no-run"' in response.content.decode()


def test_empty_state_when_the_reader_has_no_graded_customers(login, teammate, dataset):
    response = login(teammate).get(PYRAMID)
    html = response.content.decode()
    assert 'id="no-grades"' in html
    assert 'id="tier-table"' not in html


def test_as_of_picks_an_earlier_run(login, owner, dataset):
    response = login(owner).get(PYRAMID, {"as_of": "2026-10-31"})
    figures = response.context["figures"]
    assert figures["as_of"] == "2026-10-31"
    # Earlier than 2026-10-31 only the run of 2026-09-30 succeeded.
    assert figures["movement"]["previous_as_of"] == "2026-09-30"


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_exports_of_each_table(login, owner, dataset):
    client = login(owner)

    tiers = read_csv(client.get(PYRAMID, {"export": "tiers"}))
    assert tiers[0] == ["Tier", "Customers", "Share of customers (%)", "Gross profit", "Share of gross profit (%)"]
    assert tiers[1:] == [
        ["VIP", "1", "10.0", "500.0", "50.0"],
        ["Key", "1", "10.0", "200.0", "20.0"],
        ["Ordinary", "2", "20.0", "180.0", "18.0"],
        ["Small", "6", "60.0", "120.0", "12.0"],
    ]

    movement = read_csv(client.get(PYRAMID, {"export": "movement"}))
    assert movement[0] == ["From ↓ to →", "VIP", "Key", "Ordinary", "Small", "No tier", "Total"]
    assert movement[1:] == [
        ["VIP", "1", "0", "0", "0", "0", "1"],
        ["Key", "0", "0", "1", "0", "0", "1"],
        ["Ordinary", "0", "1", "0", "0", "0", "1"],
        ["Small", "0", "0", "0", "5", "1", "6"],
        ["No tier", "0", "0", "0", "1", "0", "1"],
        ["New", "0", "0", "1", "0", "1", "2"],
    ]

    heatmap = read_csv(client.get(PYRAMID, {"export": "heatmap"}))
    assert heatmap[0] == ["R", "F", "Customers", "Average monetary", "Average M score"]
    assert len(heatmap) == 1 + 25  # every cell of the 5 × 5 grid, empty ones too
    cells = {(row[0], row[1]): row[2:] for row in heatmap[1:]}
    assert cells[("5", "5")] == ["2", "800.0", "4.5"]
    assert cells[("1", "1")] == ["3", "50.0", "1.33"]
    assert cells[("5", "1")] == ["0", "", ""]

    segments = read_csv(client.get(PYRAMID, {"export": "segments"}))
    assert segments[0] == ["Segment", "Customers", "Share of buyers (%)", "Gross profit"]
    # In the rule's table order: champions, loyal, need attention, hibernating.
    assert segments[1:] == [
        ["Champions", "2", "20.0", "700.0"],
        ["Loyal", "2", "20.0", "180.0"],
        ["Need attention", "2", "20.0", "17.0"],
        ["Hibernating", "4", "40.0", "103.0"],
    ]

    pareto = read_csv(client.get(PYRAMID, {"export": "pareto"}))
    assert pareto[0] == [
        "Customers (highest value first)",
        "Share of customers (%)",
        "Cumulative share of gross profit (%)",
    ]
    assert pareto[3] == ["2", "20.0", "70.0"]
    assert len(pareto) == 1 + 11

    transitions = read_csv(client.get(PYRAMID, {"export": "transitions"}))
    assert sorted(transitions[1:]) == [
        ["Lost", "Repeat", "1", "yes"],
        ["Loyal", "Lost", "1", ""],
        ["Repeat", "Loyal", "1", ""],
    ]


def test_csv_cells_are_neutralised(login, owner):
    """Labels come from the code, but a segment name an admin typed reaches the CSV: it must not run."""
    run = GradingRunFactory(as_of=CURRENT)
    run.rule.segments.filter(key="champions").update(name="=cmd|' /C calc'!A0")
    buyer(run, CustomerFactory(owner=owner), "vip", 10, 5, 5, 5, 10, "champions")

    segments = read_csv(login(owner).get(PYRAMID, {"export": "segments"}))

    assert segments[1][0] == "'=cmd|' /C calc'!A0"


def test_page_shows_tables_and_chart_data(login, owner, dataset):
    response = login(owner).get(PYRAMID)
    html = response.content.decode()
    assert 'id="pyramid-data"' in html and "analytics_pyramid.js" in html
    assert "The top 20 % of customers bring 70.0 % of gross profit." in html
    assert "Movement between tiers since 2026-10-31" in html
    assert response.context["chart_data"]["tiers"]["customers"] == [1, 1, 2, 6]


def _pyramid_queries(client):
    with CaptureQueriesContext(connection) as context:
        assert client.get(PYRAMID).status_code == 200
    return len(context.captured_queries)


def test_query_count_does_not_grow_with_customers(login, owner, team_manager, manager, django_assert_max_num_queries):
    current = GradingRunFactory(as_of=CURRENT)
    previous = GradingRunFactory(as_of=PREVIOUS)

    def add_customers(count):
        for index in range(count):
            customer = CustomerFactory(owner=owner)
            buyer(current, customer, "small", index + 1, index % 5 + 1, 3, 2, 100, "loyal")
            buyer(previous, customer, "key", 1, 3, 3, 3, 1, "loyal")
            StateTransition.objects.create(
                run=current, customer=customer, as_of=CURRENT, from_state="repeat", to_state="loyal"
            )

    add_customers(3)
    client = login(owner)
    few = _pyramid_queries(client)
    add_customers(60)
    assert _pyramid_queries(client) == few
    client = login(team_manager)
    with django_assert_max_num_queries(19):
        client.get(PYRAMID)
    summaries_store(run=current, computations={"pyramid": pyramid_figures})
    client = login(manager)
    with django_assert_max_num_queries(12):
        client.get(PYRAMID)
