"""python manage.py detect_churn [--as-of YYYY-MM-DD]: the nightly churn detection and CLV, on demand."""

import math

from django.core.management.base import BaseCommand, CommandError

from customers.services import job_run

from ...services.churn import detect_churn
from ...services.grading import NoActiveRule
from ._as_of import add_as_of, parse_as_of

COUNTED = ("scored", "high", "medium", "low", "alerts_opened", "won_back")


def _number(value) -> str:
    """A parameter as scripts read it: eight significant digits, `nan` when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.8g}"


def model_lines(run) -> list[str]:
    """The two `key=value` lines of DESIGN.md's "Command line", one per fitted model."""
    bgnbd = {"r": run.bgnbd_r, "alpha": run.bgnbd_alpha, "a": run.bgnbd_a, "b": run.bgnbd_b, "loglik": run.bgnbd_loglik}
    gammagamma = {"p": run.gg_p, "q": run.gg_q, "gamma": run.gg_gamma}
    return [
        "bgnbd " + " ".join(f"{key}={_number(value)}" for key, value in bgnbd.items()) + f" n={run.bgnbd_n}",
        "gammagamma " + " ".join(f"{key}={_number(value)}" for key, value in gammagamma.items()) + f" n={run.gg_n}",
    ]


class Command(BaseCommand):
    help = (
        "Fit the BG/NBD and Gamma-Gamma models as of a date, score every customer's P(alive), expected "
        "purchases, CLV and churn risk, and open churn alerts, as the nightly job does (grading first "
        "when that date has no grades). Rerunning a date replaces that date's figures."
    )

    def add_arguments(self, parser):
        add_as_of(parser)

    def handle(self, *args, as_of=None, **options):
        day = parse_as_of(as_of)
        try:
            with job_run("detect_churn", as_of=day) as recorder:
                run = detect_churn(as_of=day)
                recorder.count(**{key: run.counts[key] for key in COUNTED})
        except NoActiveRule as error:
            raise CommandError(str(error)) from None
        counts = run.counts
        self.stdout.write(
            f"Scored {counts['scored']} customers as of {run.as_of}: high {counts['high']}, "
            f"medium {counts['medium']}, low {counts['low']}; {counts['alerts_opened']} alerts opened, "
            f"{counts['won_back']} won back; in {counts['seconds']['total']:.2f} s."
        )
        margin = "n/a" if run.average_margin is None else f"{100 * run.average_margin:.1f}%"
        yes_no = {True: "yes", False: "no"}
        converged = f"BG/NBD {yes_no[run.bgnbd_converged]}, Gamma-Gamma {yes_no[run.gg_converged]}"
        fallback = f"; parameters from {run.fallback_from.as_of}" if run.fallback_from else ""
        self.stdout.write(f"average margin {margin}; converged: {converged}{fallback}")
        if run.message:
            self.stdout.write(self.style.WARNING(run.message))
        for line in model_lines(run):
            self.stdout.write(line)
