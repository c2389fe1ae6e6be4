"""An escalation opened or changed (claimed, released, resolved, answered) is published on the
live-events channel (core/live.py) by the database, so the agents' queue redraws at once."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION escalation_escalation_live() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('groundwork_live', json_build_object(
        'topic', 'queue', 'event', 'queue', 'escalation', NEW.id, 'status', NEW.status)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER escalation_escalation_live
    AFTER INSERT OR UPDATE ON escalation_escalation
    FOR EACH ROW EXECUTE FUNCTION escalation_escalation_live();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS escalation_escalation_live ON escalation_escalation;
DROP FUNCTION IF EXISTS escalation_escalation_live();
"""


class Migration(migrations.Migration):
    dependencies = [("escalation", "0005_escalation_flow_alter_escalation_reason")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
