"""More ways customers report fraud: an order or payment they never made."""

from django.db import migrations

EXTRA = [
    r"\b(?:never|didn'?t|did not)\s+(?:place|make|order|authori[sz]e|buy|purchase)\w*\b.{0,30}\b(?:order|payment|purchase|charge|transaction)s?\b",
    r"\b(?:someone|somebody)\b.{0,40}\b(?:my|with my|using my)\s+(?:credit |debit |bank )?(?:card|account|details)\b",
    r"\bwithout my (?:permission|consent|knowledge)\b",
]


def add(apps, schema_editor):
    CriticalTopic = apps.get_model("support", "CriticalTopic")
    topic = CriticalTopic.objects.filter(name="Fraud or chargeback").first()
    if topic is None:
        return
    lines = topic.patterns.splitlines()
    topic.patterns = "\n".join(lines + [p for p in EXTRA if p not in lines])
    topic.save(update_fields=["patterns"])


class Migration(migrations.Migration):
    dependencies = [("support", "0003_message_embedding")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
