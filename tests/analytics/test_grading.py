"""The grading job against DESIGN.md's definitions: values worked out by hand, and a second simple
implementation (tests/analytics/grading_data.py) on random order books. Runs on SQLite and PostgreSQL."""

import datetime
import random
from decimal import Decimal

import pytest

from analytics.models import CustomerGrade, GradingRule, GradingRun, RfmSegment, StateTransition
from analytics.services.grading import NoActiveRule, grade_customers
from customers.models import Customer
from sales.models import Order
from tests.analytics.factories import default_rule
from tests.analytics.grading_data import buy, expected_grades
from tests.factories import CustomerFactory

AS_OF = datetime.date(2026, 6, 30)


def day(n: int) -> datetime.date:
    """n days before AS_OF."""
    return AS_OF - datetime.timedelta(days=n)


@pytest.fixture
def rule(db):
    return default_rule()


@pytest.fixture
def customers(owner):
    def make(count):
        return [CustomerFactory(owner=owner) for _i in range(count)]

    return make


def grades_of(run) -> dict[int, CustomerGrade]:
    return {g.customer_id: g for g in CustomerGrade.objects.filter(run=run)}


def test_frequency_scores_keep_ties_together(rule, customers):
    # Frequencies 1, 1, 2, 3, 5: b (strictly fewer) = 0, 0, 2, 3, 4; 1 + ⌊5b/5⌋ = 1, 1, 3, 4, 5.
    people = customers(5)
    for person, occasions in zip(people, [1, 1, 2, 3, 5], strict=True):
        for i in range(occasions):
            buy(person, day(10 + i), 100)
    grades = grades_of(grade_customers(as_of=AS_OF))
    assert [grades[p.pk].f for p in people] == [1, 1, 3, 4, 5]


def test_recency_and_monetary_scores_by_hand(rule, customers):
    # Seven buyers, N = 5. Recency days 5, 5, 20, 40, 40, 40, 300: strictly older last purchases
    # b = 5, 5, 4, 1, 1, 1, 0 → 1 + ⌊5b/7⌋ = 4, 4, 3, 1, 1, 1, 1.
    # Amounts 10, 20, 20, 20, 50, 80, 90: strictly smaller b = 0, 1, 1, 1, 4, 5, 6 → 1, 1, 1, 1, 3, 4, 5.
    people = customers(7)
    for person, (days_ago, amount) in zip(
        people, [(5, 10), (5, 20), (20, 20), (40, 20), (40, 50), (40, 80), (300, 90)], strict=True
    ):
        buy(person, day(days_ago), amount)
    grades = grades_of(grade_customers(as_of=AS_OF))
    assert [grades[p.pk].r for p in people] == [4, 4, 3, 1, 1, 1, 1]
    assert [grades[p.pk].m for p in people] == [1, 1, 1, 1, 3, 4, 5]
    assert [grades[p.pk].recency for p in people] == [5, 5, 20, 40, 40, 40, 300]
    assert grades[people[0].pk].rfm_code == "411"
    assert grades[people[6].pk].rfm_code == "115"


def test_same_day_orders_are_one_occasion_and_cancelled_or_later_orders_do_not_count(rule, customers):
    (person,) = customers(1)
    buy(person, day(10), 100, 60)
    buy(person, day(10), 50, 20)  # same day: one occasion of 150
    buy(person, day(3), 70, 70, status=Order.Status.CANCELLED)
    buy(person, AS_OF + datetime.timedelta(days=1), 999)  # after the as-of date
    grade = grades_of(grade_customers(as_of=AS_OF))[person.pk]
    assert (grade.occasions, grade.frequency, grade.recency) == (1, 1, 10)
    assert grade.monetary == Decimal("150.00")
    assert grade.gross_profit == Decimal("70.00")
    assert grade.state == Customer.State.FIRST_TIME
    assert (grade.first_purchase, grade.last_purchase) == (day(10), day(10))


def test_customers_without_purchases_are_potential_with_no_scores(rule, customers):
    buyer, idle = customers(2)
    buy(buyer, day(1), 10)
    grade = grades_of(grade_customers(as_of=AS_OF))[idle.pk]
    assert (grade.state, grade.tier, grade.rfm_code, grade.segment, grade.r) == ("potential", "", "", "", None)
    assert grade.lifecycle_stage == "exploration"


def test_pyramid_cuts_by_share_of_customers(rule, customers):
    # 100 buyers with profits 1..100: the best 1 is VIP, the next 4 key, the next 15 ordinary, 80 small.
    people = customers(100)
    for i, person in enumerate(people, start=1):
        buy(person, day(5), 1000, 1000 - i)
    grades = grades_of(grade_customers(as_of=AS_OF))
    tiers = [grades[p.pk].tier for p in reversed(people)]
    assert tiers == ["vip"] + ["key"] * 4 + ["ordinary"] * 15 + ["small"] * 80
    assert grades[people[-1].pk].value == Decimal("100.00")


def test_pyramid_keeps_equal_values_in_one_tier(rule, customers):
    # Ten buyers: 1 % of 10 rounds to nobody but the best; two tied best are both VIP.
    people = customers(10)
    for person, profit in zip(people, [500, 500, 300, 200, 100, 90, 80, 70, 60, 50], strict=True):
        buy(person, day(5), 1000, 1000 - profit)
    grades = grades_of(grade_customers(as_of=AS_OF))
    # better = 0, 0 → VIP; 2 → 2/10 = 20 % is not below 20 % → small; ordinary needs b/n < 20 %: none left.
    assert [grades[p.pk].tier for p in people] == ["vip", "vip"] + ["small"] * 8


def test_segments_follow_the_rules_table(rule, customers):
    # One buyer alone scores 1 + ⌊5·0/1⌋ = 1 everywhere: "hibernating" in the default table (R 1–2, F 1–2).
    (person,) = customers(1)
    buy(person, day(1), 10)
    grade = grades_of(grade_customers(as_of=AS_OF))[person.pk]
    assert (grade.rfm_code, grade.segment) == ("111", "hibernating")


def test_unmatched_scores_fall_in_other(rule, customers):
    rule.segments.all().delete()
    RfmSegment.objects.create(rule=rule, position=1, key="champions", r_min=5, r_max=5, f_min=5, f_max=5)
    (person,) = customers(1)
    buy(person, day(1), 10)
    assert grades_of(grade_customers(as_of=AS_OF))[person.pk].segment == "other"


def test_states_by_hand(rule, customers):
    # Default rule: k = 3, floor 180 days; loyal = 3 occasions in 12 months and last within 90 days.
    first_time, repeat, loyal, lost_interval, kept_by_floor, lost_single = customers(6)
    buy(first_time, day(100), 10)
    buy(repeat, day(200), 10)
    buy(repeat, day(20), 10)
    for n in (80, 50, 20):
        buy(loyal, day(n), 10)
    # Mean interval 100 days → limit 300; silent 301 days → lost.
    buy(lost_interval, day(401), 10)
    buy(lost_interval, day(301), 10)
    # Mean interval 10 days → 30, but the floor is 180; silent 170 days → still repeat.
    buy(kept_by_floor, day(180), 10)
    buy(kept_by_floor, day(170), 10)
    buy(lost_single, day(181), 10)
    grades = grades_of(grade_customers(as_of=AS_OF))
    states = [grades[c.pk].state for c in (first_time, repeat, loyal, lost_interval, kept_by_floor, lost_single)]
    assert states == ["first_time", "repeat", "loyal", "lost", "repeat", "lost"]


def test_lifecycle_stages_by_hand(rule, customers):
    # exploration < 180 days of tenure; stability from 730; decline when lost or spend fell by more than half.
    new, forming, stable, falling = customers(4)
    buy(new, day(100), 10)
    buy(forming, day(400), 10)
    buy(forming, day(20), 10)
    buy(stable, day(800), 10)
    buy(stable, day(10), 10)
    # Spend 200 in the period before the last 180 days, 90 in the last: fell by 55 % > 50 %.
    buy(falling, day(300), 200)
    buy(falling, day(10), 90)
    grades = grades_of(grade_customers(as_of=AS_OF))
    stages = [grades[c.pk].lifecycle_stage for c in (new, forming, stable, falling)]
    assert stages == ["exploration", "formation", "stability", "decline"]


def test_state_changes_are_recorded_between_runs(rule, customers):
    to_loyal, to_lost, won_back = customers(3)
    first = datetime.date(2026, 1, 31)
    for n in (40, 10):
        buy(to_loyal, first - datetime.timedelta(days=n), 10)
    buy(to_lost, datetime.date(2025, 9, 1), 10)
    buy(to_lost, datetime.date(2025, 10, 1), 10)
    buy(won_back, datetime.date(2024, 1, 1), 10)
    buy(won_back, datetime.date(2024, 2, 1), 10)
    grade_customers(as_of=first)
    assert [grades_of(GradingRun.objects.get(as_of=first))[c.pk].state for c in (to_loyal, to_lost, won_back)] == [
        "repeat",
        "repeat",
        "lost",
    ]
    buy(to_loyal, datetime.date(2026, 2, 10), 10)
    buy(won_back, datetime.date(2026, 2, 20), 10)
    second = grade_customers(as_of=datetime.date(2026, 4, 30))
    moves = {(t.customer_id, t.from_state, t.to_state) for t in StateTransition.objects.filter(run=second)}
    assert moves == {
        (to_loyal.pk, "repeat", "loyal"),
        (to_lost.pk, "repeat", "lost"),
        (won_back.pk, "lost", "repeat"),
    }
    assert StateTransition.objects.get(run=second, customer=won_back).is_won_back


def test_rerunning_a_date_replaces_its_rows(rule, customers):
    people = customers(3)
    for i, person in enumerate(people):
        buy(person, day(10 * i + 31), 100 * (i + 1))
    grade_customers(as_of=day(30))
    buy(people[0], day(5), 5)  # moves people[0] from first-time to repeat in the second run
    first = grade_customers(as_of=AS_OF)
    before = sorted(CustomerGrade.objects.filter(run=first).values_list("customer_id", "rfm_code", "tier", "state"))
    again = grade_customers(as_of=AS_OF)
    assert again.pk == first.pk
    assert GradingRun.objects.filter(as_of=AS_OF).count() == 1
    assert CustomerGrade.objects.filter(run=again).count() == 3
    assert (
        sorted(CustomerGrade.objects.filter(run=again).values_list("customer_id", "rfm_code", "tier", "state"))
        == before
    )
    assert StateTransition.objects.filter(run=again).count() == 1


def test_customers_carry_the_latest_grade_not_a_past_one(rule, customers):
    (person,) = customers(1)
    buy(person, day(400), 10)
    buy(person, day(5), 10)
    grade_customers(as_of=AS_OF)
    person.refresh_from_db()
    assert (person.state, person.tier, person.rfm_code) == ("repeat", "vip", "111")
    assert person.graded_at is not None
    grade_customers(as_of=day(100))  # looking back: the customer's current grade stays
    person.refresh_from_db()
    assert person.state == "repeat"
    assert GradingRun.objects.get(as_of=day(100)).counts["latest"] is False


def test_archived_customers_are_not_graded(rule, customers):
    kept, archived = customers(2)
    buy(kept, day(1), 10)
    buy(archived, day(1), 10)
    Customer.objects.filter(pk=archived.pk).update(archived=True)
    run = grade_customers(as_of=AS_OF)
    assert set(grades_of(run)) == {kept.pk}
    assert run.counts["buyers"] == 1


def test_look_back_window_and_fixed_thresholds(rule, customers):
    rule.lookback_days = 365
    rule.rfm_method = GradingRule.RfmMethod.THRESHOLDS
    rule.recency_thresholds = [30, 90, 180, 365]
    rule.frequency_thresholds = [2, 3, 5, 10]
    rule.monetary_thresholds = [100, 500, 1000, 5000]
    rule.save()
    recent, old_and_recent, outside = customers(3)
    buy(recent, day(30), 100)  # within 30 days → R 5; 1 occasion → F 1; 100 → M 2
    buy(old_and_recent, day(400), 5000)  # outside the window: not counted in R, F or M
    buy(old_and_recent, day(91), 400)  # 91 days → R 3
    buy(old_and_recent, day(100), 200)  # F 2 → 2; M 600 → 3
    buy(outside, day(365), 10)  # exactly 365 days back is outside a 365-day window
    grades = grades_of(grade_customers(as_of=AS_OF))
    assert grades[recent.pk].rfm_code == "512"
    assert grades[old_and_recent.pk].rfm_code == "323"
    assert grades[old_and_recent.pk].monetary == Decimal("600.00")
    assert grades[old_and_recent.pk].occasions == 3
    assert (grades[outside.pk].frequency, grades[outside.pk].tier, grades[outside.pk].rfm_code) == (0, "", "")
    assert grades[outside.pk].state == "lost"


@pytest.mark.parametrize("seed", [1, 2])
def test_grades_match_a_second_implementation_on_random_order_books(rule, customers, seed):
    rng = random.Random(seed)
    people = customers(40)
    orders = []
    for person in people[:35]:  # five customers never buy
        for _n in range(rng.choice([1, 1, 2, 3, 5, 8])):
            when = day(rng.randrange(-20, 900))
            amount = rng.choice([50, 100, 100, 250, 999])
            cost = rng.choice([0, 20, 60])
            status = rng.choice([Order.Status.CONFIRMED] * 5 + [Order.Status.CANCELLED])
            buy(person, when, amount, cost, status=status)
            orders.append((person.pk, when, amount, cost, status))
    expected = expected_grades(orders, [p.pk for p in people], AS_OF, rule=rule)
    grades = grades_of(grade_customers(as_of=AS_OF))
    for person in people:
        e, g = expected[person.pk], grades[person.pk]
        got = (g.occasions, g.recency, g.frequency, g.monetary, g.gross_profit, g.r, g.f, g.m, g.tier, g.state)
        want = (e.occasions, e.recency, e.frequency, e.monetary, e.profit, e.r, e.f, e.m, e.tier, e.state)
        assert got == want, person.pk
        assert g.lifecycle_stage == e.lifecycle, person.pk


def test_grading_runs_as_many_queries_for_many_customers_as_for_few(rule, customers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_grade(count, as_of):
        for i, person in enumerate(customers(count)):
            buy(person, as_of - datetime.timedelta(days=i + 1), 10 * (i + 1))
            buy(person, as_of - datetime.timedelta(days=i + 50), 5)
        with CaptureQueriesContext(connection) as queries:
            grade_customers(as_of=as_of)
        return len(queries)

    grade_customers(as_of=day(400))  # so that both measured runs have a previous run to compare with
    assert queries_to_grade(3, day(200)) == queries_to_grade(40, AS_OF)


def test_no_active_rule_is_a_clear_error(db):
    GradingRule.objects.update(active=False)
    with pytest.raises(NoActiveRule, match="activate one"):
        grade_customers(as_of=AS_OF)
