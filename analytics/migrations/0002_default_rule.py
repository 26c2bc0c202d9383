"""The default grading rule: DESIGN.md's defaults and the classic RFM segment table (R × F)."""

from django.db import migrations

# key, (r_min, r_max), (f_min, f_max): the first matching row names the segment.
SEGMENTS = [
    ("champions", (4, 5), (4, 5)),
    ("loyal", (3, 5), (3, 5)),
    ("cant_lose", (1, 2), (5, 5)),
    ("at_risk", (1, 2), (3, 5)),
    ("potential_loyalists", (4, 5), (2, 3)),
    ("new_customers", (5, 5), (1, 1)),
    ("promising", (4, 4), (1, 1)),
    ("need_attention", (3, 3), (2, 2)),
    ("about_to_sleep", (3, 3), (1, 1)),
    ("hibernating", (1, 2), (1, 2)),
]


def create_default_rule(apps, schema_editor):
    GradingRule = apps.get_model("analytics", "GradingRule")
    RfmSegment = apps.get_model("analytics", "RfmSegment")
    if GradingRule.objects.exists():
        return
    rule = GradingRule.objects.create(name="Default", active=True)
    RfmSegment.objects.bulk_create(
        RfmSegment(rule=rule, position=i, key=key, r_min=r[0], r_max=r[1], f_min=f[0], f_max=f[1], m_min=1, m_max=9)
        for i, (key, r, f) in enumerate(SEGMENTS, start=1)
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(create_default_rule, migrations.RunPython.noop)]
