"""The churn job: BG/NBD and Gamma-Gamma fitted as of a date, P(alive), expected purchases, CLV, the
admin-readable churn rules, churn risk, churn alerts with win-back tasks (DESIGN.md "Churn", "CLV").

Set-based: one aggregate over the orders (joined to the date's grades), the fits in numpy/scipy on
the distinct (x, t_x, T) triples, then the results written back in chunks of `UPDATE … FROM`
(a CTE of VALUES), on PostgreSQL and SQLite alike — never a query per customer.

Choices DESIGN.md leaves open, stated here once:
- CLV months are 365.25 / 12 days; month m's expected purchases are discounted by (1 + d)^m
  (paid at the end of the month). The margin is the gross profit over the revenue of every counted
  order up to the date. Customers without repeat purchases (or whose repeat purchases sum to
  nothing) spend the fitted population mean pγ/(q − 1); when q ≤ 1 that mean is infinite and the
  mean amount of the repeat purchases of the fitted customers stands in.
- A fit that does not converge takes the failed model's parameters from the latest earlier run
  whose two fits both converged (`fallback_from`); its log-likelihood is then that of those
  parameters on this date's customers. With no such run, P(alive), expected purchases and CLV stay
  empty and churn risk comes from the rules alone.
- Complaints count when the ticket was opened by the end of the as-of date and is still neither
  resolved nor closed now; the satisfaction is that of the customer's latest survey answered by
  the end of the as-of date.
- The rule's values are those the grading run of the date used (its snapshot), so the silence rule
  and the grading's "lost" state agree even after an admin edited the rule.
- Customer fields, alerts and won-back marking follow only the latest date (no later grading
  run): computing an old date to look back must not open win-back tasks about the past.
"""

import copy
import datetime
import json
import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer
from sales.models import Order
from service.models import SurveyResponse, Ticket

from .. import bgnbd, gammagamma, reasons
from ..models import ChurnModelRun, CustomerGrade, GradingRule, GradingRun, RunStatus
from . import alerts, summaries
from .churn_dashboard import churn_figures
from .sql import VendorSql

EXPECTED_PURCHASES_DAYS = 365
DAYS_PER_MONTH = 365.25 / 12
# Rows per UPDATE statement (capped further by the database's limit on parameters).
CHUNK = 2000
# CLV beyond the money field's 14 digits is a numerical accident, not a customer.
CLV_LIMIT = 1e11

Risk = Customer.ChurnRisk
MODEL_FIELDS = ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "bgnbd_loglik", "gg_p", "gg_q", "gg_gamma", "gg_loglik")


@dataclass
class Buyers:
    """Per customer with at least one purchase occasion as of the date (numpy arrays, one row each)."""

    grade_id: np.ndarray
    customer_id: np.ndarray
    x: np.ndarray  # repeat occasions
    t_x: np.ndarray  # days first → last occasion
    T: np.ndarray  # days first occasion → as of
    silence: np.ndarray  # days last occasion → as of
    total: np.ndarray  # amount of all occasions
    first_amount: np.ndarray  # amount of the first occasion
    spend_last: np.ndarray  # cents in (as_of − P, as_of]
    spend_previous: np.ndarray  # cents in (as_of − 2P, as_of − P]

    @property
    def n(self) -> int:
        return int(self.grade_id.size)

    @property
    def repeat_mean(self) -> np.ndarray:
        """m_x: mean amount of the repeat occasions (NaN without any)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.x > 0, (self.total - self.first_amount) / np.maximum(self.x, 1), np.nan)


# ---------------------------------------------------------------------------------------------
# Reading


def _read_buyers(run: GradingRun, rule: GradingRule) -> Buyers:
    """One aggregate over the counted orders up to the date, per graded customer with a purchase."""
    sql = VendorSql()
    as_of = run.as_of
    period = datetime.timedelta(days=rule.spend_period_days)
    params = {
        "run": run.pk,
        "cancelled": Order.Status.CANCELLED,
        "as_of": sql.date_value(as_of),
        "spend_last": sql.date_value(as_of - period),
        "spend_previous": sql.date_value(as_of - 2 * period),
    }
    as_of_sql = sql.date("as_of")
    statement = f"""
        SELECT g.id, g.customer_id, g.occasions,
               {sql.days("g.last_purchase", "g.first_purchase")},
               {sql.days(as_of_sql, "g.first_purchase")},
               {sql.days(as_of_sql, "g.last_purchase")},
               SUM(o.amount),
               SUM(CASE WHEN o.ordered_at = g.first_purchase THEN o.amount ELSE 0 END),
               SUM(CASE WHEN o.ordered_at > {sql.date("spend_last")} THEN o.amount ELSE 0 END),
               SUM(CASE WHEN o.ordered_at > {sql.date("spend_previous")} AND o.ordered_at <= {sql.date("spend_last")}
                        THEN o.amount ELSE 0 END)
        FROM {CustomerGrade._meta.db_table} g
        JOIN {Order._meta.db_table} o ON o.customer_id = g.customer_id
        WHERE g.run_id = %(run)s AND g.occasions > 0 AND o.status <> %(cancelled)s AND o.ordered_at <= {as_of_sql}
        GROUP BY g.id, g.customer_id, g.occasions, g.first_purchase, g.last_purchase
        ORDER BY g.customer_id
    """  # noqa: S608 - names from _meta, every value a parameter
    with connection.cursor() as cursor:
        if sql.postgres:
            # As in the grading job: at the default work_mem the planner reads orders a page at a time.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 10

    def ints(i):
        return np.array(columns[i], dtype=np.int64)

    def floats(i):
        return np.array([float(v or 0) for v in columns[i]], dtype=float)

    def cents(i):
        return np.rint(floats(i) * 100).astype(np.int64)

    return Buyers(
        grade_id=ints(0),
        customer_id=ints(1),
        x=ints(2) - 1,
        t_x=ints(3),
        T=ints(4),
        silence=ints(5),
        total=floats(6),
        first_amount=floats(7),
        spend_last=cents(8),
        spend_previous=cents(9),
    )


def _average_margin(as_of: datetime.date) -> float | None:
    """Gross profit over revenue of the counted orders up to the date (None without revenue)."""
    from django.db.models import Sum

    totals = Order.objects.counted().filter(ordered_at__lte=as_of).aggregate(amount=Sum("amount"), cost=Sum("cost"))
    amount = float(totals["amount"] or 0)
    if amount <= 0:
        return None
    return (amount - float(totals["cost"] or 0)) / amount


def _end_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))


def _complaints(as_of: datetime.date, rule: GradingRule) -> dict[int, dict]:
    """Customers with open complaints while their latest survey's satisfaction is at most the rule's bar."""
    end = _end_of(as_of)
    complaints = Ticket.objects.open().filter(type=Ticket.Type.COMPLAINT, created_at__lt=end).order_by()
    open_by_customer = dict(complaints.values_list("customer_id").annotate(n=Count("pk")))
    if not open_by_customer:
        return {}
    latest: dict[int, int] = {}
    responses = (
        SurveyResponse.objects.filter(customer_id__in=complaints.values("customer_id"), answered_at__lt=end)
        .order_by("customer_id", "-answered_at", "-pk")
        .values_list("customer_id", "overall_satisfaction")
    )
    for customer_id, satisfaction in responses:
        latest.setdefault(customer_id, satisfaction)
    return {
        customer_id: {"code": reasons.COMPLAINT, "tickets": tickets, "satisfaction": latest[customer_id]}
        for customer_id, tickets in open_by_customer.items()
        if customer_id in latest and latest[customer_id] <= rule.low_satisfaction
    }


# ---------------------------------------------------------------------------------------------
# Rules and risk


def silence_limits(x: np.ndarray, t_x: np.ndarray, *, k, floor_days: int) -> np.ndarray:
    """Whole-day limit of the silence rule per customer: ⌊max(k × t_x / x, floor)⌋; the floor for x = 0.

    Exact: k has one decimal (k = k10 / 10), and silence (whole days) > L ⟺ silence > ⌊L⌋."""
    k10 = int(round(float(k) * 10))
    own = np.where(x > 0, (k10 * t_x) // np.maximum(10 * x, 1), 0)
    return np.maximum(own, int(floor_days))


def spend_dropped(last: np.ndarray, previous: np.ndarray, *, share) -> np.ndarray:
    """Spend (integer cents) fell by more than `share` (three decimals) against the period before."""
    thousandths = int(round(float(share) * 1000))
    return (previous > 0) & ((previous - last) * 1000 > thousandths * previous)


def churn_risk_of(*, p_alive: float | None, signals: int, silent: bool, rule: GradingRule) -> str:
    """High below the high P(alive) bar, when silent too long or with two rule signals or more;
    medium below the medium bar or with one signal; else low."""
    high_bar, medium_bar = float(rule.high_risk_p_alive), float(rule.medium_risk_p_alive)
    if silent or signals >= 2 or (p_alive is not None and p_alive < high_bar):
        return Risk.HIGH
    if signals == 1 or (p_alive is not None and p_alive < medium_bar):
        return Risk.MEDIUM
    return Risk.LOW


# ---------------------------------------------------------------------------------------------
# Models


@dataclass
class _Models:
    bgnbd: object | None  # something with r, alpha, a, b
    gg: object | None  # something with p, q, gamma
    bgnbd_fit: bgnbd.BgNbdFit
    gg_fit: gammagamma.GammaGammaFit
    fallback: ChurnModelRun | None
    notes: list[str]
    fallback_bgnbd_loglik: float | None = None
    fallback_gg_loglik: float | None = None


@dataclass(frozen=True)
class _BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class _GgParams:
    p: float
    q: float
    gamma: float


def _last_good_run(as_of: datetime.date) -> ChurnModelRun | None:
    """The latest earlier succeeded run whose two fits converged."""
    return (
        ChurnModelRun.objects.filter(
            as_of__lt=as_of, status=RunStatus.SUCCEEDED, bgnbd_converged=True, gg_converged=True
        )
        .order_by("-as_of")
        .first()
    )


def _fit_models(buyers: Buyers, as_of: datetime.date, maxiter: int | None) -> _Models:
    """Fit both models; a fit that does not converge falls back to the last good run's parameters."""
    options = {} if maxiter is None else {"maxiter": maxiter}
    bg_fit = bgnbd.fit(buyers.x, buyers.t_x, buyers.T, **options)
    m_x = buyers.repeat_mean
    spenders = (buyers.x > 0) & (m_x > 0)
    gg_fit = gammagamma.fit(buyers.x[spenders], m_x[spenders], **options)
    models = _Models(
        bgnbd=bg_fit if bg_fit.converged else None,
        gg=gg_fit if gg_fit.converged else None,
        bgnbd_fit=bg_fit,
        gg_fit=gg_fit,
        fallback=None,
        notes=[m for m in (bg_fit.message, gg_fit.message) if m],
    )
    if buyers.n == 0 or (bg_fit.converged and gg_fit.converged):
        return models
    good = _last_good_run(as_of)
    if good is None:
        models.notes.append(_("No earlier run has converged parameters to fall back on."))
        return models
    models.fallback = good
    models.notes.append(
        _("The parameters of the run as of %(date)s were used for the model that did not converge.")
        % {"date": good.as_of.isoformat()}
    )
    if not bg_fit.converged:
        models.bgnbd = _BgNbdParams(good.bgnbd_r, good.bgnbd_alpha, good.bgnbd_a, good.bgnbd_b)
        models.fallback_bgnbd_loglik = bgnbd.log_likelihood(
            good.bgnbd_r, good.bgnbd_alpha, good.bgnbd_a, good.bgnbd_b, buyers.x, buyers.t_x, buyers.T
        )
    if not gg_fit.converged:
        models.gg = _GgParams(good.gg_p, good.gg_q, good.gg_gamma)
        if spenders.any():
            models.fallback_gg_loglik = gammagamma.log_likelihood(
                good.gg_p, good.gg_q, good.gg_gamma, buyers.x[spenders], m_x[spenders]
            )
    return models


def _spend_per_occasion(buyers: Buyers, gg) -> np.ndarray:
    """Expected spend per future occasion: the Gamma-Gamma conditional mean, or the population mean."""
    m_x = buyers.repeat_mean
    spenders = (buyers.x > 0) & (m_x > 0)
    population = gammagamma.population_mean_spend(gg)
    if population is None:
        population = float(np.mean(m_x[spenders])) if spenders.any() else np.nan
    spend = np.full(buyers.n, population, dtype=float)
    if spenders.any():
        spend[spenders] = gammagamma.conditional_expected_spend(gg, buyers.x[spenders], m_x[spenders])
    return spend


def _model_figures(buyers: Buyers, models: _Models, rule: GradingRule, margin: float | None):
    """P(alive), expected purchases in 365 days and CLV per buyer (NaN where a model is missing)."""
    nothing = np.full(buyers.n, np.nan)
    if models.bgnbd is None or buyers.n == 0:
        return nothing, nothing, nothing
    # Customers sharing (x, t_x, T) share every figure: compute each triple once.
    triples, inverse = np.unique(np.column_stack([buyers.x, buyers.t_x, buyers.T]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    ux, ut, uT = triples[:, 0], triples[:, 1], triples[:, 2]
    params = models.bgnbd
    p_alive = bgnbd.p_alive(params, ux, ut, uT)[inverse]
    expected = bgnbd.expected_purchases(params, EXPECTED_PURCHASES_DAYS, ux, ut, uT)[inverse]
    if models.gg is None or margin is None:
        return p_alive, expected, nothing
    rate = float(rule.monthly_discount_rate)
    months = int(rule.clv_horizon_months)
    cumulative = np.column_stack(
        [np.zeros_like(ux)]
        + [bgnbd.expected_purchases(params, m * DAYS_PER_MONTH, ux, ut, uT) for m in range(1, months + 1)]
    )
    discount = (1 + rate) ** -np.arange(1, months + 1)
    discounted_purchases = (np.diff(cumulative, axis=1) @ discount)[inverse]
    clv = margin * _spend_per_occasion(buyers, models.gg) * discounted_purchases
    clv = np.where(np.isfinite(clv) & (np.abs(clv) < CLV_LIMIT), clv, np.nan)
    return p_alive, expected, clv


# ---------------------------------------------------------------------------------------------
# Writing


def _reset_grades(run: GradingRun) -> None:
    """Clear the churn fields an earlier run of this date wrote (a rerun starts from the grades)."""
    CustomerGrade.objects.filter(run=run).exclude(
        p_alive=None, expected_purchases=None, clv=None, churn_risk=""
    ).update(p_alive=None, expected_purchases=None, clv=None, churn_risk="", churn_reasons=[])


def _write_grades(rows: list[tuple]) -> None:
    """(grade id, p_alive, expected purchases, clv, risk, reasons JSON) into the grades, chunk by chunk."""
    sql = VendorSql()
    table = CustomerGrade._meta.db_table
    per_statement = sql.rows_per_statement(chunk=CHUNK, columns=6)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
        statement = f"""
            WITH v (id, p_alive, expected, clv, risk, reasons) AS (VALUES {values})
            UPDATE {table} SET
                p_alive = CAST(v.p_alive AS {sql.cast("float")}),
                expected_purchases = CAST(v.expected AS {sql.cast("float")}),
                clv = CAST(v.clv AS {sql.cast("money")}),
                churn_risk = v.risk,
                churn_reasons = CAST(v.reasons AS {sql.cast("json")})
            FROM v WHERE {table}.id = v.id
        """  # noqa: S608 - names from _meta, placeholders only
        with connection.cursor() as cursor:
            cursor.execute(statement, [value for row in chunk for value in row])


def _copy_to_customers(run: GradingRun) -> int:
    """Copy churn risk and CLV of the run's grades onto the customers whose values differ."""
    sql = VendorSql()
    customers, grades = Customer._meta.db_table, CustomerGrade._meta.db_table
    differs = "IS DISTINCT FROM" if sql.postgres else "IS NOT"
    statement = f"""
        UPDATE {customers} SET churn_risk = g.churn_risk, clv = g.clv
        FROM {grades} g
        WHERE g.run_id = %s AND g.customer_id = {customers}.id
          AND ({customers}.churn_risk <> g.churn_risk OR {customers}.clv {differs} g.clv)
    """  # noqa: S608 - names from _meta
    with connection.cursor() as cursor:
        cursor.execute(statement, [run.pk])
        return cursor.rowcount


# ---------------------------------------------------------------------------------------------
# The job


# The rule's fields this job reads; it takes them as the grading run used them (its snapshot), so
# that the silence rule here and the grading's "lost" state agree even after an admin's edit.
RULE_FIELDS = (
    "churn_interval_multiple",
    "churn_min_days",
    "spend_period_days",
    "spend_drop_share",
    "low_satisfaction",
    "high_risk_p_alive",
    "medium_risk_p_alive",
    "alert_min_value",
    "clv_horizon_months",
    "monthly_discount_rate",
)


def rule_as_used(run: GradingRun) -> GradingRule:
    """The run's rule with the values it had when the run graded (an unsaved copy)."""
    rule = copy.copy(run.rule)
    snapshot = run.rule_snapshot or {}
    for name in RULE_FIELDS:
        if snapshot.get(name) is not None:
            field = GradingRule._meta.get_field(name)
            setattr(rule, name, field.to_python(snapshot[name]))
    return rule


def _grading_run(as_of: datetime.date) -> GradingRun:
    run = GradingRun.objects.succeeded().select_related("rule").filter(as_of=as_of).first()
    if run is None:
        from .grading import grade_customers

        run = grade_customers(as_of=as_of)
    return run


def _start(grading_run: GradingRun) -> ChurnModelRun:
    """The date's churn run, created or reset to running (one per as-of date)."""
    churn_run, _created = ChurnModelRun.objects.update_or_create(
        as_of=grading_run.as_of,
        defaults={
            "grading_run": grading_run,
            "status": RunStatus.RUNNING,
            "started_at": timezone.now(),
            "finished_at": None,
            "message": "",
            "counts": {},
            "fallback_from": None,
            **dict.fromkeys(
                [
                    "bgnbd_r",
                    "bgnbd_alpha",
                    "bgnbd_a",
                    "bgnbd_b",
                    "bgnbd_loglik",
                    "gg_p",
                    "gg_q",
                    "gg_gamma",
                    "gg_loglik",
                ]
            ),
            "bgnbd_n": 0,
            "gg_n": 0,
            "bgnbd_converged": False,
            "gg_converged": False,
            "average_margin": None,
        },
    )
    return churn_run


def _store_models(churn_run: ChurnModelRun, models: _Models, margin: float | None) -> None:
    bg, gg = models.bgnbd, models.gg
    bg_fit, gg_fit = models.bgnbd_fit, models.gg_fit
    if bg is not None:
        churn_run.bgnbd_r, churn_run.bgnbd_alpha, churn_run.bgnbd_a, churn_run.bgnbd_b = bg.r, bg.alpha, bg.a, bg.b
        churn_run.bgnbd_loglik = bg_fit.loglik if bg_fit.converged else models.fallback_bgnbd_loglik
    if gg is not None:
        churn_run.gg_p, churn_run.gg_q, churn_run.gg_gamma = gg.p, gg.q, gg.gamma
        churn_run.gg_loglik = gg_fit.loglik if gg_fit.converged else models.fallback_gg_loglik
    churn_run.bgnbd_n, churn_run.bgnbd_converged = bg_fit.n, bg_fit.converged
    churn_run.gg_n, churn_run.gg_converged = gg_fit.n, gg_fit.converged
    churn_run.fallback_from = models.fallback
    churn_run.average_margin = margin
    churn_run.message = " ".join(models.notes)


def _score(buyers: Buyers, models: _Models, rule: GradingRule, margin, complaints: dict) -> tuple[list, dict]:
    """Each buyer's row for the grades, and how many fell in each risk level."""
    p_alive, expected, clv = _model_figures(buyers, models, rule, margin)
    limits = silence_limits(buyers.x, buyers.t_x, k=rule.churn_interval_multiple, floor_days=rule.churn_min_days)
    silent = buyers.silence > limits
    dropped = spend_dropped(buyers.spend_last, buyers.spend_previous, share=rule.spend_drop_share)
    with np.errstate(invalid="ignore", divide="ignore"):
        drop_share = np.where(
            buyers.spend_previous > 0,
            (buyers.spend_previous - buyers.spend_last) / np.maximum(buyers.spend_previous, 1),
            0.0,
        )
    high_bar = float(rule.high_risk_p_alive)
    rows, levels = [], {Risk.HIGH: 0, Risk.MEDIUM: 0, Risk.LOW: 0}
    for i in range(buyers.n):
        found = []
        if silent[i]:
            found.append({"code": reasons.SILENCE, "days": int(buyers.silence[i]), "limit": int(limits[i])})
        if dropped[i]:
            found.append(
                {
                    "code": reasons.SPEND_DROP,
                    "share": round(float(drop_share[i]), 4),
                    "period_days": rule.spend_period_days,
                }
            )
        complaint = complaints.get(int(buyers.customer_id[i]))
        if complaint:
            found.append(complaint)
        signals = len(found)
        alive = None if not np.isfinite(p_alive[i]) else float(p_alive[i])
        if alive is not None and alive < high_bar:
            found.append({"code": reasons.P_ALIVE, "p_alive": round(alive, 4)})
        risk = churn_risk_of(p_alive=alive, signals=signals, silent=bool(silent[i]), rule=rule)
        levels[risk] += 1
        rows.append(
            (
                int(buyers.grade_id[i]),
                alive,
                None if not np.isfinite(expected[i]) else float(expected[i]),
                None if not np.isfinite(clv[i]) else round(float(clv[i]), 2),
                str(risk),
                json.dumps(found),
            )
        )
    return rows, {str(k): v for k, v in levels.items()}


def detect_churn(*, as_of: datetime.date, maxiter: int | None = None) -> ChurnModelRun:
    """Fit the churn and CLV models as of `as_of`, score every buyer, raise alerts; rerunning replaces the date's run.

    `maxiter` caps the optimisers' iterations (default: the modules' own)."""
    started = time.perf_counter()
    grading_run = _grading_run(as_of)
    churn_run = _start(grading_run)
    try:
        with transaction.atomic():
            # Two runs of one date queue here; the second then recomputes the same figures.
            churn_run = ChurnModelRun.objects.select_for_update().get(pk=churn_run.pk)
            _run(churn_run, grading_run, maxiter=maxiter, started=started)
    except Exception as exc:
        ChurnModelRun.objects.filter(pk=churn_run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), message=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return churn_run


def _run(churn_run: ChurnModelRun, grading_run: GradingRun, *, maxiter: int | None, started: float) -> None:
    rule = rule_as_used(grading_run)
    as_of = grading_run.as_of
    timings = {"grading": time.perf_counter() - started}

    def lap(name: str) -> None:
        timings[name] = time.perf_counter() - started - sum(timings.values())

    buyers = _read_buyers(grading_run, rule)
    margin = _average_margin(as_of)
    complaints = _complaints(as_of, rule)
    lap("read")
    models = _fit_models(buyers, as_of, maxiter)
    _store_models(churn_run, models, margin)
    if buyers.n == 0:
        churn_run.message = _("No customer has a purchase as of %(date)s.") % {"date": as_of.isoformat()}
    lap("fit")
    rows, levels = _score(buyers, models, rule, margin, complaints)
    lap("score")
    _reset_grades(grading_run)
    _write_grades(rows)
    latest = not GradingRun.objects.succeeded().filter(as_of__gt=as_of).exists()
    changed = _copy_to_customers(grading_run) if latest else 0
    lap("write")
    now = timezone.now()
    won_back = alerts.alerts_mark_won_back(as_of=as_of, now=now) if latest else 0
    opened = alerts.alerts_open(churn_run=churn_run, run=grading_run, rule=rule, now=now) if latest else 0
    lap("alerts")
    churn_run.counts = {
        "scored": buyers.n,
        **levels,
        "alerts_opened": opened,
        "won_back": won_back,
        "customers_changed": changed,
        "latest": latest,
    }
    churn_run.status = RunStatus.SUCCEEDED
    churn_run.finished_at = timezone.now()
    churn_run.save()
    summaries.summaries_store(run=grading_run, computations={"churn": churn_figures})
    lap("summaries")
    churn_run.counts["seconds"] = {
        **{name: round(value, 3) for name, value in timings.items()},
        "total": round(time.perf_counter() - started, 3),
    }
    churn_run.save(update_fields=["counts"])
