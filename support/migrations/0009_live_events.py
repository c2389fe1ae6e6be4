"""A new message, and a conversation changing status (an agent resolving it closes it), are published
on the live-events channel (core/live.py) by the database itself: whichever code writes the row, the
streams of its conversation hear of it when it commits."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION support_message_live() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('groundwork_live', json_build_object(
        'topic', 'conversation:' || NEW.conversation_id::text,
        'event', 'message', 'id', NEW.id, 'role', NEW.role)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER support_message_live
    AFTER INSERT ON support_message
    FOR EACH ROW EXECUTE FUNCTION support_message_live();
CREATE FUNCTION support_conversation_live() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('groundwork_live', json_build_object(
        'topic', 'conversation:' || NEW.id::text, 'event', 'status', 'status', NEW.status)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER support_conversation_live
    AFTER UPDATE OF status ON support_conversation
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION support_conversation_live();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS support_conversation_live ON support_conversation;
DROP FUNCTION IF EXISTS support_conversation_live();
DROP TRIGGER IF EXISTS support_message_live ON support_message;
DROP FUNCTION IF EXISTS support_message_live();
"""


class Migration(migrations.Migration):
    dependencies = [("support", "0008_conversation_flow_state_alter_message_kind_flowrun")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
