"""The critical topics the team starts with; admins edit them in the admin."""

from django.db import migrations

TOPICS = [
    (
        "Injury or safety",
        5,
        [
            r"\b(?:injur\w*|hurt(?:s|ing)?|wound\w*|bleed\w*|hospital\w*|a&e|emergency room|concussion)\b",
            r"\b(?:broke|broken|fractur\w*)\s+(?:my|his|her|their)\s+(?:arm|leg|wrist|collarbone|hand|ankle|rib|nose)\b",
            r"\b(?:caught fire|on fire|burst into flames|smok(?:e|ing) (?:came|coming|from)|explod\w*|melt(?:ed|ing)|burn(?:t|ed|ing)? (?:my|his|her))\b",
            r"\b(?:electric shock|got a shock|shocked me)\b",
            r"\b(?:accident|crash(?:ed)?|fell off|thrown off)\b.{0,60}\b(?:brake|brakes|frame|fork|handlebar|battery|wheel|bike)\b",
            r"\b(?:brakes?|frame|fork|handlebars?)\b.{0,40}\b(?:failed|snapped|cracked|gave way|broke)\b",
            r"\b(?:unsafe|dangerous|safety (?:issue|problem|hazard|recall))\b",
        ],
    ),
    (
        "Legal threat",
        10,
        [
            r"\b(?:sue|suing|sued|lawsuit|legal action|take (?:you|this) to court|small claims|court case)\b",
            r"\b(?:my|a|our) (?:lawyer|solicitor|attorney)\b|\blegal (?:team|counsel|proceedings)\b",
            r"\b(?:trading standards|ombudsman|consumer protection (?:agency|authority)|report you to)\b",
        ],
    ),
    (
        "Fraud or chargeback",
        10,
        [
            r"\b(?:fraud\w*|scam\w*|phishing|identity theft)\b",
            r"\b(?:stolen|cloned|compromised) (?:credit |debit )?card\b",
            r"\bunauthori[sz]ed (?:charge|payment|transaction|purchase|order)s?\b|\bdidn'?t (?:make|authori[sz]e) (?:this|that|the) (?:order|payment|purchase)\b",
            r"\bcharge ?backs?\b|\bdispute (?:the|this|a) (?:charge|payment|transaction)\b",
        ],
    ),
    (
        "Account or data deletion",
        20,
        [
            r"\b(?:delete|erase|remove|close|wipe|destroy)\b.{0,40}\b(?:my|our)\b.{0,20}\b(?:account|data|personal (?:data|information|details)|profile|details)\b",
            r"\bright to (?:be forgotten|erasure)\b|\bgdpr\b.{0,40}\b(?:delete|deletion|erase|erasure|remove)\b|\b(?:data|account) (?:deletion|erasure)\b",
        ],
    ),
]


def seed(apps, schema_editor):
    CriticalTopic = apps.get_model("support", "CriticalTopic")
    for name, priority, patterns in TOPICS:
        CriticalTopic.objects.update_or_create(
            name=name, defaults={"priority": priority, "patterns": "\n".join(patterns)}
        )


def unseed(apps, schema_editor):
    apps.get_model("support", "CriticalTopic").objects.filter(name__in=[t[0] for t in TOPICS]).delete()


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
