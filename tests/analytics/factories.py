"""Factories of analytics. Most analytics tests build orders (tests/sales/factories.py) and run
the real jobs; dashboard tests may instead write grades by hand with these."""

import datetime
import importlib

import factory
from django.utils import timezone

from analytics.models import ChurnModelRun, CustomerGrade, GradingRule, GradingRun, RunStatus
from tests.factories import CustomerFactory


def default_rule() -> GradingRule:
    """The active default rule the data migration creates; made again when a transactional test flushed it."""
    from django.apps import apps

    if not GradingRule.objects.filter(active=True).exists():
        migration = importlib.import_module("analytics.migrations.0002_default_rule")
        migration.create_default_rule(apps, None)
    return GradingRule.objects.get(active=True)


class GradingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GradingRun

    as_of = factory.Sequence(lambda n: datetime.date(2026, 6, 30) - datetime.timedelta(days=n))
    rule = factory.LazyFunction(default_rule)
    rule_version = factory.LazyAttribute(lambda run: run.rule.version)
    status = RunStatus.SUCCEEDED
    finished_at = factory.LazyFunction(timezone.now)


class CustomerGradeFactory(factory.django.DjangoModelFactory):
    """A buyer's grade; pass the values the test reasons about."""

    class Meta:
        model = CustomerGrade

    run = factory.SubFactory(GradingRunFactory)
    customer = factory.SubFactory(CustomerFactory)
    occasions = 1
    frequency = 1
    recency = 10
    monetary = 100
    gross_profit = 30
    value = 30
    r = 3
    f = 3
    m = 3
    rfm_code = "333"
    segment = "loyal"
    tier = "small"
    state = "first_time"
    lifecycle_stage = "exploration"


class ChurnModelRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChurnModelRun

    grading_run = factory.SubFactory(GradingRunFactory)
    as_of = factory.LazyAttribute(lambda run: run.grading_run.as_of)
    status = RunStatus.SUCCEEDED
    finished_at = factory.LazyFunction(timezone.now)
    bgnbd_r, bgnbd_alpha, bgnbd_a, bgnbd_b, bgnbd_loglik, bgnbd_n, bgnbd_converged = (
        0.24,
        30.9,
        0.79,
        2.43,
        -9582.4,
        2357,
        True,
    )
    gg_p, gg_q, gg_gamma, gg_loglik, gg_n, gg_converged = 6.25, 3.74, 15.44, -4000.0, 946, True
