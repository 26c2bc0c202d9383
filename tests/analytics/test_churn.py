"""The churn job and the detect_churn command on orders built with factories: what the models are
fitted on (same-day orders one occasion, cancelled and later orders ignored), the figures written
per customer, the rules at their boundaries, churn risk, alerts and win-back tasks, won back,
idempotent reruns, the fallback when a fit does not converge, and the command's output."""

import datetime
import itertools
import re
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import bgnbd, gammagamma
from analytics.models import ChurnAlert, ChurnModelRun, CustomerGrade, GradingRun, RunStatus
from analytics.services import churn
from analytics.services.grading import grade_customers
from customers.models import Customer, Task
from sales.models import Order
from service.models import DIMENSIONS, SurveyInvitation, SurveyResponse, Ticket
from tests.analytics.factories import default_rule
from tests.factories import CustomerFactory
from tests.sales.factories import OrderFactory, OrderLineFactory, ProductFactory
from tests.service.factories import TicketFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 6, 30)
_tokens = itertools.count(1)


def days_before(n: int, as_of: datetime.date = AS_OF) -> datetime.date:
    return as_of - datetime.timedelta(days=n)


@pytest.fixture
def product(db):
    return ProductFactory(sku="CHURN-1")


@pytest.fixture
def rule(db):
    return default_rule()


def buy(customer, day, amount, cost=0, *, product, status=Order.Status.CONFIRMED) -> Order:
    """One order of one line: its amount and cost follow the line."""
    order = OrderFactory(customer=customer, ordered_at=day, status=status)
    OrderLineFactory(order=order, product=product, unit_price=Decimal(str(amount)), unit_cost=Decimal(str(cost)))
    return order


def survey(customer, overall: int, answered_at: datetime.datetime) -> SurveyResponse:
    invitation = SurveyInvitation.objects.create(
        token=f"churn-{next(_tokens)}",
        customer=customer,
        email="someone@example.com",
        expires_at=answered_at + datetime.timedelta(days=10),
        responded_at=answered_at,
    )
    scores = {f"{dim}_{side}": 4 for dim in DIMENSIONS for side in ("expected", "perceived")}
    return SurveyResponse.objects.create(
        invitation=invitation,
        customer=customer,
        overall_satisfaction=overall,
        likelihood_to_recommend=5,
        answered_at=answered_at,
        **scores,
    )


def complaint(customer, *, status=Ticket.Status.NEW, type=Ticket.Type.COMPLAINT, opened=AS_OF) -> Ticket:
    return TicketFactory(customer=customer, type=type, status=status, created_at=noon(opened))


def noon(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def grade_of(customer, as_of=AS_OF) -> CustomerGrade:
    return CustomerGrade.objects.get(run__as_of=as_of, customer=customer)


def rule_codes(grade) -> list[str]:
    """The rule signals of a grade (the P(alive) reason is the model's, not a rule's)."""
    return [reason["code"] for reason in grade.churn_reasons if reason["code"] != "p_alive"]


# ---------------------------------------------------------------------------------------------
# A population the models can be fitted on, with the triples worked out here by hand


def population(owner, product, rng_seed=1, n=40):
    """n customers with 1–6 purchase days in the two years before AS_OF (amounts and costs varied),
    plus noise the job must ignore: a second order on a purchase day, cancelled orders, orders after
    AS_OF. Returns {customer: (days, amounts per day, costs per day)} of what counts."""
    rng = np.random.default_rng(rng_seed)
    counted = {}
    for i in range(n):
        customer = CustomerFactory(owner=owner, name=f"Pop {i:02d}")
        first = int(rng.integers(30, 720))
        occasions = int(rng.integers(1, 7))
        offsets = sorted({first} | {int(v) for v in rng.integers(0, first, occasions - 1)}, reverse=True)
        days, amounts, costs = [], [], []
        for offset in offsets:
            day = days_before(offset)
            amount = int(rng.integers(50, 400))
            cost = amount // 2
            buy(customer, day, amount, cost, product=product)
            total, total_cost = amount, cost
            if i % 5 == 0:
                # A second order the same day: one occasion, amounts summed.
                buy(customer, day, 25, 5, product=product)
                total, total_cost = total + 25, total_cost + 5
            days.append(day)
            amounts.append(total)
            costs.append(total_cost)
        if i % 7 == 0:
            buy(customer, days_before(3), 999, 1, product=product, status=Order.Status.CANCELLED)
        if i % 6 == 0:
            buy(customer, AS_OF + datetime.timedelta(days=3), 777, 7, product=product)
        counted[customer] = (days, amounts, costs)
    return counted


def triples(counted):
    """(x, t_x, T) per customer, by hand from the counted purchase days."""
    return {
        customer: (len(days) - 1, (days[-1] - days[0]).days, (AS_OF - days[0]).days)
        for customer, (days, _amounts, _costs) in counted.items()
    }


def test_models_are_fitted_on_purchase_occasions_as_of_the_date(owner, product):
    counted = population(owner, product)
    CustomerFactory(owner=owner, name="Never bought")
    cancelled_only = CustomerFactory(owner=owner, name="Cancelled only")
    buy(cancelled_only, days_before(10), 500, product=product, status=Order.Status.CANCELLED)

    run = churn.detect_churn(as_of=AS_OF)

    assert run.status == RunStatus.SUCCEEDED
    assert run.bgnbd_converged and run.gg_converged
    by_customer = triples(counted)
    x, t_x, T = (np.array(column, dtype=float) for column in zip(*by_customer.values(), strict=True))
    assert run.bgnbd_n == len(counted) == run.counts["scored"]
    # The stored parameters are the maximum-likelihood estimate on the hand-made triples.
    refit = bgnbd.fit(x, t_x, T)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(run, f"bgnbd_{name}") == pytest.approx(getattr(refit, name), rel=1e-6)
    assert run.bgnbd_loglik == pytest.approx(bgnbd.log_likelihood(refit.r, refit.alpha, refit.a, refit.b, x, t_x, T))

    # Gamma-Gamma: repeat customers, m_x = mean amount of the repeat occasions (first day left out).
    repeaters = {c: (len(a) - 1, sum(a[1:]) / (len(a) - 1)) for c, (_d, a, _c) in counted.items() if len(a) > 1}
    gx, gm = (np.array(column, dtype=float) for column in zip(*repeaters.values(), strict=True))
    assert run.gg_n == len(repeaters)
    refit_gg = gammagamma.fit(gx, gm)
    for name in ("p", "q", "gamma"):
        assert getattr(run, f"gg_{name}") == pytest.approx(getattr(refit_gg, name), rel=1e-6)

    revenue = sum(sum(a) for _d, a, _c in counted.values())
    cost = sum(sum(c) for _d, _a, c in counted.values())
    assert run.average_margin == pytest.approx((revenue - cost) / revenue, rel=1e-12)

    assert CustomerGrade.objects.filter(run__as_of=AS_OF, p_alive__isnull=True).count() == 2
    for name in ("Never bought", "Cancelled only"):
        grade = CustomerGrade.objects.get(run__as_of=AS_OF, customer__name=name)
        assert (grade.p_alive, grade.expected_purchases, grade.clv, grade.churn_risk) == (None, None, None, "")


def test_each_buyer_gets_p_alive_expected_purchases_and_clv(owner, product, rule):
    counted = population(owner, product, rng_seed=2)
    run = churn.detect_churn(as_of=AS_OF)
    bg = bgnbd.BgNbdFit(run.bgnbd_r, run.bgnbd_alpha, run.bgnbd_a, run.bgnbd_b, 0, 0, True)
    p, q, gamma = run.gg_p, run.gg_q, run.gg_gamma
    revenue = sum(sum(a) for _d, a, _c in counted.values())
    margin = (revenue - sum(sum(c) for _d, _a, c in counted.values())) / revenue
    month = 365.25 / 12
    for customer, (x, t_x, T) in triples(counted).items():
        grade = grade_of(customer)
        assert grade.p_alive == pytest.approx(bgnbd.p_alive(bg, [x], [t_x], [T])[0], rel=1e-9)
        assert grade.expected_purchases == pytest.approx(bgnbd.expected_purchases(bg, 365, [x], [t_x], [T])[0])
        amounts = counted[customer][1]
        if x:
            m_x = sum(amounts[1:]) / x
            spend = (gamma + x * m_x) * p / (p * x + q - 1)
        else:
            spend = p * gamma / (q - 1)
        # Expected purchases month by month over 12 months, each discounted by 1 % a month.
        cumulative = [bgnbd.expected_purchases(bg, m * month, [x], [t_x], [T])[0] for m in range(13)]
        discounted = sum((cumulative[m] - cumulative[m - 1]) / 1.01**m for m in range(1, 13))
        assert float(grade.clv) == pytest.approx(margin * spend * discounted, abs=0.006)
        assert grade.churn_risk in {"low", "medium", "high"}
    assert run.counts["high"] + run.counts["medium"] + run.counts["low"] == len(counted)


def test_without_customers_the_run_succeeds_empty(db, rule):
    CustomerFactory()
    run = churn.detect_churn(as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED
    assert run.counts["scored"] == 0 and run.bgnbd_n == 0
    assert "No customer has a purchase" in run.message


def test_grades_first_when_the_date_has_no_grading_run(owner, product):
    buy(CustomerFactory(owner=owner), days_before(5), 100, product=product)
    assert not GradingRun.objects.filter(as_of=AS_OF).exists()
    run = churn.detect_churn(as_of=AS_OF)
    assert run.grading_run.as_of == AS_OF and run.grading_run.status == RunStatus.SUCCEEDED


# ---------------------------------------------------------------------------------------------
# The rules, at their boundaries


def test_silence_rule_fires_past_k_times_the_own_interval_at_least_the_floor(owner, product, rule):
    """k = 3, floor 180 days. Two purchases 100 days apart: limit 300. One purchase: limit 180.
    Purchases 10 days apart: 3 × 10 = 30 < 180, limit 180."""

    def customer(name, *offsets):
        c = CustomerFactory(owner=owner, name=name)
        for offset in offsets:
            buy(c, days_before(offset), 100, product=product)
        return c

    cases = {
        customer("interval at limit", 400, 300): None,
        customer("interval past limit", 401, 301): {"code": "silence", "days": 301, "limit": 300},
        customer("once at floor", 180): None,
        customer("once past floor", 181): {"code": "silence", "days": 181, "limit": 180},
        customer("short interval at floor", 190, 180): None,
        customer("short interval past floor", 191, 181): {"code": "silence", "days": 181, "limit": 180},
    }
    churn.detect_churn(as_of=AS_OF)
    for c, reason in cases.items():
        grade = grade_of(c)
        silence = [r for r in grade.churn_reasons if r["code"] == "silence"]
        assert silence == ([reason] if reason else []), c.name
        if reason:
            assert grade.churn_risk == "high", c.name


def test_silence_limit_with_a_fractional_multiple_is_exact(owner, product, rule):
    """k = 2.5, floor 30: three purchases over 45 days, mean 22.5, limit 56.25 — 56 days silent is
    within it, 57 beyond."""
    rule.churn_interval_multiple = Decimal("2.5")
    rule.churn_min_days = 30
    rule.save()
    within = CustomerFactory(owner=owner, name="within")
    beyond = CustomerFactory(owner=owner, name="beyond")
    for c, last in ((within, 56), (beyond, 57)):
        for offset in (last + 45, last + 20, last):
            buy(c, days_before(offset), 100, product=product)
    churn.detect_churn(as_of=AS_OF)
    assert rule_codes(grade_of(within)) == []
    assert grade_of(beyond).churn_reasons[0] == {"code": "silence", "days": 57, "limit": 56}


def test_spend_drop_rule_fires_past_the_share(owner, product, rule):
    """Period 180 days, share 0.5: the last 180 days against the 180 before (by order date)."""

    def customer(name, previous, last):
        c = CustomerFactory(owner=owner, name=name)
        buy(c, days_before(200), previous, product=product)
        buy(c, days_before(10), last, product=product)
        return c

    half = customer("exactly half", 1000, 500)
    more = customer("more than half", 1000, "499.99")
    nothing_before = CustomerFactory(owner=owner, name="nothing before")
    buy(nothing_before, days_before(10), 100, product=product)
    # Edges of the periods: day 180 before is in the last period's predecessor, day 360 the first one out.
    edges = CustomerFactory(owner=owner, name="edges")
    buy(edges, days_before(360), 5000, product=product)
    buy(edges, days_before(180), 1000, product=product)
    buy(edges, days_before(179), 400, product=product)
    churn.detect_churn(as_of=AS_OF)
    assert "spend_drop" not in rule_codes(grade_of(half))
    assert [r for r in grade_of(more).churn_reasons if r["code"] == "spend_drop"] == [
        {"code": "spend_drop", "share": 0.5, "period_days": 180}
    ]
    assert "spend_drop" not in rule_codes(grade_of(nothing_before))
    assert [r for r in grade_of(edges).churn_reasons if r["code"] == "spend_drop"] == [
        {"code": "spend_drop", "share": 0.6, "period_days": 180}
    ]


def test_complaint_rule_needs_an_open_complaint_and_a_low_latest_survey(owner, product, rule):
    """Bar: overall satisfaction ≤ 2."""
    names = ["low", "at bar", "above bar", "resolved", "closed", "inquiry", "no survey", "latest good", "later"]
    customers = {name: CustomerFactory(owner=owner, name=name) for name in names}
    for c in customers.values():
        buy(c, days_before(20), 100, product=product)
    when = noon(days_before(5))
    for name, score in [("low", 1), ("at bar", 2), ("above bar", 3), ("resolved", 1), ("closed", 1), ("inquiry", 1)]:
        survey(customers[name], score, when)
    for name in ("low", "at bar", "above bar", "no survey", "latest good", "later"):
        complaint(customers[name])
    complaint(customers["low"])
    complaint(customers["resolved"], status=Ticket.Status.RESOLVED)
    complaint(customers["closed"], status=Ticket.Status.CLOSED)
    complaint(customers["inquiry"], type=Ticket.Type.INQUIRY)
    survey(customers["latest good"], 1, when - datetime.timedelta(days=3))
    survey(customers["latest good"], 5, when)
    # Answered and opened after the as-of date: not known then.
    survey(customers["later"], 1, noon(AS_OF + datetime.timedelta(days=1)))
    complaint(customers["no survey"], opened=AS_OF + datetime.timedelta(days=1))

    churn.detect_churn(as_of=AS_OF)
    complaints = {
        name: [r for r in grade_of(c).churn_reasons if r["code"] == "complaint"] for name, c in customers.items()
    }
    assert complaints == {
        "low": [{"code": "complaint", "tickets": 2, "satisfaction": 1}],
        "at bar": [{"code": "complaint", "tickets": 1, "satisfaction": 2}],
        "above bar": [],
        "resolved": [],
        "closed": [],
        "inquiry": [],
        "no survey": [],
        "latest good": [],
        "later": [],
    }


@pytest.mark.parametrize(
    ("p_alive", "signals", "silent", "risk"),
    [
        (0.29, 0, False, "high"),
        (0.3, 0, False, "medium"),
        (0.59, 0, False, "medium"),
        (0.6, 0, False, "low"),
        (None, 0, False, "low"),
        (0.9, 1, False, "medium"),
        (None, 1, False, "medium"),
        (0.9, 2, False, "high"),
        (0.9, 1, True, "high"),
        (None, 3, False, "high"),
    ],
)
def test_churn_risk_mapping(rule, p_alive, signals, silent, risk):
    assert churn.churn_risk_of(p_alive=p_alive, signals=signals, silent=silent, rule=rule) == risk


def fixed_model(monkeypatch, p_alive_by_name: dict):
    """Replace the fitted models' figures by P(alive) values chosen per customer name."""
    names = dict(Customer.objects.values_list("pk", "name"))

    def figures(buyers, models, rule, margin):
        p = np.array([p_alive_by_name.get(names[int(c)], 0.9) for c in buyers.customer_id], dtype=float)
        return p, np.full(buyers.n, 1.5), np.full(buyers.n, 1234.5)

    monkeypatch.setattr(churn, "_model_figures", figures)


def test_risk_comes_from_p_alive_and_the_rule_signals(owner, product, rule, monkeypatch):
    def customer(name, *offsets_amounts):
        c = CustomerFactory(owner=owner, name=name)
        for offset, amount in offsets_amounts:
            buy(c, days_before(offset), amount, product=product)
        return c

    steady = customer("steady", (200, 100), (10, 100))
    dropping = customer("dropping", (200, 1000), (10, 100))
    dropping_complaining = customer("dropping and complaining", (200, 1000), (10, 100))
    complaint(dropping_complaining)
    survey(dropping_complaining, 1, noon(days_before(3)))
    silent = customer("silent", (200, 100))
    fading = customer("fading", (200, 100), (10, 100))
    wavering = customer("wavering", (200, 100), (10, 100))
    fixed_model(monkeypatch, {"fading": 0.2, "wavering": 0.5})

    churn.detect_churn(as_of=AS_OF)
    assert grade_of(steady).churn_risk == "low"
    assert grade_of(dropping).churn_risk == "medium"
    assert grade_of(dropping_complaining).churn_risk == "high"
    assert rule_codes(grade_of(dropping_complaining)) == ["spend_drop", "complaint"]
    assert grade_of(silent).churn_risk == "high"
    assert grade_of(fading).churn_risk == "high"
    assert grade_of(fading).churn_reasons == [{"code": "p_alive", "p_alive": 0.2}]
    assert grade_of(wavering).churn_risk == "medium" and grade_of(wavering).churn_reasons == []
    assert grade_of(steady).clv == Decimal("1234.50") and grade_of(steady).expected_purchases == 1.5


# ---------------------------------------------------------------------------------------------
# Alerts, tasks, won back


@pytest.fixture
def at_risk(owner, product, rule):
    """Silent customers (high risk) of value (gross profit) 1,000, 999.99 and 5,000 (no owner), and a
    valuable customer at low risk."""
    valuable = CustomerFactory(owner=owner, name="Valuable")
    buy(valuable, days_before(400), 1500, 500, product=product)
    just_below = CustomerFactory(owner=owner, name="Just below")
    buy(just_below, days_before(400), "1499.99", 500, product=product)
    unowned = CustomerFactory(owner=None, name="In the pool")
    buy(unowned, days_before(400), 6000, 1000, product=product)
    fine = CustomerFactory(owner=owner, name="Fine")
    buy(fine, days_before(5), 9000, 1000, product=product)
    return {"valuable": valuable, "just_below": just_below, "unowned": unowned, "fine": fine}


def test_alerts_open_with_a_win_back_task_for_valuable_high_risk_customers(at_risk, owner):
    run = churn.detect_churn(as_of=AS_OF)
    alerts = {alert.customer: alert for alert in ChurnAlert.objects.select_related("task")}
    assert set(alerts) == {at_risk["valuable"], at_risk["unowned"]}
    alert = alerts[at_risk["valuable"]]
    grade = grade_of(at_risk["valuable"])
    assert alert.status == ChurnAlert.Status.OPEN
    assert alert.opened_on == AS_OF and alert.churn_run == run
    assert alert.value_at_risk == grade.value == Decimal("1000.00")
    assert alert.reasons == grade.churn_reasons and alert.reasons[0]["code"] == "silence"
    assert alert.p_alive == grade.p_alive
    task = alert.task
    assert (task.owner, task.customer, task.source, task.done) == (owner, at_risk["valuable"], "churn_alert", False)
    assert task.title == "Win back “Valuable”: high risk of churning"
    assert "No purchase for 400 days (limit 180 days)." in task.notes
    assert task.due_date == AS_OF + datetime.timedelta(days=7)
    # A pool customer has nobody to call yet: the alert opens without a task.
    assert alerts[at_risk["unowned"]].task is None
    assert run.counts["alerts_opened"] == 2
    assert Task.objects.filter(source="churn_alert").count() == 1


def test_rerunning_the_date_changes_nothing(at_risk, owner, product):
    population(owner, product, rng_seed=3, n=25)
    first = churn.detect_churn(as_of=AS_OF)
    alerts, tasks = ChurnAlert.objects.count(), Task.objects.filter(source="churn_alert").count()
    assert alerts >= 2 and alerts == first.counts["alerts_opened"]
    figures = list(
        CustomerGrade.objects.filter(run__as_of=AS_OF)
        .order_by("customer_id")
        .values_list("customer_id", "p_alive", "expected_purchases", "clv", "churn_risk", "churn_reasons")
    )
    second = churn.detect_churn(as_of=AS_OF)
    assert second.pk == first.pk and ChurnModelRun.objects.count() == 1
    assert figures == list(
        CustomerGrade.objects.filter(run__as_of=AS_OF)
        .order_by("customer_id")
        .values_list("customer_id", "p_alive", "expected_purchases", "clv", "churn_risk", "churn_reasons")
    )
    assert (second.bgnbd_r, second.gg_p, second.bgnbd_loglik) == (first.bgnbd_r, first.gg_p, first.bgnbd_loglik)
    assert ChurnAlert.objects.count() == alerts and Task.objects.filter(source="churn_alert").count() == tasks
    # Nothing left to open or to copy onto the customers; the rest of the counts as before.
    assert second.counts["alerts_opened"] == second.counts["customers_changed"] == 0
    same = ("scored", "high", "medium", "low", "won_back", "latest")
    assert {k: second.counts[k] for k in same} == {k: first.counts[k] for k in same}


def test_a_purchase_after_the_alert_marks_it_won_back(at_risk, product):
    churn.detect_churn(as_of=AS_OF)
    alert = ChurnAlert.objects.get(customer=at_risk["valuable"])
    # A purchase on the alert's own day was already known when it opened.
    buy(at_risk["valuable"], AS_OF, 10, product=product)
    churn.detect_churn(as_of=AS_OF)
    alert.refresh_from_db()
    assert alert.status == ChurnAlert.Status.OPEN

    later = AS_OF + datetime.timedelta(days=30)
    buy(at_risk["valuable"], AS_OF + datetime.timedelta(days=10), 200, product=product)
    run = churn.detect_churn(as_of=later)
    alert.refresh_from_db()
    assert alert.status == ChurnAlert.Status.WON_BACK and alert.closed_at is not None
    assert alert.version == 2
    assert alert.task.done
    assert run.counts["won_back"] == 1
    # The pool customer stays unresolved: no new alert for them, and none for the won-back customer.
    assert ChurnAlert.objects.unresolved().get().customer == at_risk["unowned"]
    assert run.counts["alerts_opened"] == 0


def test_a_resolved_alert_does_not_stop_a_new_one(at_risk):
    churn.detect_churn(as_of=AS_OF)
    ChurnAlert.objects.filter(customer=at_risk["valuable"]).update(status=ChurnAlert.Status.LOST)
    run = churn.detect_churn(as_of=AS_OF + datetime.timedelta(days=1))
    assert run.counts["alerts_opened"] == 1
    assert ChurnAlert.objects.filter(customer=at_risk["valuable"]).count() == 2


# ---------------------------------------------------------------------------------------------
# Latest date only, fallback


def test_customer_fields_follow_the_latest_date_only(owner, product, rule, monkeypatch):
    customer = CustomerFactory(owner=owner, name="Moving")
    buy(customer, days_before(400), 100, product=product)
    later = AS_OF + datetime.timedelta(days=30)
    buy(customer, later, 100, product=product)
    fixed_model(monkeypatch, {})

    churn.detect_churn(as_of=later)
    customer.refresh_from_db()
    assert (customer.churn_risk, customer.clv) == ("low", Decimal("1234.50"))
    # An earlier date computed afterwards (silent then: high risk) leaves the customer as it is, and
    # opens no alert about the past.
    run = churn.detect_churn(as_of=AS_OF)
    assert grade_of(customer).churn_risk == "high"
    customer.refresh_from_db()
    assert customer.churn_risk == "low"
    assert run.counts["latest"] is False and run.counts["alerts_opened"] == 0


def test_a_fit_that_does_not_converge_keeps_the_last_good_parameters(owner, product, rule):
    population(owner, product, rng_seed=4, n=40)
    earlier = AS_OF - datetime.timedelta(days=30)
    good = churn.detect_churn(as_of=earlier)
    assert good.bgnbd_converged and good.gg_converged

    run = churn.detect_churn(as_of=AS_OF, maxiter=1)
    assert not run.bgnbd_converged and not run.gg_converged
    assert run.fallback_from == good
    assert (run.bgnbd_r, run.bgnbd_alpha, run.bgnbd_a, run.bgnbd_b) == (
        good.bgnbd_r,
        good.bgnbd_alpha,
        good.bgnbd_a,
        good.bgnbd_b,
    )
    assert (run.gg_p, run.gg_q, run.gg_gamma) == (good.gg_p, good.gg_q, good.gg_gamma)
    assert "did not converge" in run.message and earlier.isoformat() in run.message
    assert run.status == RunStatus.SUCCEEDED
    assert not CustomerGrade.objects.filter(run__as_of=AS_OF, occasions__gt=0, p_alive=None).exists()
    # The figures come from the earlier parameters.
    grade = CustomerGrade.objects.filter(run__as_of=AS_OF, occasions__gt=1).first()
    x, t_x, T = (
        grade.occasions - 1,
        (grade.last_purchase - grade.first_purchase).days,
        (AS_OF - grade.first_purchase).days,
    )
    params = bgnbd.BgNbdFit(good.bgnbd_r, good.bgnbd_alpha, good.bgnbd_a, good.bgnbd_b, 0, 0, True)
    assert grade.p_alive == pytest.approx(bgnbd.p_alive(params, [x], [t_x], [T])[0], rel=1e-9)


def test_without_earlier_parameters_risk_comes_from_the_rules_alone(owner, product, rule):
    population(owner, product, rng_seed=5, n=20)
    run = churn.detect_churn(as_of=AS_OF, maxiter=1)
    assert not run.bgnbd_converged and run.fallback_from is None
    assert run.bgnbd_r is None and "No earlier run" in run.message
    grades = CustomerGrade.objects.filter(run__as_of=AS_OF, occasions__gt=0)
    assert not grades.exclude(p_alive=None).exists() and not grades.exclude(clv=None).exists()
    for grade in grades:
        signals = rule_codes(grade)
        expected = "high" if "silence" in signals or len(signals) > 1 else ("medium" if signals else "low")
        assert grade.churn_risk == expected


def test_a_failing_run_is_recorded_as_failed(owner, product, rule, monkeypatch):
    buy(CustomerFactory(owner=owner), days_before(5), 100, product=product)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(churn, "_score", broken)
    with pytest.raises(RuntimeError):
        churn.detect_churn(as_of=AS_OF)
    run = ChurnModelRun.objects.get(as_of=AS_OF)
    assert run.status == RunStatus.FAILED and "boom" in run.message


# ---------------------------------------------------------------------------------------------
# The command


def test_command_prints_a_summary_and_one_line_per_model(owner, product, at_risk):
    population(owner, product, rng_seed=6, n=30)
    out = StringIO()
    call_command("detect_churn", "--as-of", AS_OF.isoformat(), stdout=out)
    lines = out.getvalue().strip().splitlines()
    run = ChurnModelRun.objects.get(as_of=AS_OF)
    assert lines[0].startswith(f"Scored {run.counts['scored']} customers as of {AS_OF}")

    def pairs(line, model):
        head, *rest = line.split()
        assert head == model
        return dict(pair.split("=", 1) for pair in rest)

    bg = pairs(lines[-2], "bgnbd")
    assert list(bg) == ["r", "alpha", "a", "b", "loglik", "n"]
    for key, field in [("r", "bgnbd_r"), ("alpha", "bgnbd_alpha"), ("a", "bgnbd_a"), ("b", "bgnbd_b")]:
        assert float(bg[key]) == pytest.approx(getattr(run, field), rel=1e-7)
    assert float(bg["loglik"]) == pytest.approx(run.bgnbd_loglik, rel=1e-7)
    assert int(bg["n"]) == run.bgnbd_n == 34
    gg = pairs(lines[-1], "gammagamma")
    assert list(gg) == ["p", "q", "gamma", "n"]
    for key, field in [("p", "gg_p"), ("q", "gg_q"), ("gamma", "gg_gamma")]:
        assert float(gg[key]) == pytest.approx(getattr(run, field), rel=1e-7)
    assert int(gg["n"]) == run.gg_n
    assert re.fullmatch(r"bgnbd( \w+=\S+){6}", lines[-2]) and re.fullmatch(r"gammagamma( \w+=\S+){4}", lines[-1])


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "2999-01-01"])
def test_command_refuses_a_bad_or_future_date(db, value):
    with pytest.raises(CommandError, match="--as-of"):
        call_command("detect_churn", "--as-of", value, stdout=StringIO())


def test_the_number_of_queries_does_not_grow_with_the_customers(owner, product, rule, monkeypatch):
    """Every customer silent and valuable (an alert and a task each) and some repeat buyers: the job
    issues as many queries for 15 customers as for 5."""
    fits = churn._Models(
        bgnbd=bgnbd.BgNbdFit(0.5, 20.0, 1.5, 5.0, -1.0, 1, True),
        gg=gammagamma.GammaGammaFit(6.0, 4.0, 15.0, -1.0, 1, True),
        bgnbd_fit=bgnbd.BgNbdFit(0.5, 20.0, 1.5, 5.0, -1.0, 1, True),
        gg_fit=gammagamma.GammaGammaFit(6.0, 4.0, 15.0, -1.0, 1, True),
        fallback=None,
        notes=[],
    )
    monkeypatch.setattr(churn, "_fit_models", lambda buyers, as_of, maxiter: fits)

    def queries_for(count: int, as_of: datetime.date) -> int:
        for i in range(count):
            customer = CustomerFactory(owner=owner, name=f"Silent {as_of} {i}")
            buy(customer, days_before(500, as_of), 3000, 1000, product=product)
            if i % 2:
                buy(customer, days_before(400, as_of), 3000, 1000, product=product)
        grade_customers(as_of=as_of)  # the grading job's queries are its own test's business
        with CaptureQueriesContext(connection) as captured:
            run = churn.detect_churn(as_of=as_of)
        assert run.counts["alerts_opened"] == count
        return len(captured)

    # The second date is later, so it is the latest too; its alerts are for the new customers only
    # (the first five still have theirs open).
    assert queries_for(5, AS_OF) == queries_for(10, AS_OF + datetime.timedelta(days=1))


def test_the_rules_are_those_the_grading_run_used(owner, product, rule):
    """An admin's later edit of the rule does not change a date already graded: the silence rule
    and the grading's lost state stay in step."""
    customer = CustomerFactory(owner=owner, name="Quiet")
    buy(customer, days_before(100), 100, product=product)
    grade_customers(as_of=AS_OF)
    rule.churn_min_days = 30
    rule.save()
    churn.detect_churn(as_of=AS_OF)
    grade = grade_of(customer)
    assert grade.state != "lost" and rule_codes(grade) == []
    # Graded again, the new floor applies to both.
    churn.detect_churn(as_of=AS_OF + datetime.timedelta(days=1))
    grade = grade_of(customer, AS_OF + datetime.timedelta(days=1))
    assert grade.state == "lost"
    assert grade.churn_reasons[0] == {"code": "silence", "days": 101, "limit": 30}
