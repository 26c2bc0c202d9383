"""Running an import: the whole pipeline for the command line and for the upload page's Celery job.

Every run is recorded as a run of the "import_customers" job; the upload page's job also keeps its
ImportJob's status, progress and outcome current, in the language of the person who uploaded it.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import services
from ..models import ImportJob
from .checking import Progress, default_owner_for, validate
from .reading import ImportFileError, read_rows
from .writing import ImportConflictError, apply

# The upload page lists at most this many bad rows; the command line prints them all.
MAX_STORED_ERRORS = 1000


@dataclass
class ImportResult:
    """What an import did (counts) or why it wrote nothing (errors: (line, reason), line 0 for the file)."""

    errors: list[tuple[int, str]]
    counts: dict
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRejected(Exception):
    """Raised inside job_run so that a rejected file is recorded as a failed run."""


def import_customers(path, actor=None, progress: Progress | None = None, *, filename=None, recorded_by=None):
    """Import a customer file: every row is written, or none and every bad row is reported.

    `actor` is the person importing from the UI (their permissions apply); `recorded_by` is who the
    command line names with --actor: recorded in the history, no restriction. Returns ImportResult.
    """
    recorded_by = recorded_by or actor
    try:
        rows = list(read_rows(path, filename))
    except ImportFileError as exc:
        return _failed(0, exc)
    if progress:
        progress(ImportJob.Status.VALIDATING, 0, len(rows))
    plan = validate(rows, actor=actor, progress=progress, default_owner=default_owner_for(recorded_by))
    if not plan.ok:
        return ImportResult(
            errors=plan.errors,
            counts={"rows": plan.rows_read, "errors": len(plan.errors)},
            ignored_columns=plan.ignored_columns,
        )
    if progress:
        progress(ImportJob.Status.WRITING, plan.rows_read, plan.rows_read)
    try:
        counts = apply(plan, actor=recorded_by)
    except ImportConflictError as exc:
        return _failed(plan.rows_read, exc)
    except DatabaseError as exc:
        # E.g. another import created the same external_ref meanwhile; the transaction rolled back.
        reason = _("the import could not be saved (%(error)s); nothing was imported") % {"error": exc}
        return ImportResult(errors=[(0, reason)], counts={"rows": plan.rows_read, "errors": 1})
    return ImportResult(errors=[], counts=counts, ignored_columns=plan.ignored_columns)


def _failed(rows: int, exc: ImportFileError | ImportConflictError) -> ImportResult:
    return ImportResult(errors=[(exc.line, exc.reason)], counts={"rows": rows, "errors": 1})


def recorded_import(path, **kwargs) -> ImportResult:
    """import_customers recorded as a run of the "import_customers" job (failed when rows were rejected)."""
    result = None
    try:
        with services.job_run("import_customers") as run:
            result = import_customers(path, **kwargs)
            run.count(**result.counts)
            if not result.ok:
                raise ImportRejected(rejection_summary(result))
    except ImportRejected:
        pass
    return result


def run_import_job(import_job_id: int) -> None:
    """Import the file of an ImportJob, keeping its status and progress current for the upload page."""
    job = ImportJob.objects.select_related("created_by").filter(pk=import_job_id).first()
    if job is None or job.is_finished:
        # A redelivered task (acks_late) must not import twice.
        return
    # Reasons and summaries are stored as text: write them in the uploader's language.
    with translation.override(job.language or settings.LANGUAGE_CODE):
        _run(job)


def _run(job: ImportJob) -> None:
    jobs = ImportJob.objects.filter(pk=job.pk)
    jobs.update(status=ImportJob.Status.VALIDATING, processed_rows=0)

    def progress(stage: str, processed: int, total: int) -> None:
        # Saved in autocommit, outside the import's transaction, so the page can poll it.
        jobs.update(status=stage, processed_rows=processed, total_rows=total)

    try:
        with job.file.open("rb") as upload:
            result = recorded_import(upload, filename=job.original_name, actor=job.created_by, progress=progress)
    except Exception:
        jobs.update(
            status=ImportJob.Status.FAILED,
            message=_("The import stopped on an unexpected error; nothing was imported."),
            finished_at=timezone.now(),
        )
        raise
    finished = {"counts": result.counts, "finished_at": timezone.now()}
    if result.ok:
        jobs.update(
            status=ImportJob.Status.SUCCEEDED,
            processed_rows=result.counts["rows"],
            total_rows=result.counts["rows"],
            errors=[],
            message=success_summary(result.counts),
            **finished,
        )
    else:
        jobs.update(
            status=ImportJob.Status.FAILED,
            errors=[{"line": line, "reason": reason} for line, reason in result.errors[:MAX_STORED_ERRORS]],
            message=rejection_summary(result),
            **finished,
        )


def format_error(line: int, reason: str) -> str:
    """'line 7: email …' for a row, the bare reason for the file as a whole."""
    return _("line %(line)d: %(reason)s") % {"line": line, "reason": reason} if line else reason


def rejection_summary(result: ImportResult) -> str:
    """Why nothing was imported, in one sentence."""
    if not result.counts.get("rows"):
        return _("Nothing was imported.")
    bad_lines = len({line for line, _reason in result.errors})
    return ngettext(
        "%(count)d bad row in %(rows)d; nothing was imported.",
        "%(count)d bad rows in %(rows)d; nothing was imported.",
        bad_lines,
    ) % {"count": bad_lines, "rows": result.counts.get("rows", 0)}


def success_summary(counts: dict) -> str:
    """What an import did, in one sentence."""
    return _("%(rows)d rows read: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.") % counts
