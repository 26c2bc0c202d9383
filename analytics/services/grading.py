"""The grading job: RFM, tier, state and lifecycle of every customer as of a date, in set-based SQL.

One INSERT … SELECT computes every customer's grade from the orders (window functions for the
quantile scores and the pyramid ranks), one UPDATE copies changed grades onto the customers, one
INSERT records the state changes since the previous run. No query per customer, on PostgreSQL and
SQLite alike. The definitions are DESIGN.md's "Analytical definitions"; `analytics/rfm.py` states
them in Python.
"""

import datetime
import time
from decimal import Decimal

from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from customers.models import Customer
from sales.models import Order

from .. import rfm
from ..models import (
    ChurnModelRun,
    CustomerGrade,
    FigureSet,
    GradingRule,
    GradingRun,
    RunStatus,
    StateTransition,
)
from ..segments import UNMATCHED
from . import summaries
from .sql import VendorSql

# Loyalty counts occasions in the last 12 months (DESIGN.md "Customer state").
LOYALTY_DAYS = 365


class NoActiveRule(Exception):
    """No grading rule is active: an admin must activate one."""


def active_rule() -> GradingRule:
    """The grading rule in force, with its segment table."""
    rule = GradingRule.objects.active().prefetch_related("segments").first()
    if rule is None:
        raise NoActiveRule("No grading rule is active; activate one in Django admin.")
    return rule


def rule_snapshot(rule: GradingRule) -> dict:
    """The rule's values as a run used them (JSON-safe), with its segment table."""
    values = model_to_dict(rule, exclude=["id", "updated_by"])
    values = {key: str(value) if isinstance(value, Decimal) else value for key, value in values.items()}
    values["segments"] = [
        {"key": s.key, "name": s.name, "r": [s.r_min, s.r_max], "f": [s.f_min, s.f_max], "m": [s.m_min, s.m_max]}
        for s in rule.segments.all()
    ]
    return values


def _score_sql(rule: GradingRule, params: dict) -> tuple[str, str, str]:
    """SQL of the r, f and m scores over `ranked`: quantiles, or the rule's fixed thresholds."""
    if rule.rfm_method == GradingRule.RfmMethod.QUANTILES:
        n = int(rule.rfm_quantiles)
        # Integer division of non-negative integers: ⌊N·b / n⌋ exactly, on both databases.
        return f"1 + {n} * r_worse / n", f"1 + {n} * f_worse / n", f"1 + {n} * m_worse / n"

    def count(column: str, op: str, thresholds: list, prefix: str) -> str:
        terms = []
        for i, limit in enumerate(thresholds):
            params[f"{prefix}{i}"] = limit
            terms.append(f"CASE WHEN {column} {op} %({prefix}{i})s THEN 1 ELSE 0 END")
        return " + ".join(terms) or "0"

    recency = count("recency", ">", rule.recency_thresholds, "rt")
    return (
        f"{len(rule.recency_thresholds) + 1} - ({recency})",
        f"1 + {count('w_frequency', '>=', rule.frequency_thresholds, 'ft')}",
        f"1 + {count('w_amount', '>=', rule.monetary_thresholds, 'mt')}",
    )


def _grades_insert(rule: GradingRule, run: GradingRun) -> tuple[str, dict]:
    """The INSERT … SELECT that writes the grade of every active customer for `run`.

    One pass over the orders groups them by customer: same-day orders are one purchase occasion,
    so occasions are COUNT(DISTINCT day) (amounts are plain sums either way), measured at 1.3× the
    bare GROUP BY at a million orders, where grouping by customer and day first took 5×."""
    sql = VendorSql()
    as_of = run.as_of

    def back(days: int) -> object:
        return sql.date_value(as_of - datetime.timedelta(days=days))

    params = {
        "run": run.pk,
        "cancelled": Order.Status.CANCELLED,
        "as_of": sql.date_value(as_of),
        "spend_last": back(rule.spend_period_days),
        "spend_previous": back(2 * rule.spend_period_days),
        "loyalty_since": back(LOYALTY_DAYS),
        "loyal_occasions": rule.loyal_min_occasions,
        "loyal_recency": rule.loyal_max_recency_days,
        "k": float(rule.churn_interval_multiple),
        "floor": rule.churn_min_days,
        "decline": sql.number(1 - rule.decline_share),
        "exploration": rule.exploration_days,
        "stability": rule.stability_days,
        "no_reasons": "[]",
    }
    if rule.lookback_days:
        params["window"] = back(rule.lookback_days)
        in_window = f"ordered_at > {sql.date('window')}"
        windowed = f"""
               MAX(CASE WHEN {in_window} THEN ordered_at END) AS w_last,
               COUNT(DISTINCT CASE WHEN {in_window} THEN ordered_at END) AS w_frequency,
               SUM(CASE WHEN {in_window} THEN amount ELSE 0 END) AS w_amount,
               SUM(CASE WHEN {in_window} THEN amount - cost ELSE 0 END) AS w_profit,"""
    else:
        windowed = """
               MAX(ordered_at) AS w_last, COUNT(DISTINCT ordered_at) AS w_frequency,
               SUM(amount) AS w_amount, SUM(amount - cost) AS w_profit,"""
    r_sql, f_sql, m_sql = _score_sql(rule, params)
    segments = [
        rfm.SegmentRow(s.key, (s.r_min, s.r_max), (s.f_min, s.f_max), (s.m_min, s.m_max)) for s in rule.segments.all()
    ]
    scores = (
        rule.rfm_quantiles if rule.rfm_method == GradingRule.RfmMethod.QUANTILES else len(rule.recency_thresholds) + 1
    )
    segment_sql, segment_params = rfm.segment_case_sql(segments, UNMATCHED, scores)
    params.update(segment_params)
    cuts = rfm.tier_limits([rule.vip_share, rule.key_share, rule.ordinary_share])
    params.update(zip(("cut_vip", "cut_key", "cut_ordinary"), cuts, strict=True))
    value_sql = {
        GradingRule.ValueMeasure.GROSS_PROFIT: "w_profit",
        GradingRule.ValueMeasure.REVENUE: "w_amount",
        # The lifetime values of the latest churn run: CLV as of this date is computed after grading.
        GradingRule.ValueMeasure.CLV: "COALESCE(clv, 0)",
    }[rule.value_measure]
    as_of_sql = sql.date("as_of")
    since_last = sql.days(as_of_sql, "last_day")
    tenure = sql.days(as_of_sql, "first_day")
    span = sql.days("last_day", "first_day")
    # Silent for longer than k × the own mean interval (at least the floor days) is judged lost.
    lost = (
        f"{since_last} > CASE WHEN occasions > 1 AND %(k)s * {span} / (occasions - 1) > %(floor)s "
        f"THEN %(k)s * {span} / (occasions - 1) ELSE %(floor)s END"
    )
    statement = f"""
    WITH per_customer AS (
        SELECT customer_id,
               MIN(ordered_at) AS first_day, MAX(ordered_at) AS last_day,
               COUNT(DISTINCT ordered_at) AS occasions,{windowed}
               SUM(CASE WHEN ordered_at > {sql.date("spend_last")} THEN amount ELSE 0 END) AS spend_last,
               SUM(CASE WHEN ordered_at > {sql.date("spend_previous")} AND ordered_at <= {sql.date("spend_last")}
                        THEN amount ELSE 0 END) AS spend_previous,
               COUNT(DISTINCT CASE WHEN ordered_at > {sql.date("loyalty_since")} THEN ordered_at END)
                   AS recent_occasions
        FROM {Order._meta.db_table}
        WHERE status <> %(cancelled)s AND ordered_at <= {as_of_sql}
        GROUP BY customer_id
    ),
    graded AS (
        SELECT c.id AS customer_id, c.clv, p.first_day, p.last_day, COALESCE(p.occasions, 0) AS occasions,
               p.w_last, p.w_frequency, p.w_amount, p.w_profit, p.spend_last, p.spend_previous,
               p.recent_occasions, {sql.days(as_of_sql, "p.w_last")} AS recency,
               CASE WHEN p.w_frequency > 0 THEN 1 ELSE 0 END AS buyer
        FROM {Customer._meta.db_table} c
        LEFT JOIN per_customer p ON p.customer_id = c.id
        WHERE c.archived = {sql.false}
    ),
    valued AS (
        SELECT g.*, {value_sql} AS value FROM graded g
    ),
    ranked AS (
        -- Ranks among the buyers of the window (partition 1): RANK() - 1 counts the strictly worse.
        SELECT v.*,
               RANK() OVER (PARTITION BY buyer ORDER BY recency DESC) - 1 AS r_worse,
               RANK() OVER (PARTITION BY buyer ORDER BY w_frequency) - 1 AS f_worse,
               -- Floating point sorts faster than decimals, and sums of cents stay distinct in it.
               RANK() OVER (PARTITION BY buyer ORDER BY CAST(w_amount AS DOUBLE PRECISION)) - 1 AS m_worse,
               RANK() OVER (PARTITION BY buyer ORDER BY CAST(value AS DOUBLE PRECISION) DESC) - 1 AS better,
               COUNT(*) OVER (PARTITION BY buyer) AS n
        FROM valued v
    ),
    scored AS (
        SELECT ranked.*,
               CASE WHEN occasions > 0 AND {lost} THEN 1 ELSE 0 END AS lost,
               CASE WHEN buyer = 1 THEN {r_sql} END AS r,
               CASE WHEN buyer = 1 THEN {f_sql} END AS f,
               CASE WHEN buyer = 1 THEN {m_sql} END AS m,
               CASE WHEN buyer = 0 THEN ''
                    WHEN better * 10000 < n * %(cut_vip)s THEN 'vip'
                    WHEN better * 10000 < n * %(cut_key)s THEN 'key'
                    WHEN better * 10000 < n * %(cut_ordinary)s THEN 'ordinary'
                    ELSE 'small' END AS tier
        FROM ranked
    ),
    coded AS (
        SELECT scored.*, 100 * r + 10 * f + m AS code FROM scored
    )
    INSERT INTO {CustomerGrade._meta.db_table}
        (run_id, customer_id, first_purchase, last_purchase, occasions, recency, frequency, monetary,
         gross_profit, r, f, m, rfm_code, segment, value, tier, state, lifecycle_stage,
         p_alive, expected_purchases, clv, churn_risk, churn_reasons)
    SELECT %(run)s, customer_id, first_day, last_day, occasions,
           CASE WHEN buyer = 1 THEN recency END,
           CASE WHEN buyer = 1 THEN w_frequency ELSE 0 END,
           CASE WHEN buyer = 1 THEN w_amount ELSE 0 END,
           CASE WHEN buyer = 1 THEN w_profit ELSE 0 END,
           r, f, m,
           CASE WHEN buyer = 1 THEN CAST(r AS TEXT) || CAST(f AS TEXT) || CAST(m AS TEXT) ELSE '' END,
           CASE WHEN buyer = 1 THEN {segment_sql} ELSE '' END,
           CASE WHEN buyer = 1 THEN value ELSE 0 END,
           tier,
           CASE WHEN occasions = 0 THEN 'potential'
                WHEN lost = 1 THEN 'lost'
                WHEN occasions = 1 THEN 'first_time'
                WHEN recent_occasions >= %(loyal_occasions)s AND {since_last} <= %(loyal_recency)s THEN 'loyal'
                ELSE 'repeat' END,
           CASE WHEN occasions = 0 THEN 'exploration'
                WHEN lost = 1 THEN 'decline'
                WHEN spend_previous > 0 AND spend_last < spend_previous * %(decline)s THEN 'decline'
                WHEN {tenure} < %(exploration)s THEN 'exploration'
                WHEN {tenure} >= %(stability)s THEN 'stability'
                ELSE 'formation' END,
           NULL, NULL, NULL, '', %(no_reasons)s
    FROM coded
    -- In key order, each index of the grades is written front to back instead of at random places.
    ORDER BY customer_id
    """  # noqa: S608 - only names from _meta and SQL built here; every value is a parameter
    return statement, params


def _copy_to_customers(run: GradingRun) -> int:
    """Write the run's grades onto the customers whose grade changed; the number changed."""
    sql = VendorSql()
    customers, grades = Customer._meta.db_table, CustomerGrade._meta.db_table
    columns = ("tier", "state", "lifecycle_stage", "rfm_code")
    assignments = ", ".join(f"{column} = g.{column}" for column in columns)
    changed = " OR ".join(f"{customers}.{column} <> g.{column}" for column in columns)
    statement = f"""
        UPDATE {customers} SET {assignments}, graded_at = %(now)s
        FROM {grades} g
        WHERE g.run_id = %(run)s AND g.customer_id = {customers}.id AND ({changed})
    """  # noqa: S608 - names from _meta
    # Customers never graded get their first timestamp even when the defaults already match.
    never = f"UPDATE {customers} SET graded_at = %(now)s WHERE graded_at IS NULL AND archived = {sql.false}"  # noqa: S608
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(statement, {"now": now, "run": run.pk})
        changed_count = cursor.rowcount
        cursor.execute(never, {"now": now})
    return changed_count


def _record_transitions(run: GradingRun, previous: GradingRun | None) -> int:
    """One StateTransition per customer whose state differs from the previous run's (new customers: potential)."""
    if previous is None:
        return 0
    sql = VendorSql()
    grades = CustomerGrade._meta.db_table
    statement = f"""
        INSERT INTO {StateTransition._meta.db_table} (run_id, customer_id, as_of, from_state, to_state)
        SELECT g.run_id, g.customer_id, {sql.date("as_of")}, COALESCE(p.state, 'potential'), g.state
        FROM {grades} g
        LEFT JOIN {grades} p ON p.customer_id = g.customer_id AND p.run_id = %(previous)s
        WHERE g.run_id = %(run)s AND g.state <> COALESCE(p.state, 'potential')
    """  # noqa: S608 - names from _meta
    with connection.cursor() as cursor:
        cursor.execute(statement, {"as_of": sql.date_value(run.as_of), "run": run.pk, "previous": previous.pk})
        return cursor.rowcount


def _counts(run: GradingRun) -> dict:
    """How many customers the run graded, by state and tier."""
    from django.db.models import Count

    grades = CustomerGrade.objects.filter(run=run).order_by()
    by_state = dict(grades.values_list("state").annotate(n=Count("*")))
    by_tier = dict(grades.exclude(tier="").values_list("tier").annotate(n=Count("*")))
    return {
        "customers": sum(by_state.values()),
        "buyers": sum(by_tier.values()),
        "states": by_state,
        "tiers": by_tier,
    }


def _grading_summaries() -> dict:
    """The compute functions of the dashboards whose figures need only the grading run."""
    from .products import products_figures
    from .pyramid import pyramid_figures
    from .satisfaction import satisfaction_figures

    return {"pyramid": pyramid_figures, "satisfaction": satisfaction_figures, "products": products_figures}


def _after_grading(run: GradingRun) -> dict:
    """Work that reads the finished grades: cross-sell associations and the stored dashboard figures."""
    from .crosssell import associations_compute

    associations = associations_compute(run=run)
    summaries.summaries_store(run=run, computations=_grading_summaries())
    return {"product_associations": associations}


@transaction.atomic
def grade_customers(*, as_of: datetime.date) -> GradingRun:
    """Grade every active customer as of `as_of` and record the run; rerunning a date replaces its grades."""
    started = time.perf_counter()
    rule = active_rule()
    run, _created = GradingRun.objects.get_or_create(as_of=as_of, defaults={"rule": rule, "rule_version": rule.version})
    # Serialises two gradings of one date: the second waits, then replaces the first's rows.
    run = GradingRun.objects.select_for_update().get(pk=run.pk)
    CustomerGrade.objects.filter(run=run).delete()
    StateTransition.objects.filter(run=run).delete()
    # The churn run and the stored figures of this date came from the grades being replaced.
    ChurnModelRun.objects.filter(grading_run=run).delete()
    FigureSet.objects.filter(run=run).delete()
    run.rule, run.rule_version, run.rule_snapshot = rule, rule.version, rule_snapshot(rule)
    run.status, run.started_at, run.finished_at, run.message = RunStatus.RUNNING, timezone.now(), None, ""
    run.save()

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # At the default 4 MB the planner reads the orders through an index, a page per order;
            # compiling this one statement (JIT) costs more than it saves.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
        statement, params = _grades_insert(rule, run)
        cursor.execute(statement, params)
        if connection.vendor == "postgresql":
            # The new run's id is unknown to the planner's statistics, which then expect one grade
            # for it and join the next statements row by row (minutes at 100,000 customers).
            cursor.execute(f"ANALYZE {CustomerGrade._meta.db_table}")
    graded = time.perf_counter()

    latest = not GradingRun.objects.succeeded().filter(as_of__gt=as_of).exists()
    previous = GradingRun.objects.succeeded().filter(as_of__lt=as_of).order_by("-as_of").first()
    changed = _copy_to_customers(run) if latest else 0
    transitions = _record_transitions(run, previous)
    copied = time.perf_counter()

    run.counts = {
        **_counts(run),
        "customers_changed": changed,
        "transitions": transitions,
        "previous_run": previous.as_of.isoformat() if previous else None,
        "latest": latest,
    }
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "status", "finished_at"])
    run.counts.update(_after_grading(run))
    finished = time.perf_counter()
    run.counts["seconds"] = {
        "grades": round(graded - started, 3),
        "customers": round(copied - graded, 3),
        "associations_and_figures": round(finished - copied, 3),
        "total": round(finished - started, 3),
    }
    run.save(update_fields=["counts"])
    return run
