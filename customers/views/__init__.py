from .activity import (
    TaskListView,
    contact_create,
    contact_update,
    interaction_create,
    task_create,
    task_toggle_done,
)
from .customers import (
    CustomerCreateView,
    CustomerDetailView,
    CustomerListView,
    CustomerUpdateView,
    customer_archive,
    customer_restore,
)
from .duplicates import customer_merge, duplicate_list
from .home import home, job_runs, search
from .imports import import_detail, import_start, import_status

__all__ = [
    "CustomerCreateView",
    "CustomerDetailView",
    "CustomerListView",
    "CustomerUpdateView",
    "TaskListView",
    "contact_create",
    "contact_update",
    "customer_archive",
    "customer_merge",
    "customer_restore",
    "duplicate_list",
    "home",
    "import_detail",
    "import_start",
    "import_status",
    "interaction_create",
    "job_runs",
    "search",
    "task_create",
    "task_toggle_done",
]
