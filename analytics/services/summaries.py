"""Dashboard figures for everyone, computed once by the jobs; for a narrower view, computed per request.

A dashboard's figures come from a compute function `compute(run, grades) -> dict`, where `grades`
are the `CustomerGrade` rows of `run` that the reader may see. The function returns JSON-safe
values only (int, float, str, lists, dicts): for readers who see every customer, the grading or
churn job stores its result in the run's `summary` (`summaries_store`), and the page reads it
back (`scoped_figures`) instead of aggregating every customer on each request.
"""

from collections.abc import Callable

from customers.models import Customer

from ..models import CustomerGrade, GradingRun

Compute = Callable[[GradingRun, object], dict]


def sees_every_customer(user) -> bool:
    """True when `visible_to(user)` shows every customer, so the stored everyone-scope figures apply."""
    return Customer.objects.visibility_scope(user) == "all"


def scoped_figures(user, *, run: GradingRun, key: str, compute: Compute, holder=None) -> dict:
    """The figures `key` of `run` for what `user` may see.

    `holder` is the object whose `summary` keeps the stored figures (default: the grading run;
    the churn dashboard passes its `ChurnModelRun`)."""
    holder = run if holder is None else holder
    if sees_every_customer(user) and key in (holder.summary or {}):
        return holder.summary[key]
    return compute(run, CustomerGrade.objects.visible_to(user).filter(run=run))


def summaries_store(*, run: GradingRun, computations: dict[str, Compute], holder=None) -> None:
    """Compute each figure set over all of `run`'s grades and keep them in `holder.summary`."""
    holder = run if holder is None else holder
    grades = CustomerGrade.objects.filter(run=run)
    summary = dict(holder.summary or {})
    summary.update({key: compute(run, grades) for key, compute in computations.items()})
    holder.summary = summary
    holder.save(update_fields=["summary"])
