"""The admin role edits grading rules and reads the analytics records in Django admin."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("analytics")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _created = Group.objects.get_or_create(name="admin")
    admin.permissions.add(*Permission.objects.filter(content_type__app_label="analytics"))


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_default_rule"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
