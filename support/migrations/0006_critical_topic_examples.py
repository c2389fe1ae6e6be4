"""Critical topics say what they mean in example sentences: a pattern's hit must agree with them
in meaning, so a word in another sense ("hurt my credit score", "bleed the brakes") is not an injury."""

from django.db import migrations, models

EXAMPLES = {
    "Injury or safety": [
        "Someone was hurt or injured.",
        "Something caught fire, smoked, melted or exploded.",
        "A part failed and caused an accident or a fall.",
        "I got an electric shock.",
        "This is a safety hazard.",
    ],
    "Legal threat": ["I will take legal action against you.", "My lawyer will contact you."],
    "Fraud or chargeback": [
        "Someone used my card without permission.",
        "I am disputing a charge with my bank.",
        "This is fraud.",
    ],
    "Account or data deletion": ["Delete my account and personal data.", "I want my data erased."],
}


def add(apps, schema_editor):
    CriticalTopic = apps.get_model("support", "CriticalTopic")
    for name, lines in EXAMPLES.items():
        CriticalTopic.objects.filter(name=name, examples="").update(examples="\n".join(lines))


class Migration(migrations.Migration):
    dependencies = [("support", "0005_daily_usage")]
    operations = [
        migrations.AddField(
            model_name="criticaltopic",
            name="examples",
            field=models.TextField(
                blank=True,
                help_text=(
                    "One sentence per line saying what this topic is about. A pattern's hit counts only when the "
                    "message is near one of them in meaning, so a word used in another sense ('does it hurt my "
                    "credit score?') does not call a person. Empty: the patterns alone decide."
                ),
            ),
        ),
        migrations.RunPython(add, migrations.RunPython.noop),
    ]
