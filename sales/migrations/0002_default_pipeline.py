from django.db import migrations

# A fresh install gets one pipeline with the usual stages; admins rename and extend them.
STAGES = [
    ("Prospecting", 10, False, False),
    ("Qualification", 25, False, False),
    ("Proposal", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]


def create_default_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Stage = apps.get_model("sales", "Stage")
    if Pipeline.objects.exists():
        return
    pipeline = Pipeline.objects.create(name="New business", position=0, is_default=True)
    for position, (name, probability, is_won, is_lost) in enumerate(STAGES):
        Stage.objects.create(
            pipeline=pipeline, name=name, position=position, probability=probability, is_won=is_won, is_lost=is_lost
        )


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(create_default_pipeline, migrations.RunPython.noop)]
