"""python manage.py import_inventory FILE: inventory snapshots, all rows or none, bad rows listed by line."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.services import inventory


class Command(BaseCommand):
    help = (
        "Import inventory snapshots from a CSV (UTF-8) or Excel .xlsx file with a header row: sku, taken_on "
        "(YYYY-MM-DD), quantity, value_at_cost. A row adds the product's snapshot of that day or updates it; "
        "importing the same file again changes nothing. When any row is bad nothing is written, every bad row "
        "is listed with its line number, and the exit status is 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv or .xlsx file")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        result = inventory.inventory_import_recorded(path)
        if result.ignored_columns:
            self.stderr.write(
                "Ignored columns (not inventory columns): " + ", ".join(result.ignored_columns), self.style.WARNING
            )
        for line, reason in result.errors:
            self.stderr.write(inventory.format_error(line, reason))
        if not result.ok:
            raise CommandError(inventory.import_summary(result), returncode=1)
        self.stdout.write(self.style.SUCCESS(inventory.import_summary(result)))
