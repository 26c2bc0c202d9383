"""python manage.py import_orders FILE [--actor USERNAME]: good orders are written, bad rows listed by line."""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sales import importing


class Command(BaseCommand):
    help = (
        "Import orders from a CSV (UTF-8) or Excel .xlsx file with a header row: customer_ref, order_ref, "
        "ordered_at, amount, and optionally product (SKU), quantity, cost, customer_name, status. Each row is "
        "one order line; rows with the same order_ref make one order. Missing customers are created; an "
        "order_ref already imported is left unchanged. Orders with a bad row are skipped and every bad row is "
        "listed with its line number; the exit status is 1 when any row was bad."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv or .xlsx file")
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="who is importing: recorded as creator; a sales user also becomes the owner of new customers",
        )

    def handle(self, *args, file, actor=None, verbosity=1, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"--actor {actor}: no such user")

        def progress(stage, processed, total):
            self.stderr.write(f"{stage}: {processed}/{total} rows")

        started = time.monotonic()
        result = importing.recorded_import(path, recorded_by=user, progress=progress if verbosity > 1 else None)
        elapsed = time.monotonic() - started
        if result.ignored_columns:
            self.stderr.write(
                "Ignored columns (not order columns): " + ", ".join(result.ignored_columns), self.style.WARNING
            )
        for line, reason in result.errors:
            self.stderr.write(importing.format_error(line, reason))
        if not result.ok:
            raise CommandError(importing.summary(result), returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{importing.summary(result)} ({elapsed:.1f} s)"))
