"""The Celery application: configuration comes from Django settings (CELERY_*)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")

app = Celery("crm_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def ensure_broker_folders(sender, **kwargs):
    """Create the filesystem broker's folders, which kombu does not create itself."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@beat_init.connect
def install_default_schedules(sender=None, **kwargs):
    """Create the default schedules missing from the database; never overwrite an admin's edits."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    for name, entry in settings.CRM_DEFAULT_SCHEDULES.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        if "crontab" in entry:
            crontab, _ = CrontabSchedule.objects.get_or_create(**entry["crontab"], timezone=settings.TIME_ZONE)
            PeriodicTask.objects.create(name=name, task=entry["task"], crontab=crontab)
        else:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=entry["every_seconds"], period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(name=name, task=entry["task"], interval=interval)
