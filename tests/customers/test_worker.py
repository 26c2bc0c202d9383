"""A real Celery worker and beat run the scheduled overdue-task summary against the test database.

The broker is Redis when REDIS_URL is set (as in CI; give it a Redis database no other worker
consumes, or that worker may take the job), otherwise the filesystem broker in a temporary folder.
"""

import contextlib
import datetime
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from customers.models import JobRun
from tests.factories import CustomerFactory, TaskFactory, UserFactory

JOB = "summarise_overdue_tasks"
SCHEDULE_ENTRY = "overdue-task-summary"
EVERY_SECONDS = 2
# Each process needs a few seconds to import Django on a busy machine; beat then fires
# within EVERY_SECONDS plus its 5-second database check.
DEADLINE_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
OUTPUT_LINES = 60


class CeleryProcesses:
    """A worker and beat started as subprocesses on the test database; their output goes to files."""

    def __init__(self, folder):
        self.folder = folder
        self.processes = {}
        self.logs = {}
        self.worker_db_file = None

    def start(self):
        env = {
            **os.environ,
            # pytest set this to the test settings, which run tasks eagerly inside beat.
            "DJANGO_SETTINGS_MODULE": "crm_site.settings",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "SECRET_KEY": "worker-test-secret-key-not-for-production-0123456789",
            "DEBUG": "false",
            "DATABASE_URL": self._database_url(),
            # Set even when empty: an empty REDIS_URL selects the filesystem broker and keeps
            # a REDIS_URL in .env from taking over.
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_FOLDER": str(self.folder / "broker"),
            "OVERDUE_SUMMARY_EVERY_SECONDS": str(EVERY_SECONDS),
            "MEDIA_ROOT": str(self.folder / "media"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        celery = [sys.executable, "-m", "celery", "-A", "crm_site"]
        commands = {
            # A node name of its own, so a worker elsewhere on the same Redis is not confused with it.
            "worker": [
                *celery,
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
            ],
            "beat": [*celery, "beat", "--loglevel=INFO"],
        }
        for name, argv in commands.items():
            self.logs[name] = self.folder / f"{name}.log"
            with open(self.logs[name], "w") as log:
                self.processes[name] = subprocess.Popen(
                    argv,
                    cwd=settings.BASE_DIR,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # A group of its own, so stop() also reaches the worker's pool processes.
                    start_new_session=True,
                )

    def _database_url(self):
        db = connection.settings_dict
        if connection.vendor == "postgresql":
            credentials = quote(db["USER"] or "", safe="")
            if db["PASSWORD"]:
                credentials += ":" + quote(db["PASSWORD"], safe="")
            return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        if connection.vendor == "sqlite":
            # The SQLite test database lives in this process's memory, out of the subprocesses'
            # reach: they get a file copy of it (schema, migrations and the test's data), and
            # refresh() copies their writes back for the test to query.
            self.worker_db_file = self.folder / "worker-db.sqlite3"
            connection.ensure_connection()
            copy = sqlite3.connect(self.worker_db_file)
            try:
                connection.connection.backup(copy)
            finally:
                copy.close()
            return f"sqlite:///{self.worker_db_file}"
        pytest.skip(f"no worker test for the {connection.vendor} database")
        return None

    def refresh(self):
        """Make what the worker and beat have committed visible to this test's queries."""
        if self.worker_db_file is not None:
            source = sqlite3.connect(self.worker_db_file)
            try:
                source.backup(connection.connection)
            finally:
                source.close()

    def dead(self):
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def log_text(self, name):
        return self.logs[name].read_text(errors="replace")

    def output(self):
        """The last lines each process printed, for assertion messages."""
        parts = []
        for name, process in self.processes.items():
            lines = self.log_text(name).splitlines()[-OUTPUT_LINES:]
            status = "running" if process.poll() is None else f"exited with {process.returncode}"
            parts.append(f"----- {name} ({status}), last {len(lines)} lines -----\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            # Whatever is left of the group (a hung worker, orphaned pool processes).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def celery_processes(transactional_db, tmp_path):
    """Start with .start() once the test's data is committed; stopped before the database is flushed."""
    processes = CeleryProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.stop()


def wait_for(condition, processes, *, what):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        processes.refresh()
        result = condition()
        if result:
            return result
        if dead := processes.dead():
            pytest.fail(f"{', '.join(dead)} stopped early.\n{processes.output()}")
        time.sleep(0.5)
    pytest.fail(f"No {what} within {DEADLINE_SECONDS} s.\n{processes.output()}")
    return None


@pytest.mark.worker
def test_beat_schedules_the_overdue_summary_and_the_worker_records_its_counts(celery_processes):
    today = timezone.localdate()
    days = datetime.timedelta
    first_rep_customer = CustomerFactory(owner=UserFactory())
    second_rep_customer = CustomerFactory(owner=UserFactory())
    TaskFactory(customer=first_rep_customer, due_date=today - days(3))
    TaskFactory(customer=second_rep_customer, due_date=today - days(1))
    TaskFactory(customer=first_rep_customer, due_date=today)
    # Neither counts: one is done, one is not due yet.
    TaskFactory(customer=second_rep_customer, due_date=today - days(5), done=True)
    TaskFactory(customer=first_rep_customer, due_date=today + days(2))

    celery_processes.start()
    run = wait_for(
        lambda: JobRun.objects.filter(job=JOB, status=JobRun.Status.SUCCEEDED).first(),
        celery_processes,
        what=f"succeeded {JOB} run",
    )

    output = celery_processes.output()
    assert run.counts == {"overdue": 2, "due_today": 1, "owners_with_overdue": 2}, output
    assert run.finished_at is not None, output
    assert f"Sending due task {SCHEDULE_ENTRY}" in celery_processes.log_text("beat"), output
    assert re.search(rf"Task customers\.tasks\.{JOB}\[[^]]+\] succeeded", celery_processes.log_text("worker")), output
    # Beat copied the schedule from settings into the table admins edit ("Periodic tasks").
    entry = PeriodicTask.objects.get(name=SCHEDULE_ENTRY)
    assert entry.task == f"customers.tasks.{JOB}"
    assert (entry.interval.every, entry.interval.period) == (EVERY_SECONDS, "seconds")
