"""Satisfaction figures: NPS and mean overall satisfaction by month, the five-dimension
expectation–perception gap, and the satisfaction–loyalty matrix (Jones & Sasser) of a grading run.

Every figure covers one window: the calendar month of the as-of date (up to that day) and the
eleven months before it, so the headline figures are the totals of the monthly table. A response
counts when it was answered on or before the as-of date, in local time.
"""

import datetime

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from customers.models import Customer
from service.models import DIMENSIONS, SurveyResponse

from ..models import GradingRun

WINDOW_MONTHS = 12
# Overall satisfaction is asked on 1–5: 4 and 5 are satisfied.
SATISFIED_MIN = 4
# Loyal in the matrix: repeat behaviour, and alive by BG/NBD when the churn run has filled P(alive).
LOYAL_STATES = ("repeat", "loyal")
LOYAL_MIN_P_ALIVE = 0.5
# Likelihood to recommend 0–10: 9–10 promoters, 7–8 passives, 0–6 detractors.
PROMOTER_MIN = 9
DETRACTOR_MAX = 6

LOYALISTS, HOSTAGES, MERCENARIES, DEFECTORS = "loyalists", "hostages", "mercenaries", "defectors"
QUADRANTS = (LOYALISTS, HOSTAGES, MERCENARIES, DEFECTORS)

_SATISFIED = Q(latest_satisfaction__gte=SATISFIED_MIN)
_DISSATISFIED = Q(latest_satisfaction__lt=SATISFIED_MIN)
_LOYAL = Q(state__in=LOYAL_STATES) & (Q(p_alive__isnull=True) | Q(p_alive__gte=LOYAL_MIN_P_ALIVE))
# Written out rather than ~_LOYAL so that an unknown P(alive) never counts against anyone.
_NOT_LOYAL = ~Q(state__in=LOYAL_STATES) | Q(p_alive__lt=LOYAL_MIN_P_ALIVE)
QUADRANT_FILTERS = {
    LOYALISTS: _SATISFIED & _LOYAL,
    HOSTAGES: _DISSATISFIED & _LOYAL,
    MERCENARIES: _SATISFIED & _NOT_LOYAL,
    DEFECTORS: _DISSATISFIED & _NOT_LOYAL,
}


def _first_of_month(day: datetime.date, months_back: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def survey_window(*, as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
    """First and last day of the window: the first day of the month 11 months before `as_of`, and `as_of`."""
    return _first_of_month(as_of, WINDOW_MONTHS - 1), as_of


def window_months(*, as_of: datetime.date) -> list[datetime.date]:
    """The first day of each of the window's 12 months, oldest first."""
    return [_first_of_month(as_of, back) for back in range(WINDOW_MONTHS - 1, -1, -1)]


def responses_in_window(responses: QuerySet, *, as_of: datetime.date) -> QuerySet:
    """The responses answered in the window of `as_of` (local days, as-of day included)."""
    first, last = survey_window(as_of=as_of)
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    return responses.filter(answered_at__gte=start, answered_at__lt=end)


def nps_group(likelihood_to_recommend: int | None) -> str:
    """promoter, passive or detractor for an answer 0–10 ("" for none): as `SurveyResponse.nps_group`."""
    if likelihood_to_recommend is None:
        return ""
    if likelihood_to_recommend >= PROMOTER_MIN:
        return "promoter"
    return "passive" if likelihood_to_recommend > DETRACTOR_MAX else "detractor"


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _mean(total: int, count: int) -> float | None:
    return total / count if count else None


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _nps_block(n: int, promoters: int, detractors: int, satisfaction_sum: int) -> dict:
    passives = n - promoters - detractors
    return {
        "responses": n,
        "nps": round(100 * (promoters - detractors) / n, 1) if n else None,
        "satisfaction": _rounded(_mean(satisfaction_sum, n)),
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "promoters_share": _share(promoters, n),
        "passives_share": _share(passives, n),
        "detractors_share": _share(detractors, n),
    }


def survey_figures(*, responses: QuerySet, as_of: datetime.date) -> dict:
    """NPS and mean satisfaction by month, the headline figures and the five-dimension gaps of
    `responses` (already scoped to the reader) in the window of `as_of` — one grouped query."""
    sums = {f"{dim}_{side}": Sum(f"{dim}_{side}") for dim in DIMENSIONS for side in ("expected", "perceived")}
    rows = (
        responses_in_window(responses, as_of=as_of)
        .annotate(month=TruncMonth("answered_at"))
        .values("month")
        .annotate(
            n=Count("pk"),
            promoters=Count("pk", filter=Q(likelihood_to_recommend__gte=PROMOTER_MIN)),
            detractors=Count("pk", filter=Q(likelihood_to_recommend__lte=DETRACTOR_MAX)),
            satisfaction_sum=Sum("overall_satisfaction"),
            **sums,
        )
        .order_by("month")
    )
    by_month = {}
    for row in rows:
        month = row["month"]
        # TruncMonth gives an aware datetime in the current time zone (a date on some backends).
        key = month.date() if isinstance(month, datetime.datetime) else month
        by_month[key.replace(day=1)] = row
    monthly = []
    total = {"n": 0, "promoters": 0, "detractors": 0, "satisfaction_sum": 0, **dict.fromkeys(sums, 0)}
    for month in window_months(as_of=as_of):
        row = by_month.get(month)
        if row is None:
            monthly.append({"month": month.strftime("%Y-%m"), **_nps_block(0, 0, 0, 0)})
            continue
        for key in total:
            total[key] += row[key] or 0
        block = _nps_block(row["n"], row["promoters"], row["detractors"], row["satisfaction_sum"] or 0)
        monthly.append({"month": month.strftime("%Y-%m"), **block})
    gaps = []
    for dim in DIMENSIONS:
        expected = _mean(total[f"{dim}_expected"], total["n"])
        perceived = _mean(total[f"{dim}_perceived"], total["n"])
        gap = None if expected is None else perceived - expected
        gaps.append(
            {"dimension": dim, "expected": _rounded(expected), "perceived": _rounded(perceived), "gap": _rounded(gap)}
        )
    first, last = survey_window(as_of=as_of)
    return {
        "as_of": as_of.isoformat(),
        "window_start": first.isoformat(),
        "window_end": last.isoformat(),
        "monthly": monthly,
        "headline": _nps_block(total["n"], total["promoters"], total["detractors"], total["satisfaction_sum"]),
        "gaps": gaps,
    }


def _latest_answer(field: str, *, as_of: datetime.date) -> Subquery:
    latest = responses_in_window(SurveyResponse.objects.filter(customer=OuterRef("customer_id")), as_of=as_of)
    return Subquery(latest.order_by("-answered_at", "-pk").values(field)[:1])


def matrix_grades(*, run: GradingRun, grades: QuerySet) -> QuerySet:
    """The grades of `run` among `grades` whose customer answered a survey in the window of the run's date,
    with `latest_satisfaction` from their latest response in that window."""
    answered = responses_in_window(SurveyResponse.objects.all(), as_of=run.as_of).values("customer_id")
    return grades.filter(run=run, customer_id__in=answered).annotate(
        latest_satisfaction=_latest_answer("overall_satisfaction", as_of=run.as_of)
    )


def satisfaction_figures(run: GradingRun, grades: QuerySet, user=None) -> dict:
    """Compute function of the satisfaction dashboard (`scoped_figures` key "satisfaction"): the
    satisfaction–loyalty matrix of `grades` in `run` — counts and shares per quadrant, one query."""
    counted = matrix_grades(run=run, grades=grades).aggregate(
        **{key: Count("pk", filter=condition) for key, condition in QUADRANT_FILTERS.items()},
        with_p_alive=Count("pk", filter=Q(p_alive__isnull=False)),
    )
    total = sum(counted[key] for key in QUADRANTS)
    first, last = survey_window(as_of=run.as_of)
    return {
        "as_of": run.as_of.isoformat(),
        "window_start": first.isoformat(),
        "window_end": last.isoformat(),
        "customers": total,
        "with_p_alive": counted["with_p_alive"],
        "quadrants": {key: {"count": counted[key], "share": _share(counted[key], total)} for key in QUADRANTS},
    }


# States in the order customers move through them, rather than alphabetically by key.
_STATE_RANK = Case(
    *[When(state=state, then=Value(rank)) for rank, state in enumerate(Customer.State.values)],
    default=Value(len(Customer.State.values)),
)
# The sort keys of the quadrant's customer list and what they order by (ties by name).
CUSTOMER_SORTS = {
    "name": F("customer__name"),
    "satisfaction": F("latest_satisfaction"),
    "recommend": F("latest_recommend"),
    "state": _STATE_RANK,
    "p_alive": F("p_alive"),
}


def quadrant_customers(*, run: GradingRun, grades: QuerySet, quadrant: str, sort: str = "name") -> QuerySet:
    """The grades (with their customer) of `grades` in `quadrant` of the run's matrix, with the latest
    answers `latest_satisfaction` and `latest_recommend`, sorted by `sort` (a key of CUSTOMER_SORTS,
    "-" for descending)."""
    descending = sort.startswith("-")
    key = CUSTOMER_SORTS.get(sort.lstrip("-"), CUSTOMER_SORTS["name"])
    # Unknown P(alive) (no churn run) sorts last both ways.
    primary = key.desc(nulls_last=True) if descending else key.asc(nulls_last=True)
    return (
        matrix_grades(run=run, grades=grades)
        .filter(QUADRANT_FILTERS[quadrant])
        .annotate(latest_recommend=_latest_answer("likelihood_to_recommend", as_of=run.as_of))
        .select_related("customer")
        .order_by(primary, "customer__name", "pk")
    )
