"""python manage.py grade_customers [--as-of YYYY-MM-DD]: the nightly grading, on demand."""

from django.core.management.base import BaseCommand, CommandError

from customers.services import job_run

from ...services.grading import NoActiveRule, grade_customers
from ._as_of import add_as_of, parse_as_of


class Command(BaseCommand):
    help = (
        "Grade every active customer as of a date (RFM scores and segment, pyramid tier, state, lifecycle "
        "stage), as the nightly job does. Rerunning a date replaces that date's grades."
    )

    def add_arguments(self, parser):
        add_as_of(parser)

    def handle(self, *args, as_of=None, **options):
        day = parse_as_of(as_of)
        try:
            with job_run("grade_customers", as_of=day) as recorder:
                run = grade_customers(as_of=day)
                recorder.count(customers=run.counts["customers"], buyers=run.counts["buyers"])
        except NoActiveRule as error:
            raise CommandError(str(error)) from None
        counts = run.counts
        self.stdout.write(
            f"Graded {counts['customers']} customers as of {run.as_of} "
            f"({counts['buyers']} with a purchase in the window) with rule {run.rule} "
            f"in {counts['seconds']['total']:.2f} s."
        )
        self.stdout.write("states " + " ".join(f"{k}={v}" for k, v in sorted(counts["states"].items())))
        self.stdout.write("tiers " + " ".join(f"{k}={v}" for k, v in sorted(counts["tiers"].items())))
        self.stdout.write(
            f"changed {counts['customers_changed']} customers; {counts['transitions']} state changes since "
            f"{counts['previous_run'] or 'no earlier run'}"
        )
