"""The monthly complaint report: every figure in SQL aggregates, a fixed number of queries whatever the volume.

A complaint belongs to the month it was created in (local time). Each grouped query counts the
report month and the month before it side by side, so month-over-month change costs nothing extra.
"""

import datetime
from collections.abc import Iterable

from django.db.models import BooleanField, Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer

from .. import reporting
from ..models import Ticket, TicketCategory
from ..reporting import Month

REPEAT_LIMIT = 50
ROOT_CAUSE_LIMIT = 10


def _bounds(month: Month) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(month.first_day, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(month.shift(1).first_day, datetime.time.min, tzinfo=tz)
    return start, end


def _duration(end_field: str):
    return ExpressionWrapper(F(end_field) - F("created_at"), output_field=DurationField())


def _with_change(rows: Iterable[dict]) -> list[dict]:
    """Rows of {"label", "current", "previous"} with their change, biggest first, zero rows dropped."""
    result = [{**row, **reporting.change(row["current"], row["previous"])} for row in rows]
    result = [row for row in result if row["current"] or row["previous"]]
    result.sort(key=lambda row: (-row["current"], -row["previous"], str(row["label"])))
    return result


def complaint_report(*, month: Month, now: datetime.datetime | None = None) -> dict:
    """Counts by category, product, channel and priority; response and resolution times; SLA compliance;
    repeat complainers; top root causes — for `month`, each with the change from the month before."""
    now = now or timezone.now()
    previous_month = month.shift(-1)
    start, end = _bounds(month)
    prev_start, _prev_end = _bounds(previous_month)
    both = Ticket.objects.filter(type=Ticket.Type.COMPLAINT, created_at__gte=prev_start, created_at__lt=end)
    cur = Q(created_at__gte=start)
    prev = Q(created_at__lt=start)

    def counted(filter_q=None):
        base = Q() if filter_q is None else filter_q
        return {"current": Count("pk", filter=cur & base), "previous": Count("pk", filter=prev & base)}

    # Due by now or answered: a complaint still inside its target is neither on time nor late yet.
    response_judged = Q(first_response_due__isnull=False) & (
        Q(first_responded_at__isnull=False) | Q(first_response_due__lt=now)
    )
    response_on_time = Q(first_responded_at__isnull=False, first_responded_at__lte=F("first_response_due"))
    resolution_judged = Q(resolution_due__isnull=False) & (Q(resolved_at__isnull=False) | Q(resolution_due__lt=now))
    resolution_on_time = Q(resolved_at__isnull=False, resolved_at__lte=F("resolution_due"))
    # One pass over the two months' complaints, grouped by month and the small dimensions (category,
    # channel, priority): the totals and the three breakdowns are summed from its rows in Python, each
    # aggregate computed once per row rather than once per month. Averages come as sums and counts so
    # that they can be combined across groups.
    aggregates = {
        "complaints": Count("pk"),
        "open": Count("pk", filter=~Q(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])),
        "flagged": Count("pk", filter=Q(is_repeat=True)),
        "response_judged": Count("pk", filter=response_judged),
        "response_on_time": Count("pk", filter=response_on_time),
        "resolution_judged": Count("pk", filter=resolution_judged),
        "resolution_on_time": Count("pk", filter=resolution_on_time),
        **{f"attitude_{value}": Count("pk", filter=Q(customer_attitude=value)) for value in Ticket.Attitude.values},
        "first_response_sum": Sum(_duration("first_responded_at"), filter=Q(first_responded_at__isnull=False)),
        "first_response_n": Count("pk", filter=Q(first_responded_at__isnull=False)),
        "resolution_sum": Sum(_duration("resolved_at"), filter=Q(resolved_at__isnull=False)),
        "resolution_n": Count("pk", filter=Q(resolved_at__isnull=False)),
    }
    groups = list(
        both.order_by()
        .values("category_id", "channel", "priority", current=ExpressionWrapper(cur, output_field=BooleanField()))
        .annotate(**aggregates)
    )
    totals = {}
    for key in aggregates:
        for period, is_current in (("current", True), ("previous", False)):
            values = [row[key] for row in groups if bool(row["current"]) is is_current]
            if key.endswith("_sum"):
                totals[f"{key}_{period}"] = sum((value for value in values if value is not None), _NO_TIME)
            else:
                totals[f"{key}_{period}"] = sum(values)
    for name in ("first_response", "resolution"):
        for period in ("current", "previous"):
            n = totals.pop(f"{name}_n_{period}")
            total = totals.pop(f"{name}_sum_{period}")
            totals[f"{name}_{period}"] = total / n if n else None

    def grouped(field):
        """Current and previous counts per value of `field`, summed over the pass's groups."""
        sums: dict = {}
        for row in groups:
            entry = sums.setdefault(row[field], {"current": 0, "previous": 0})
            entry["current" if row["current"] else "previous"] += row["complaints"]
        return [{field: value, **counts} for value, counts in sums.items()]

    def pair(key):
        return totals[f"{key}_current"], totals[f"{key}_previous"]

    def metric(label, current, previous, unit=""):
        return {
            "label": label,
            "current": current,
            "previous": previous,
            "unit": unit,
            **reporting.change(current, previous),
        }

    def sla(kind):
        on_cur, on_prev = pair(f"{kind}_on_time")
        n_cur, n_prev = pair(f"{kind}_judged")
        return reporting.percent(on_cur, n_cur), reporting.percent(on_prev, n_prev)

    categories = {c.pk: str(c) for c in TicketCategory.objects.select_related("parent")}
    by_category = _with_change(
        {
            "label": categories.get(row["category_id"], _("No category")),
            "current": row["current"],
            "previous": row["previous"],
        }
        for row in grouped("category_id")
    )
    by_product = _with_change(
        {"label": row["product__name"] or _("No product"), "current": row["current"], "previous": row["previous"]}
        for row in both.order_by().values("product_id", "product__name").annotate(**counted())
    )
    channel_names = dict(Ticket.Channel.choices)
    by_channel = _with_change(
        {"label": channel_names.get(row["channel"], row["channel"]), "key": row["channel"], **_pick(row)}
        for row in grouped("channel")
    )
    priority_names = dict(Ticket.Priority.choices)
    priority_rank = {value: n for n, value in enumerate(Ticket.Priority.values)}
    by_priority = [
        {**row, **reporting.change(row["current"], row["previous"])}
        for row in sorted(
            (
                {"label": priority_names.get(row["priority"], row["priority"]), "key": row["priority"], **_pick(row)}
                for row in grouped("priority")
            ),
            key=lambda row: -priority_rank.get(row["key"], -1),
        )
    ]
    # Repeat complainers: how many there are in each month (one row back), then only the rows the page
    # lists, each customer's name looked up for those rather than joined onto every complaint.
    per_customer = (
        both.order_by()
        .values("customer_id")
        .annotate(
            **counted(),
            flagged_current=Count("pk", filter=cur & Q(is_repeat=True)),
            flagged_previous=Count("pk", filter=prev & Q(is_repeat=True)),
        )
    )
    repeat_now = Q(current__gte=2) | Q(flagged_current__gt=0)
    repeat_before = Q(previous__gte=2) | Q(flagged_previous__gt=0)
    repeat_counts = per_customer.filter(repeat_now | repeat_before).aggregate(
        now=Count("customer_id", filter=repeat_now), before=Count("customer_id", filter=repeat_before)
    )
    name = Customer.objects.filter(pk=OuterRef("customer_id")).order_by().values("name")[:1]
    repeat_current = list(
        per_customer.filter(repeat_now)
        .annotate(customer_name=Subquery(name))
        .order_by("-current", "customer_name", "customer_id")[:REPEAT_LIMIT]
    )
    for row in repeat_current:
        row["customer__name"] = row.pop("customer_name")
    root_causes = _with_change(
        {"label": row["root_cause"], **_pick(row)}
        for row in both.exclude(root_cause="").order_by().values("root_cause").annotate(**counted())
    )[:ROOT_CAUSE_LIMIT]

    frt_cur, frt_prev = (reporting.hours(v) for v in pair("first_response"))
    res_cur, res_prev = (reporting.hours(v) for v in pair("resolution"))
    sla_response = sla("response")
    sla_resolution = sla("resolution")
    attitudes = [metric(label, *pair(f"attitude_{value}")) for value, label in Ticket.Attitude.choices]
    summary = [
        metric(_("Complaints"), *pair("complaints")),
        metric(_("Still open"), *pair("open")),
        metric(_("Flagged as repeat complaints"), *pair("flagged")),
        metric(_("Repeat complainers"), repeat_counts["now"], repeat_counts["before"]),
        metric(_("Average time to first response"), frt_cur, frt_prev, "h"),
        metric(_("Average time to resolution"), res_cur, res_prev, "h"),
        metric(_("First response within target"), *sla_response, "%"),
        metric(_("Resolved within target"), *sla_resolution, "%"),
    ]
    return {
        "month": month,
        "previous_month": previous_month,
        "summary": summary,
        "attitudes": attitudes,
        "by_category": by_category,
        "by_product": by_product,
        "by_channel": by_channel,
        "by_priority": by_priority,
        "repeat_complainers": repeat_current,
        "repeat_more": max(repeat_counts["now"] - REPEAT_LIMIT, 0),
        "root_causes": root_causes,
        "totals": totals,
    }


_NO_TIME = datetime.timedelta(0)


def _pick(row: dict) -> dict:
    return {"current": row["current"], "previous": row["previous"]}


def complaint_report_rows(report: dict) -> list[list]:
    """The report as spreadsheet rows: section, item, this month, previous month, change, change %."""
    header = [
        _("Section"),
        _("Item"),
        str(report["month"]),
        str(report["previous_month"]),
        _("Change"),
        _("Change %"),
    ]
    rows = [header]
    sections = [
        (_("Summary"), report["summary"]),
        (_("Customer's attitude to the resolution"), report["attitudes"]),
        (_("By category"), report["by_category"]),
        (_("By product"), report["by_product"]),
        (_("By channel"), report["by_channel"]),
        (_("By priority"), report["by_priority"]),
        (_("Top root causes"), report["root_causes"]),
    ]
    for title, items in sections:
        for item in items:
            rows.append([title, str(item["label"]), item["current"], item["previous"], item["delta"], item["percent"]])
    for item in report["repeat_complainers"]:
        rows.append([_("Repeat complainers"), item["customer__name"], item["current"], item["previous"], None, None])
    return [["" if value is None else value for value in row] for row in rows]
