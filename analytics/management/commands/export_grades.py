"""python manage.py export_grades [--as-of YYYY-MM-DD] [-o FILE]: every buyer's grade as CSV."""

import csv

from django.core.management.base import BaseCommand

from customers.export import neutralise
from customers.services import job_run

from ...models import ChurnModelRun, CustomerGrade, RunStatus
from ...services.churn import detect_churn
from ._as_of import add_as_of, parse_as_of

# DESIGN.md "Command line": scripts read these columns by name.
COLUMNS = [
    "customer_ref",
    "recency",
    "frequency",
    "monetary",
    "r",
    "f",
    "m",
    "rfm_code",
    "segment",
    "tier",
    "state",
    "lifecycle_stage",
    "p_alive",
    "expected_purchases",
    "clv",
    "churn_risk",
]


def _blank(value) -> object:
    return "" if value is None else value


def _float(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


class Command(BaseCommand):
    help = (
        "Write the grades as of a date as CSV: one row per customer with at least one purchase by then. "
        "Computes the grading and churn runs of that date first when they are missing."
    )

    def add_arguments(self, parser):
        add_as_of(parser)
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    def handle(self, *args, as_of=None, output=None, **options):
        day = parse_as_of(as_of)
        churn_run = ChurnModelRun.objects.filter(as_of=day, status=RunStatus.SUCCEEDED).first()
        if churn_run is None:
            self.stderr.write(f"No churn run as of {day}: computing the grades and churn models first.")
            with job_run("detect_churn", as_of=day):
                churn_run = detect_churn(as_of=day)
        grades = (
            CustomerGrade.objects.filter(run=churn_run.grading_run, occasions__gt=0)
            .select_related("customer")
            .order_by("customer_id")
        )
        handle = open(output, "w", newline="", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        try:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            rows = 0
            for g in grades.iterator(chunk_size=5000):
                writer.writerow(
                    [
                        # Customers created in the CRM have no external reference: their CRM id stands in.
                        neutralise(g.customer.external_ref or str(g.customer_id)),
                        _blank(g.recency),
                        g.frequency,
                        g.monetary,
                        _blank(g.r),
                        _blank(g.f),
                        _blank(g.m),
                        g.rfm_code,
                        g.segment,
                        g.tier,
                        g.state,
                        g.lifecycle_stage,
                        _float(g.p_alive),
                        _float(g.expected_purchases),
                        _blank(g.clv),
                        g.churn_risk,
                    ]
                )
                rows += 1
        finally:
            if output:
                handle.close()
        if output:
            self.stderr.write(f"Wrote {rows} customers as of {day} to {output}.")
