"""The churn dashboard: every figure against values worked out by hand on grades written by factories,
visibility by role, the stored summary, query counts, CSV, and the home-dashboard cards."""

import csv
import datetime
import io
import re

import pytest
from django.urls import reverse

from analytics import home_cards as analytics_home_cards
from analytics.models import StateTransition
from analytics.services import churn_dashboard
from analytics.services.summaries import stored_figures, summaries_store
from customers import home_cards
from tests.analytics.factories import ChurnModelRunFactory, CustomerGradeFactory, GradingRunFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CHURN = reverse("analytics:churn")
AS_OF = datetime.date(2026, 6, 30)
# The silence rule as the run used it (k = 2, floor 100 days); the active default rule says 3 and 180,
# so the figures below only come out if the page reads the run's snapshot.
SNAPSHOT = {"churn_interval_multiple": "2.0", "churn_min_days": 100}
MONTHS = [
    "2025-07",
    "2025-08",
    "2025-09",
    "2025-10",
    "2025-11",
    "2025-12",
    "2026-01",
    "2026-02",
    "2026-03",
    "2026-04",
    "2026-05",
    "2026-06",
]


def d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def grade(run, owner, name, *, first, last, occasions, p_alive, risk, value, reasons=(), state="repeat"):
    customer = CustomerFactory(owner=owner, name=name)
    return CustomerGradeFactory(
        run=run,
        customer=customer,
        first_purchase=d(first) if first else None,
        last_purchase=d(last) if last else None,
        occasions=occasions,
        frequency=occasions,
        p_alive=p_alive,
        churn_risk=risk,
        value=value,
        churn_reasons=list(reasons),
        state=state,
    )


@pytest.fixture
def run(db):
    return GradingRunFactory(as_of=AS_OF, rule_snapshot=SNAPSHOT)


@pytest.fixture
def churn_run(run):
    return ChurnModelRunFactory(grading_run=run)


@pytest.fixture
def dataset(run, churn_run, owner, outsider):
    """Customers of `owner` (A–J) and of `outsider` (K–M). With k = 2 and a 100-day floor, each one's churn
    day (first day the silence exceeds the limit) and the months in which it is active at the start:

    A  1 occasion 2025-12-15: limit 100, churns 2026-03-26; active Jan–Mar 2026, churned in March.
    B  3 occasions 2025-01-01…2025-11-01: span 304 d, 2 × 152 = 304, churns 2026-09-02 (after the date);
       active all twelve months, never churned.
    C  1 occasion 2025-09-22: churns 2026-01-01 (on 2025-12-31 the silence is exactly 100 days, not more);
       active Oct 2025 – Jan 2026, churned in January.
    D  1 occasion 2026-05-10: churns 2026-08-19; active in June.
    E  1 occasion 2024-01-01: churned 2024-04-11, before the twelve months; never counted.
    F  no purchase: never counted.
    G  1 occasion 2026-03-25: churns 2026-07-04 (after the date); active Apr–Jun, not churned.
    H  1 occasion 2026-03-15: churns 2026-06-24 (before the date); active Apr–Jun, churned in June.
    I  3 occasions 2026-01-01…2026-01-21: 2 × 10 = 20 < 100, limit 100, churns 2026-05-02;
       active Feb–May, churned in May.
    J  4 occasions 2025-08-01…2026-01-08: span 160 d, 2 × 160 / 3 = 106.67, churns on day 107 = 2026-04-25;
       active Sep 2025 – Apr 2026, churned in April.
    K  (outsider) 1 occasion 2026-02-01: churns 2026-05-13; active Mar–May, churned in May.
    L  (outsider) 2 occasions 2026-06-01…2026-06-20: first purchase in June, active in no month.
    M  (outsider) 1 occasion 2025-06-30: churns 2025-10-09; active Jul–Oct 2025, churned in October.
    """
    silence = [{"code": "silence", "days": 197, "limit": 100}]
    rows = {
        "A": (owner, "2025-12-15", "2025-12-15", 1, 0.1, "high", 500, silence),
        "B": (owner, "2025-01-01", "2025-11-01", 3, 0.95, "low", 5000, ()),
        "C": (owner, "2025-09-22", "2025-09-22", 1, 0.0, "high", 1200, [{"code": "p_alive", "p_alive": 0.0}]),
        "D": (owner, "2026-05-10", "2026-05-10", 1, 1.0, "low", 100, ()),
        "E": (owner, "2024-01-01", "2024-01-01", 1, 0.2, "medium", 50, ()),
        "F": (owner, None, None, 0, None, "", 0, ()),
        "G": (owner, "2026-03-25", "2026-03-25", 1, 0.3, "medium", 2000, ()),
        "H": (owner, "2026-03-15", "2026-03-15", 1, 0.05, "high", 300, ()),
        "I": (owner, "2026-01-01", "2026-01-21", 3, 0.6, "low", 70, ()),
        "J": (owner, "2025-08-01", "2026-01-08", 4, 0.29999, "medium", 800, ()),
        "K": (outsider, "2026-02-01", "2026-02-01", 1, 0.25, "high", 10000, ()),
        "L": (outsider, "2026-06-01", "2026-06-20", 2, 0.7, "low", 40, ()),
        "M": (outsider, "2025-06-30", "2025-06-30", 1, 0.9, "medium", 100, ()),
    }
    grades = {}
    for name, (user, first, last, occasions, p_alive, risk, value, reasons) in rows.items():
        grades[name] = grade(
            run,
            user,
            name,
            first=first,
            last=last,
            occasions=occasions,
            p_alive=p_alive,
            risk=risk,
            value=value,
            reasons=reasons,
        )
    customers = {name: g.customer for name, g in grades.items()}
    # State changes: this run, a run three months back, one a day inside the twelve months, and one exactly
    # twelve months back (not inside: the twelve months start after 2025-06-30).
    march = GradingRunFactory(as_of=d("2026-03-31"))
    july = GradingRunFactory(as_of=d("2025-07-01"))
    year_ago = GradingRunFactory(as_of=d("2025-06-30"))
    changes = [
        (run, "A", "first_time", "lost"),
        (run, "C", "first_time", "lost"),
        (run, "B", "lost", "repeat"),
        (run, "D", "potential", "first_time"),
        (run, "K", "repeat", "lost"),
        (march, "J", "loyal", "lost"),
        (march, "M", "lost", "repeat"),
        (july, "G", "lost", "repeat"),
        (year_ago, "E", "first_time", "lost"),
    ]
    for change_run, name, from_state, to_state in changes:
        StateTransition.objects.create(
            run=change_run, customer=customers[name], as_of=change_run.as_of, from_state=from_state, to_state=to_state
        )
    return customers


# Worked out by hand from the dataset's docstring: (active at the start, churned) per month.
OWNER_CHURN = [(1, 0), (1, 0), (2, 0), (3, 0), (3, 0), (3, 0), (4, 1), (4, 0), (4, 1), (5, 1), (4, 1), (4, 1)]
EVERYONE_CHURN = [(2, 0), (2, 0), (3, 0), (4, 1), (3, 0), (3, 0), (4, 1), (4, 0), (5, 1), (6, 1), (5, 2), (4, 1)]
# P(alive) bins [0, .1), [.1, .2) … [.9, 1]: A .1 → 1, B .95 → 9, C 0 → 0, D 1 → 9, E .2 → 2, G .3 → 3,
# H .05 → 0, I .6 → 6, J .29999 → 2; K .25 → 2, L .7 → 7, M .9 → 9.
OWNER_BINS = [2, 1, 2, 1, 0, 0, 1, 0, 0, 2]
EVERYONE_BINS = [2, 1, 3, 1, 0, 0, 1, 1, 0, 3]


def test_churn_rate_by_month_for_a_rep(login, owner, dataset):
    response = login(owner).get(CHURN)
    assert response.status_code == 200
    rows = response.context["churn_rate"]
    assert [row["month"] for row in rows] == MONTHS
    assert [(row["active"], row["churned"]) for row in rows] == OWNER_CHURN
    by_month = {row["month"]: row for row in rows}
    assert by_month["2026-01"]["rate"] == pytest.approx(1 / 4)
    assert by_month["2026-04"]["rate"] == pytest.approx(1 / 5)
    assert by_month["2026-02"]["rate"] == 0
    html = response.content.decode()
    assert re.search(r'data-month="2026-04">.*?<td class="text-end">20\.0%</td>', html, re.S)
    assert "churn-rate-definition" in html


def test_churn_rate_by_month_for_a_manager(login, manager, dataset):
    rows = login(manager).get(CHURN).context["churn_rate"]
    assert [(row["active"], row["churned"]) for row in rows] == EVERYONE_CHURN
    assert rows[10]["rate"] == pytest.approx(2 / 5)


def test_month_with_no_active_buyer_has_no_rate(login, owner, run, churn_run):
    grade(run, owner, "Recent", first="2026-06-10", last="2026-06-10", occasions=1, p_alive=0.9, risk="low", value=1)
    rows = login(owner).get(CHURN).context["churn_rate"]
    assert all(row["active"] == 0 and row["rate"] is None for row in rows)


def test_p_alive_histogram_puts_edges_in_the_bin_above(login, owner, manager, dataset):
    bins = login(owner).get(CHURN).context["p_alive_bins"]
    assert [row["count"] for row in bins] == OWNER_BINS
    assert [row["label"] for row in bins][:2] == ["0.0–0.1", "0.1–0.2"]
    assert bins[-1]["label"] == "0.9–1.0"
    bins = login(manager).get(CHURN).context["p_alive_bins"]
    assert [row["count"] for row in bins] == EVERYONE_BINS


def test_totals_by_risk_level(login, owner, manager, dataset):
    response = login(owner).get(CHURN)
    totals = {row["churn_risk"]: (row["customers"], row["value"]) for row in response.context["risk_totals"]}
    # high: A 500 + C 1200 + H 300; medium: E 50 + G 2000 + J 800; low: B 5000 + D 100 + I 70.
    assert totals == {"high": (3, 2000.0), "medium": (3, 2850.0), "low": (3, 5170.0)}
    assert response.context["at_risk_total"] == 6
    html = response.content.decode()
    assert re.search(r'id="kpi-high">3<', html)
    response = login(manager).get(CHURN)
    totals = {row["churn_risk"]: (row["customers"], row["value"]) for row in response.context["risk_totals"]}
    # K 10000 high, M 100 medium, L 40 low join the owner's.
    assert totals == {"high": (4, 12000.0), "medium": (4, 2950.0), "low": (4, 5210.0)}


def test_at_risk_customers_high_first_then_by_value(login, owner, dataset):
    response = login(owner).get(CHURN)
    rows = response.context["at_risk"]
    assert [row["name"] for row in rows] == ["C", "A", "H", "G", "J", "E"]
    assert rows[0]["p_alive"] == 0.0 and rows[0]["value"] == 1200.0
    html = response.content.decode()
    assert "No purchase for 197 days (limit 100 days)." in html
    assert "P(alive) is 0%." in html
    assert reverse("customers:detail", args=[dataset["C"].pk]) in html
    assert "K" not in [row["name"] for row in rows]
    assert f'href="{reverse("analytics:grade_list")}?churn_risk=high"' in html


def test_at_risk_table_stops_at_fifty(login, manager, run, churn_run):
    for n in range(55):
        grade(
            run,
            None,
            f"R{n:02d}",
            first="2025-01-01",
            last="2025-02-01",
            occasions=2,
            p_alive=0.1,
            risk="high",
            value=n,
        )
    response = login(manager).get(CHURN)
    rows = response.context["at_risk"]
    assert len(rows) == 50
    assert rows[0]["name"] == "R54" and rows[-1]["name"] == "R05"
    assert response.context["at_risk_total"] == 55


def test_lost_and_won_back(login, owner, manager, dataset):
    transitions = login(owner).get(CHURN).context["transitions"]
    # This run: A and C lost, B won back; 12 months adds J lost (March) and G won back (July 1);
    # E lost on 2025-06-30 is exactly twelve months back, outside.
    assert transitions["run"] == {"lost": 2, "won_back": 1}
    assert transitions["year"] == {"lost": 3, "won_back": 2}
    assert transitions["since"] == "2025-06-30"
    transitions = login(manager).get(CHURN).context["transitions"]
    # K lost in this run, M won back in March.
    assert transitions["run"] == {"lost": 3, "won_back": 1}
    assert transitions["year"] == {"lost": 4, "won_back": 3}


def test_a_rep_sees_only_their_own_customers(login, outsider, dataset):
    response = login(outsider).get(CHURN)
    assert [row["name"] for row in response.context["at_risk"]] == ["K", "M"]
    totals = {row["churn_risk"]: row["customers"] for row in response.context["risk_totals"]}
    assert totals == {"high": 1, "medium": 1, "low": 1}
    assert response.context["transitions"]["run"] == {"lost": 1, "won_back": 0}
    assert b">C</a>" not in response.content


def test_team_manager_sees_the_team(login, team_manager, dataset):
    response = login(team_manager).get(CHURN)
    assert [row["name"] for row in response.context["at_risk"]] == ["C", "A", "H", "G", "J", "E"]


def _tables(html: str) -> list[str]:
    return re.findall(r"<table.*?</table>", html, re.S)


def test_manager_sees_the_same_figures_with_the_stored_summary(
    login, manager, run, churn_run, dataset, django_assert_max_num_queries
):
    client = login(manager)
    computed = client.get(CHURN)
    summaries_store(run=run, computations={churn_dashboard.KEY: churn_dashboard.churn_figures})
    assert stored_figures(run=run, key=churn_dashboard.KEY, scope="all") is not None
    # With the summary stored, the page no longer reads the grades: fewer queries, same page.
    with django_assert_max_num_queries(12):
        stored = client.get(CHURN)
    assert stored.context["figures"] == computed.context["figures"]
    assert _tables(stored.content.decode()) == _tables(computed.content.decode())
    assert len(_tables(stored.content.decode())) == 5


def test_rep_reads_the_figures_stored_for_their_own_customers(login, owner, run, churn_run, dataset):
    summaries_store(run=run, computations={churn_dashboard.KEY: churn_dashboard.churn_figures})
    assert stored_figures(run=run, key=churn_dashboard.KEY, scope=f"user-{owner.pk}") is not None
    response = login(owner).get(CHURN)
    assert [(row["active"], row["churned"]) for row in response.context["churn_rate"]] == OWNER_CHURN


@pytest.fixture
def many(run, churn_run, owner, outsider):
    """Enough rows to catch a query per row: 60 at-risk customers with reasons, and their state changes."""
    for n in range(60):
        user = owner if n % 2 else outsider
        g = grade(
            run,
            user,
            f"N{n}",
            first="2025-01-01",
            last="2025-06-01",
            occasions=3,
            p_alive=n / 60,
            risk="high" if n % 3 else "medium",
            value=n * 10,
            reasons=[{"code": "silence", "days": 400, "limit": 150}, {"code": "p_alive", "p_alive": 0.1}],
        )
        StateTransition.objects.create(run=run, customer=g.customer, as_of=AS_OF, from_state="repeat", to_state="lost")


def test_dashboard_runs_a_constant_number_of_queries(login, owner, manager, many, django_assert_max_num_queries):
    for user in (owner, manager):
        client = login(user)
        # 12 for the page (session, user, roles, run, churn run, four figures, recent runs, sidebar
        # permissions ×2) and 3 for saving the session (SESSION_SAVE_EVERY_REQUEST).
        with django_assert_max_num_queries(16):
            response = client.get(CHURN)
        assert response.status_code == 200
        assert len(response.context["at_risk"]) == (30 if user == owner else 50)


def test_grading_run_without_churn_run_offers_to_compute(login, manager, owner, run):
    response = login(manager).get(CHURN)
    html = response.content.decode()
    assert response.context["ready"] is False
    assert 'id="no-churn-run"' in html
    assert reverse("analytics:compute") in html
    assert 'name="as_of" value="2026-06-30"' in html
    html = login(owner).get(CHURN).content.decode()
    assert 'id="no-churn-run"' in html
    assert reverse("analytics:compute") not in html


def test_no_run_at_all_says_so(login, manager):
    response = login(manager).get(CHURN)
    assert response.status_code == 200
    assert 'id="no-run"' in response.content.decode()


def test_past_date_shows_that_run(login, manager, dataset):
    older = GradingRunFactory(as_of=d("2026-05-31"), rule_snapshot=SNAPSHOT)
    ChurnModelRunFactory(grading_run=older)
    grade(older, None, "Old", first="2025-01-01", last="2025-01-01", occasions=1, p_alive=0.1, risk="high", value=9)
    response = login(manager).get(CHURN, {"as_of": "2026-05-31"})
    assert [row["name"] for row in response.context["at_risk"]] == ["Old"]
    # The months end with the run's own month, and the full-list link keeps the date.
    assert response.context["churn_rate"][-1]["month"] == "2026-05"
    assert "churn_risk=high&amp;as_of=2026-05-31" in response.content.decode()


def test_fitted_parameters_and_a_fit_that_did_not_converge(login, manager, run):
    good = ChurnModelRunFactory(grading_run=GradingRunFactory(as_of=d("2026-05-31")))
    ChurnModelRunFactory(grading_run=run, bgnbd_converged=False, gg_converged=True, fallback_from=good)
    html = login(manager).get(CHURN).content.decode()
    bgnbd = html[html.index('id="model-bgnbd"') : html.index('id="model-gammagamma"')]
    assert "the last good parameters, from the run as of 2026-05-31" in bgnbd
    assert "30.9" in bgnbd and "-9582.4" in bgnbd and "2357" in bgnbd
    gammagamma = html[html.index('id="model-gammagamma"') :]
    assert "did not converge" not in gammagamma.split("</section>")[0]
    assert "15.44" in gammagamma


def test_service_agent_and_anonymous_cannot_open_the_dashboard(login, client, service_agent, dataset):
    assert client.get(CHURN).status_code == 302
    assert login(service_agent).get(CHURN).status_code == 404


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_csv_exports_each_table_safely(login, manager, run, churn_run, dataset):
    dataset["C"].name = "=HYPERLINK(1)"
    dataset["C"].save()
    client = login(manager)
    rows = _csv(client.get(CHURN, {"export": "at_risk"}))
    assert rows[0][:2] == ["Customer", "Account manager"]
    assert rows[2][0] == "'=HYPERLINK(1)"
    assert rows[1][0] == "K" and rows[1][4] == "10000.0"
    totals = _csv(client.get(CHURN, {"export": "risk_totals"}))
    assert totals[1:] == [["High", "4", "12000.0"], ["Medium", "4", "2950.0"], ["Low", "4", "5210.0"]]
    rate = _csv(client.get(CHURN, {"export": "churn_rate"}))
    assert rate[-2] == ["2026-05", "5", "2", "40.0"]
    bins = _csv(client.get(CHURN, {"export": "p_alive"}))
    assert [int(row[1]) for row in bins[1:]] == EVERYONE_BINS
    transitions = _csv(client.get(CHURN, {"export": "transitions"}))
    assert [row[1:] for row in transitions[1:]] == [["3", "1"], ["4", "3"]]
    models = _csv(client.get(CHURN, {"export": "models"}))
    assert ["BG/NBD", "r", "0.24"] in models


# Home-dashboard cards


@pytest.fixture
def cards_registered(monkeypatch):
    """The analytics cards, registered as AnalyticsConfig.ready will (undone after the test)."""
    monkeypatch.setitem(home_cards._providers, "analytics", (30, analytics_home_cards.cards))


def _cards(response) -> dict:
    return {str(card.label): card for card in response.context["app_cards"]}


def test_home_cards_for_a_rep_and_a_manager(login, owner, manager, dataset, cards_registered):
    from tests.analytics.test_alerts import ChurnAlertFactory

    ChurnAlertFactory(customer=dataset["A"])
    ChurnAlertFactory(customer=dataset["C"], status="lost")
    ChurnAlertFactory(customer=dataset["K"], status="contacted")
    cards = _cards(login(owner).get("/"))
    assert cards["At-risk customers"].value == 3
    assert cards["At-risk customers"].url == CHURN
    assert cards["Open churn alerts"].value == 1
    assert cards["Open churn alerts"].url == reverse("analytics:alert_list")
    cards = _cards(login(manager).get("/"))
    assert cards["At-risk customers"].value == 4
    assert cards["Open churn alerts"].value == 2


def test_home_cards_read_the_stored_totals_for_managers(login, manager, run, churn_run, dataset, cards_registered):
    summaries_store(run=run, computations={churn_dashboard.KEY: churn_dashboard.churn_figures})
    dataset["K"].delete()  # the stored figures still count K: the card does not recount
    assert _cards(login(manager).get("/"))["At-risk customers"].value == 4


def test_no_home_cards_for_service_agents(login, service_agent, dataset, cards_registered):
    assert "At-risk customers" not in _cards(login(service_agent).get("/"))


def test_home_cards_without_any_churn_run(login, owner, cards_registered):
    assert _cards(login(owner).get("/"))["At-risk customers"].value == 0


def test_home_cards_run_a_constant_number_of_queries(
    login, owner, manager, many, cards_registered, django_assert_max_num_queries
):
    for user in (owner, manager):
        request = type("Request", (), {"user": user})()
        with django_assert_max_num_queries(5):
            cards = analytics_home_cards.cards(request)
        assert len(cards) == 2


# In Chromium


@pytest.mark.browser
def test_dashboard_draws_its_charts_and_fits_a_phone(logged_in_page, manager, dataset):
    from tests.browser import PHONE, console_problems, expect, overflow_width

    page = logged_in_page(manager)
    page.goto(CHURN)
    expect(page.locator("#at-risk-table")).to_contain_text("High")
    for chart in ("risk-totals-chart", "p-alive-chart", "churn-rate-chart"):
        # Chart.js sizes each canvas once it has drawn it.
        page.wait_for_function(f"() => document.querySelector('#{chart}').width > 0")
    assert console_problems(page) == []
    phone = logged_in_page(manager, viewport=PHONE)
    phone.goto(CHURN)
    expect(phone.locator("#churn-rate-table")).to_be_visible()
    assert overflow_width(phone) == 0
