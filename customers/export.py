"""Spreadsheet export of customer lists, safe against formula injection."""

import csv
import io

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from .models import Customer

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _columns():
    return [
        (_("External reference"), lambda c: c.external_ref or ""),
        (_("Name"), lambda c: c.name),
        (_("Kind"), lambda c: c.get_kind_display()),
        (_("Category"), lambda c: c.get_category_display()),
        (_("Phone"), lambda c: c.phone),
        (_("Email"), lambda c: c.email),
        (_("Region"), lambda c: c.region),
        (_("City"), lambda c: c.city),
        (_("Industry"), lambda c: c.get_industry_display()),
        (_("Account manager"), lambda c: c.owner.username if c.owner else ""),
        (_("Tier"), lambda c: c.get_tier_display()),
        (_("State"), lambda c: c.get_state_display()),
        (_("RFM code"), lambda c: c.rfm_code),
        (_("Churn risk"), lambda c: c.get_churn_risk_display()),
        (_("Lifetime value"), lambda c: c.clv if c.clv is not None else ""),
        (_("Tags"), lambda c: ", ".join(t.name for t in c.tags.all())),
        (_("Archived"), lambda c: _("yes") if c.archived else ""),
        (_("Created"), lambda c: timezone.localtime(c.created_at).strftime("%Y-%m-%d %H:%M")),
    ]


def table_rows(columns, objects):
    """The header, then one row per object: `columns` are (title, value function) pairs; every cell
    is neutralised, so a name like "=HYPERLINK(…)" never becomes a formula in a spreadsheet."""
    yield [str(title) for title, _value in columns]
    for obj in objects:
        yield [neutralise(value(obj)) for _title, value in columns]


class _Echo:
    def write(self, value):
        return value


def _filename(stem, ext):
    return f"{stem}-{timezone.localdate():%Y%m%d}.{ext}"


def csv_response(rows, *, stem: str) -> StreamingHttpResponse:
    """Stream `rows` (lists of cells) as UTF-8 CSV with a BOM, so that Excel reads Chinese correctly."""
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(stem, "csv")}"'
    return response


def xlsx_response(rows, *, stem: str, sheet_title: str) -> HttpResponse:
    """`rows` as an Excel workbook (write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(sheet_title))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(stem, "xlsx")}"'
    return response


def _rows(queryset):
    customers = queryset.select_related("owner").prefetch_related("tags")
    return table_rows(_columns(), customers.iterator(chunk_size=2000))


def export_csv(queryset) -> StreamingHttpResponse:
    """Stream the customers as CSV."""
    return csv_response(_rows(queryset), stem="customers")


def export_xlsx(queryset) -> HttpResponse:
    """The customers as an Excel workbook."""
    return xlsx_response(_rows(queryset), stem="customers", sheet_title=Customer._meta.verbose_name_plural)
