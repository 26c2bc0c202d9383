"""Sales reports (funnel, win rate, cycle length, forecast, leaderboard) and monthly targets.

Every number is aggregated in the database, a constant number of queries whatever the data;
`sales.reporting` does the arithmetic on the few rows that come back.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncMonth
from django.utils import timezone

from customers import roles
from customers.models import Team, managed_user_ids

from .. import reporting
from ..models import Opportunity, Order, Pipeline, SalesTarget, Stage, StageChange

CLOSED_ORDER = (Order.Status.CONFIRMED, Order.Status.DELIVERED)
MONEY = DecimalField(max_digits=20, decimal_places=4)


def can_see_reports(user) -> bool:
    return roles.has_role(user, roles.ADMIN, roles.MANAGER, roles.SALES_MANAGER, roles.SALES_REP)


def _sees_all(user) -> bool:
    return roles.has_role(user, roles.ADMIN, roles.MANAGER)


def owner_q(user, field_name: str = "owner") -> Q:
    """Rows of the people whose numbers `user` may read: all, their teams' and their own, or their own."""
    if _sees_all(user):
        return Q()
    if roles.has_role(user, roles.SALES_MANAGER):
        return Q(**{field_name: user}) | Q(**{f"{field_name}__in": managed_user_ids(user)})
    if roles.has_role(user, roles.SALES_REP):
        return Q(**{field_name: user})
    return Q(pk__in=[])


def reps_for(user):
    """The sales reps on the user's leaderboard and target grid: all for admins and managers, a sales
    manager's team members, a rep themself."""
    users = get_user_model().objects.filter(is_active=True)
    if _sees_all(user):
        return users.filter(groups__name=roles.SALES_REP).distinct()
    if roles.has_role(user, roles.SALES_MANAGER):
        return users.filter(pk__in=managed_user_ids(user))
    if roles.has_role(user, roles.SALES_REP):
        return users.filter(pk=user.pk)
    return users.none()


def teams_for(user):
    if _sees_all(user):
        return Team.objects.all()
    if roles.has_role(user, roles.SALES_MANAGER):
        return Team.objects.filter(manager=user)
    return Team.objects.none()


@dataclass
class ReportFilter:
    start: datetime.date
    end: datetime.date
    pipeline: Pipeline | None = None
    team: Team | None = None
    rep: object = None

    @property
    def start_at(self):
        return timezone.make_aware(datetime.datetime.combine(self.start, datetime.time.min))

    @property
    def end_before(self):
        """The first instant after the period (its last day is included)."""
        return timezone.make_aware(datetime.datetime.combine(self.end + datetime.timedelta(days=1), datetime.time.min))

    def owners(self, field_name: str = "owner") -> Q:
        q = Q()
        if self.team is not None:
            q &= Q(**{f"{field_name}__in": self.team.members.values("pk")})
        if self.rep is not None:
            q &= Q(**{field_name: self.rep.pk})
        return q


@dataclass
class SalesReport:
    filters: ReportFilter
    funnel: list = field(default_factory=list)
    won: int = 0
    lost: int = 0
    won_amount: Decimal = Decimal("0")
    win_rate: Decimal | None = None
    cycle_days: Decimal | None = None
    forecast: list = field(default_factory=list)
    leaderboard: list = field(default_factory=list)


def closed_time():
    """When an opportunity closed: `closed_at`, else its latest move into the stage it is in."""
    last_move = StageChange.objects.filter(opportunity=OuterRef("pk"), to_stage=OuterRef("stage")).order_by(
        "-changed_at", "-pk"
    )
    return Coalesce(F("closed_at"), Subquery(last_move.values("changed_at")[:1]))


def _opportunities(user, filters: ReportFilter, *, pipeline=True):
    qs = Opportunity.objects.filter(owner_q(user)).filter(filters.owners())
    if pipeline and filters.pipeline is not None:
        qs = qs.filter(pipeline=filters.pipeline)
    return qs.order_by()


def funnel(user, filters: ReportFilter) -> list[reporting.FunnelStage]:
    """Opportunities created in the period, counted at every stage they reached (by their stage changes,
    and their current stage): a later stage implies the earlier ones, lost is left out."""
    stages = list(
        Stage.objects.filter(pipeline=filters.pipeline, is_lost=False)
        .order_by("position")
        .values_list("name", "position")
    )
    furthest_change = (
        StageChange.objects.filter(opportunity=OuterRef("pk"), to_stage__is_lost=False)
        .order_by()
        .values("opportunity")
        .annotate(m=Max("to_stage__position"))
        .values("m")
    )
    current = Case(
        When(stage__is_lost=False, then=F("stage__position")), default=Value(-1), output_field=IntegerField()
    )
    rows = (
        _opportunities(user, filters)
        .filter(created_at__gte=filters.start_at, created_at__lt=filters.end_before)
        .annotate(reached=Greatest(Coalesce(Subquery(furthest_change), Value(-1)), current))
        .values("reached")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .values_list("reached", "n", "total")
    )
    return reporting.funnel(stages, list(rows))


def outcomes(user, filters: ReportFilter) -> dict:
    """Won and lost opportunities closed in the period, the won amount and the total days from creation to won."""
    cycle = ExpressionWrapper(F("closed_time") - F("created_at"), output_field=DurationField())
    return (
        _opportunities(user, filters)
        .filter(Q(stage__is_won=True) | Q(stage__is_lost=True))
        .annotate(closed_time=closed_time())
        .filter(closed_time__gte=filters.start_at, closed_time__lt=filters.end_before)
        .aggregate(
            won=Count("pk", filter=Q(stage__is_won=True)),
            lost=Count("pk", filter=Q(stage__is_lost=True)),
            won_amount=Sum("amount", filter=Q(stage__is_won=True)),
            cycle_total=Sum(cycle, filter=Q(stage__is_won=True)),
        )
    )


def forecast(user, filters: ReportFilter) -> list[dict]:
    """Open opportunities expected to close in the period, by close month: count, amount and amount × probability."""
    weighted = ExpressionWrapper(F("amount") * F("probability") / Value(100), output_field=MONEY)
    rows = (
        _opportunities(user, filters)
        .filter(
            stage__is_won=False,
            stage__is_lost=False,
            expected_close__gte=filters.start,
            expected_close__lte=filters.end,
        )
        .annotate(month=TruncMonth("expected_close"))
        .values("month")
        .annotate(n=Count("pk"), total=Sum("amount"), weighted_total=Sum(weighted))
        .order_by("month")
    )
    return [
        {
            "month": r["month"],
            "count": r["n"],
            "amount": reporting.money(r["total"]),
            "weighted": reporting.money(r["weighted_total"]),
        }
        for r in rows
    ]


def leaderboard(user, filters: ReportFilter, *, measure: str = "orders") -> list[dict]:
    """Per rep in view: confirmed/delivered order amount (by order date) and won opportunity amount (by
    close date) in the period, against the sum of their monthly targets for the months of the period."""
    reps = reps_for(user).filter(filters.owners("pk"))
    orders = (
        Order.objects.filter(
            owner=OuterRef("pk"), status__in=CLOSED_ORDER, ordered_at__gte=filters.start, ordered_at__lte=filters.end
        )
        .order_by()
        .values("owner")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    won = (
        Opportunity.objects.filter(owner=OuterRef("pk"), stage__is_won=True)
        .annotate(closed_time=closed_time())
        .filter(closed_time__gte=filters.start_at, closed_time__lt=filters.end_before)
        .order_by()
        .values("owner")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    targets = (
        SalesTarget.objects.filter(rep=OuterRef("pk"), month__gte=filters.start.replace(day=1), month__lte=filters.end)
        .order_by()
        .values("rep")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    rows = []
    for rep in reps.annotate(orders_amount=Subquery(orders), won_amount=Subquery(won), target=Subquery(targets)):
        actual = reporting.money(rep.won_amount if measure == "won" else rep.orders_amount)
        target = reporting.money(rep.target) if rep.target is not None else None
        rows.append(
            {
                "rep": rep,
                "name": rep.get_full_name() or rep.username,
                "orders_amount": reporting.money(rep.orders_amount),
                "won_amount": reporting.money(rep.won_amount),
                "actual": actual,
                "target": target,
                "percent": reporting.percent(actual, target),
            }
        )
    rows.sort(key=lambda r: (r["percent"] is None, -(r["percent"] or 0), -r["actual"], r["name"]))
    return rows


def sales_report(user, filters: ReportFilter, *, measure: str = "orders") -> SalesReport:
    """Every number of the reports page for what `user` may see under `filters`."""
    report = SalesReport(filters=filters)
    report.funnel = funnel(user, filters)
    result = outcomes(user, filters)
    report.won, report.lost = result["won"], result["lost"]
    report.won_amount = reporting.money(result["won_amount"])
    report.win_rate = reporting.percent(report.won, report.won + report.lost)
    total = result["cycle_total"]
    report.cycle_days = reporting.average_days(total.total_seconds() if total else 0, report.won)
    report.forecast = forecast(user, filters)
    report.leaderboard = leaderboard(user, filters, measure=measure)
    return report


# ---------------------------------------------------------------------------------------------
# Targets


def can_set_targets(user) -> bool:
    return roles.has_role(user, roles.ADMIN, roles.SALES_MANAGER)


def target_reps(user):
    """Reps whose targets `user` may set: an admin every sales rep, a sales manager their teams' members."""
    users = get_user_model().objects.filter(is_active=True)
    if roles.is_admin(user):
        return users.filter(groups__name=roles.SALES_REP).distinct()
    if roles.has_role(user, roles.SALES_MANAGER):
        return users.filter(pk__in=managed_user_ids(user))
    return users.none()


@transaction.atomic
def targets_save(*, actor, year: int, amounts: dict[int, dict[int, Decimal | None]]) -> dict:
    """Set the monthly targets of `year`: {rep id: {month 1–12: amount, or None to clear}}; only for reps the
    actor may set. Returns how many targets were created, changed and cleared."""
    allowed = set(target_reps(actor).filter(pk__in=list(amounts)).values_list("pk", flat=True))
    if set(amounts) - allowed:
        raise PermissionError("targets of reps outside the actor's teams")
    existing = {
        (t.rep_id, t.month.month): t
        for t in SalesTarget.objects.select_for_update().filter(rep__in=allowed, month__year=year)
    }
    now = timezone.now()
    create, update, clear = [], [], []
    for rep_id, months in amounts.items():
        for month, amount in months.items():
            target = existing.get((rep_id, month))
            if amount is None:
                if target is not None:
                    clear.append(target.pk)
            elif target is None:
                create.append(
                    SalesTarget(
                        rep_id=rep_id, month=datetime.date(year, month, 1), amount=amount, set_by=actor, updated_at=now
                    )
                )
            elif target.amount != amount:
                target.amount, target.set_by, target.updated_at = amount, actor, now
                update.append(target)
    SalesTarget.objects.bulk_create(create)
    SalesTarget.objects.bulk_update(update, ["amount", "set_by", "updated_at"])
    SalesTarget.objects.filter(pk__in=clear).delete()
    return {"created": len(create), "changed": len(update), "cleared": len(clear)}
