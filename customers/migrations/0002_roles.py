"""Create the role groups of DESIGN.md and give them their permissions."""

from django.db import migrations

ROLES = ["admin", "manager", "sales manager", "sales rep", "service agent", "service supervisor", "marketing"]
# The admin role administers everything here; other apps grant theirs in their own migrations.
ADMIN_APPS = ["customers", "django_celery_beat", "auth"]
IMPORTERS = ["admin", "sales manager"]


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    groups["admin"].permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    importing = Permission.objects.get(content_type__app_label="customers", codename="import_customers")
    for name in IMPORTERS:
        groups[name].permissions.add(importing)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
