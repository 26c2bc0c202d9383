"""Customer import from the UI: upload a file, then watch the job check and save it."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import importing, roles, tasks
from ..forms import ImportForm
from ..models import ImportJob

RECENT_IMPORTS = 5

# What each column means, for the upload page; choice columns also list their accepted values.
COLUMN_HELP = {
    "external_ref": _("Your own customer number (e.g. from the ERP). Rows match existing customers on it first."),
    "name": _("The customer's or company's name."),
    "kind": None,
    "phone": _("Rows without an external_ref match existing customers on the phone number, then the email."),
    "email": "",
    "region": _("Province or state."),
    "city": "",
    "address": "",
    "industry": None,
    "category": None,
    "relationship_level": None,
    "source": None,
    "owner": _("The account manager's username. Left empty: unchanged (new customers: you, if you are in sales)."),
    "marketing_consent": _("yes/no, true/false, 1/0 or 是/否."),
    "consent_channel": None,
    "birthday": _("YYYY-MM-DD."),
    "anniversary": _("YYYY-MM-DD."),
    "tags": _("Tag names separated by commas or semicolons; new tags are created."),
    "notes": "",
}
EXAMPLE_HEADER = "external_ref,name,phone,email,category,owner,tags"


def _require_import_permission(user):
    if not user.has_perm("customers.import_customers"):
        raise PermissionDenied


def _visible_imports(user):
    """Customer imports the user may look at: their own; an admin's, everyone's."""
    jobs = ImportJob.objects.filter(kind="customers").select_related("created_by")
    return jobs if roles.is_admin(user) else jobs.filter(created_by=user)


def _column_help():
    rows = []
    for column in importing.COLUMNS:
        text = COLUMN_HELP[column]
        choices = importing.CHOICE_COLUMNS.get(column)
        rows.append(
            {
                "column": column,
                "required": column in importing.REQUIRED_COLUMNS,
                "text": text or "",
                "choices": [(code, label) for code, label in choices.choices] if choices else [],
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
def import_start(request):
    """The upload form; a valid upload becomes an ImportJob run by a Celery task after commit."""
    _require_import_permission(request.user)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            job = ImportJob.objects.create(
                kind="customers",
                file=upload,
                original_name=upload.name[:255],
                language=request.LANGUAGE_CODE,
                created_by=request.user,
            )
            transaction.on_commit(lambda: tasks.run_customer_import.delay(job.pk))
            return redirect("customers:import_detail", pk=job.pk)
    else:
        form = ImportForm()
    context = {
        "form": form,
        "columns": _column_help(),
        "example_header": EXAMPLE_HEADER,
        "recent_imports": list(_visible_imports(request.user).filter(created_by=request.user)[:RECENT_IMPORTS]),
    }
    return render(request, "customers/import_form.html", context)


def _progress_context(job):
    return {
        "job": job,
        "bad_rows": len({error["line"] for error in job.errors}),
        "errors_truncated": len(job.errors) >= importing.MAX_STORED_ERRORS,
    }


@require_GET
def import_detail(request, pk):
    """One import: a progress bar while it runs, then what it did or why nothing was imported."""
    _require_import_permission(request.user)
    job = get_object_or_404(_visible_imports(request.user), pk=pk)
    return render(request, "customers/import_detail.html", _progress_context(job))


@require_GET
def import_status(request, pk):
    """The progress panel alone, polled by the detail page every second until the job is finished."""
    _require_import_permission(request.user)
    job = get_object_or_404(_visible_imports(request.user), pk=pk)
    return render(request, "customers/partials/import_progress.html", _progress_context(job))
