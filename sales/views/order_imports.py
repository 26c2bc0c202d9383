"""Order import from the UI: upload a file, then watch the job write the good orders and list the bad rows."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from customers import roles
from customers.forms import ImportForm
from customers.models import ImportJob

from .. import importing, tasks

RECENT_IMPORTS = 5

# What each column means, for the upload page.
COLUMN_HELP = {
    "customer_ref": _("Your customer number (the customer's external_ref). A customer that does not exist is created."),
    "order_ref": _("Your order number. Rows with the same order_ref are the lines of one order."),
    "ordered_at": _("The order date, YYYY-MM-DD."),
    "amount": _("The line amount (not the unit price): the unit price is amount ÷ quantity."),
    "product": _("The product's SKU; optional. An unknown SKU makes the row bad."),
    "quantity": _("Optional; 1 when empty."),
    "cost": _("The line cost; optional. Empty: the product's unit cost × quantity, else 0."),
    "customer_name": _("The name of a customer the import creates; optional (else the customer_ref)."),
    "status": _("Optional: draft, confirmed, delivered or cancelled; confirmed when empty."),
    "description": _("Optional: what was sold, for lines without a product."),
}
EXAMPLE = (
    "customer_ref,order_ref,ordered_at,amount,product,quantity\n"
    "C000123,ERP-2025-0001,2025-03-04,2560.00,FUR-CHAIR-01,2\n"
    "C000123,ERP-2025-0001,2025-03-04,899.00,IT-DOCK-01,1"
)


def can_import_orders(user) -> bool:
    """Admins and sales managers import orders, and anyone given the sales.import_orders permission."""
    return roles.has_role(user, roles.ADMIN, roles.SALES_MANAGER) or user.has_perm("sales.import_orders")


def _require_permission(user) -> None:
    if not can_import_orders(user):
        raise PermissionDenied


def _visible_imports(user):
    """Order imports the user may look at: their own; an admin's, everyone's."""
    jobs = ImportJob.objects.filter(kind="orders").select_related("created_by")
    return jobs if roles.is_admin(user) else jobs.filter(created_by=user)


@require_http_methods(["GET", "POST"])
def order_import(request):
    """The upload form; a valid upload becomes an ImportJob run by a Celery task after commit."""
    _require_permission(request.user)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            job = ImportJob.objects.create(
                kind="orders",
                file=upload,
                original_name=upload.name[:255],
                language=request.LANGUAGE_CODE,
                created_by=request.user,
            )
            transaction.on_commit(lambda: tasks.run_order_import.delay(job.pk))
            return redirect("sales:order_import_detail", pk=job.pk)
    else:
        form = ImportForm()
    context = {
        "form": form,
        "columns": [
            {"column": column, "required": column in importing.REQUIRED_COLUMNS, "text": COLUMN_HELP[column]}
            for column in importing.COLUMNS
        ],
        "example": EXAMPLE,
        "recent_imports": list(_visible_imports(request.user).filter(created_by=request.user)[:RECENT_IMPORTS]),
    }
    return render(request, "sales/order_import_form.html", context)


def _progress_context(job):
    return {
        "job": job,
        "bad_rows": job.counts.get("bad_rows", 0),
        "errors_truncated": len(job.errors) >= importing.MAX_STORED_ERRORS,
    }


@require_GET
def order_import_detail(request, pk):
    """One import: a progress bar while it runs, then what it wrote and which rows it skipped."""
    _require_permission(request.user)
    job = get_object_or_404(_visible_imports(request.user), pk=pk)
    return render(request, "sales/order_import_detail.html", _progress_context(job))


@require_GET
def order_import_status(request, pk):
    """The progress panel alone, polled by the detail page every second until the job is finished."""
    _require_permission(request.user)
    job = get_object_or_404(_visible_imports(request.user), pk=pk)
    return render(request, "sales/order_import_progress.html", _progress_context(job))


urlpatterns = [
    path("orders/import/", order_import, name="order_import"),
    path("orders/import/<int:pk>/", order_import_detail, name="order_import_detail"),
    path("orders/import/<int:pk>/status/", order_import_status, name="order_import_status"),
]
