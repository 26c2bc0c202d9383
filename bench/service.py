"""Service pages for `make bench`: the ticket queue tabs and the monthly complaint report, at 200,000 tickets.

bench/run.py (after seeding) calls `ensure_tickets()` and adds `pages_for(user)` to the pages it times:

    from bench import service as service_bench
    service_bench.ensure_tickets()
    pages += service_bench.pages_for(user)

Targets (issue 4): median under 50 ms for the queues, under 150 ms for the report.
"""

import dataclasses
import sys
import time

TICKETS = 200_000


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_tickets(n: int = TICKETS, *, seed: str = "bench-service") -> dict:
    """Top the bench database up to `n` tickets with the demo generator (spread over every customer)."""
    from django.db import transaction

    from customers.models import Customer
    from service import demo
    from service.models import Ticket

    existing = Ticket.objects.count()
    if existing >= n:
        progress(f"{existing} tickets already there; not adding")
        return {"existing": existing, "added": 0, "seconds": None}
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    if not ids:
        progress("No customers: seed first")
        return {"existing": existing, "added": 0, "seconds": None}
    wanted = n - existing
    progress(f"Adding {wanted} tickets over {len(ids)} customers (this database has {existing})")
    started = time.perf_counter()
    context = dataclasses.replace(demo.bench_context(seed=f"{seed}/{existing}"), customer_ids=ids)
    with transaction.atomic():
        setup = demo.ensure_setup(context, {})
        counts = demo.ServiceDemo(context, setup).run(wanted)
    seconds = time.perf_counter() - started
    progress(f"Added {counts} in {seconds:.1f} s")
    return {"existing": existing, "added": counts["tickets"], "seconds": seconds, "counts": counts}


def busiest_complaint_month() -> str | None:
    """The month (YYYY-MM, local time) with the most complaints: the report's worst case."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    from service.models import Ticket

    row = (
        Ticket.objects.filter(type=Ticket.Type.COMPLAINT)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    return f"{row['month']:%Y-%m}" if row else None


def pages_for(user) -> list[tuple[str, str, dict]]:
    """(label, path, params) of the service pages this user can open."""
    from customers import roles

    pages = []
    user_roles = roles.roles_of(user)
    if user_roles & {roles.SERVICE_AGENT, roles.SERVICE_SUPERVISOR, roles.MANAGER, roles.ADMIN}:
        tabs = ["breaching", "all"]
        if roles.SERVICE_AGENT in user_roles:
            tabs = ["mine", "team", "unassigned", *tabs]
        for tab in tabs:
            pages.append((f"Ticket queue: {tab}", "/service/tickets/", {"tab": tab}))
        pages.append(("Ticket queue: all, any status", "/service/tickets/", {"tab": "all", "status": "any"}))
        pages.append(("Ticket queue: all, search 破损", "/service/tickets/", {"tab": "all", "q": "破损"}))
    if user_roles & {roles.SERVICE_SUPERVISOR, roles.MANAGER, roles.ADMIN}:
        pages.append(("Complaint report (last full month)", "/service/reports/complaints/", {}))
        busiest = busiest_complaint_month()
        if busiest:
            pages.append((f"Complaint report ({busiest}, most complaints)", "/service/reports/complaints/",
                          {"month": busiest}))  # fmt: skip
            pages.append(("Complaint report CSV", "/service/reports/complaints/", {"month": busiest, "format": "csv"}))
    return pages
