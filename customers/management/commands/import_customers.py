"""python manage.py import_customers FILE [--actor USERNAME]: all rows or none, bad rows by line."""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from customers import importing


class Command(BaseCommand):
    help = (
        "Import customers from a CSV (UTF-8) or Excel .xlsx file with a header row. Rows that match an "
        "existing customer (external_ref, then phone, then email) update it. If any row is bad, nothing "
        "is written and every bad row is listed with its line number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv or .xlsx file")
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="who is importing: recorded in the change history; a sales user also becomes the owner "
            "of new customers that have no owner column",
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
        if result.ignored_columns:
            self.stderr.write(
                "Ignored columns (not customer fields): " + ", ".join(result.ignored_columns), self.style.WARNING
            )
        if not result.ok:
            for line, reason in result.errors:
                self.stderr.write(importing.format_error(line, reason))
            raise CommandError(importing.rejection_summary(result), returncode=1)
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"{importing.success_summary(result.counts)} ({elapsed:.1f} s)"))
