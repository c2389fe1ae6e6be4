from django.db import migrations

RULES = [
    ("escalation_rate", 0.6, 1.5),
    ("thumbs_down_rate", 0.3, 2.0),
    ("cost_per_conversation", None, 2.0),
    ("retry_rate", 0.5, 3.0),
]


def seed(apps, schema_editor):
    AlertRule = apps.get_model("insights", "AlertRule")
    for metric, threshold, ratio in RULES:
        AlertRule.objects.get_or_create(metric=metric, defaults={"threshold": threshold, "baseline_ratio": ratio})


class Migration(migrations.Migration):
    dependencies = [("insights", "0002_rollups_and_rules")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
