"""Dashboard figures computed by the jobs, once per visibility scope, so pages only read them.

A dashboard's numbers come from a compute function `compute(run, grades, user) -> dict` over the
`CustomerGrade` rows of `run` that a reader may see (`user` is None for "everyone"), returning
JSON-safe values only (int, float, str, lists, dicts). After each run the grading and churn jobs
store the result for everyone and for every sales user, whose view is narrower
(`summaries_store`); a page asks for the figures of the reader's scope (`scoped_figures`) and
computes them itself only when none are stored (a date computed before the user existed, say).
"""

from collections.abc import Callable

from django.contrib.auth import get_user_model

from customers import roles
from customers.models import Customer

from ..models import CustomerGrade, FigureSet, GradingRun

Compute = Callable[[GradingRun, object, object], dict]
EVERYONE = "all"


def scope_of(user) -> str:
    """The key of what `visible_to(user)` shows: "all", or "user-<id>" for sales people."""
    return Customer.objects.visibility_scope(user)


def sees_every_customer(user) -> bool:
    return scope_of(user) == EVERYONE


def stored_figures(*, run: GradingRun, key: str, scope: str) -> dict | None:
    """The figures the job stored for `run`, `key` and `scope`, or None (one query)."""
    return FigureSet.objects.filter(run=run, key=key, scope=scope).values_list("figures", flat=True).first()


def scoped_figures(user, *, run: GradingRun, key: str, compute: Compute) -> dict:
    """The figures `key` of `run` for what `user` may see: stored by the job, else computed now."""
    stored = stored_figures(run=run, key=key, scope=scope_of(user))
    if stored is not None:
        return stored
    return compute(run, CustomerGrade.objects.visible_to(user).filter(run=run), user)


def scoped_readers() -> list:
    """Active users whose view of the customers is narrower than everyone's: sales reps and sales managers."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.SALES_REP, roles.SALES_MANAGER])
        .distinct()
    )
    return [user for user in users.order_by("pk") if not sees_every_customer(user)]


def summaries_store(*, run: GradingRun, computations: dict[str, Compute]) -> int:
    """Compute each figure set for everyone and for each scoped reader, replacing the run's; how many were stored."""
    FigureSet.objects.filter(run=run, key__in=list(computations)).delete()
    everyone = CustomerGrade.objects.filter(run=run)
    sets = [
        FigureSet(run=run, key=key, scope=EVERYONE, figures=compute(run, everyone, None))
        for key, compute in computations.items()
    ]
    for user in scoped_readers():
        grades = CustomerGrade.objects.visible_to(user).filter(run=run)
        sets += [
            FigureSet(run=run, key=key, scope=scope_of(user), figures=compute(run, grades, user))
            for key, compute in computations.items()
        ]
    FigureSet.objects.bulk_create(sets)
    return len(sets)
