"""Customer import from CSV and XLSX: read every row, check every row, then write all of them or none.

The pipeline is `read_rows` (reading) → `validate` (checking, no writes) → `apply` (writing, one
transaction); `import_customers` runs it for the command line and `run_import_job` for the Celery
job behind the upload page (jobs).
"""

from .checking import CHOICE_COLUMNS, ImportPlan, validate
from .jobs import (
    MAX_STORED_ERRORS,
    ImportResult,
    format_error,
    import_customers,
    recorded_import,
    rejection_summary,
    run_import_job,
    success_summary,
)
from .reading import COLUMNS, REQUIRED_COLUMNS, ImportFileError, read_rows
from .writing import ImportConflictError, apply

__all__ = [
    "CHOICE_COLUMNS",
    "COLUMNS",
    "MAX_STORED_ERRORS",
    "REQUIRED_COLUMNS",
    "ImportConflictError",
    "ImportFileError",
    "ImportPlan",
    "ImportResult",
    "apply",
    "format_error",
    "import_customers",
    "read_rows",
    "recorded_import",
    "rejection_summary",
    "run_import_job",
    "success_summary",
    "validate",
]
