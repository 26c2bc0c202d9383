from django_celery_beat.models import IntervalSchedule, PeriodicTask

from crm_site.celery import install_default_schedules


def test_beat_start_creates_missing_default_schedules(db, settings):
    settings.CRM_DEFAULT_SCHEDULES = {
        "every-minute": {"task": "customers.tasks.summarise_overdue_tasks", "every_seconds": 60},
        "nightly": {"task": "customers.tasks.summarise_overdue_tasks", "crontab": {"minute": "30", "hour": "2"}},
    }
    install_default_schedules()
    minute = PeriodicTask.objects.get(name="every-minute")
    nightly = PeriodicTask.objects.get(name="nightly")
    assert (minute.interval.every, minute.interval.period) == (60, "seconds")
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("30", "2")


def test_beat_restart_keeps_an_admins_changes_to_a_schedule(db, settings):
    settings.CRM_DEFAULT_SCHEDULES = {
        "every-minute": {"task": "customers.tasks.summarise_overdue_tasks", "every_seconds": 60},
    }
    install_default_schedules()
    entry = PeriodicTask.objects.get(name="every-minute")
    entry.interval = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)
    entry.enabled = False
    entry.save()

    install_default_schedules()

    entry.refresh_from_db()
    assert (entry.interval.every, entry.interval.period, entry.enabled) == (15, "minutes", False)
    assert PeriodicTask.objects.filter(name="every-minute").count() == 1
