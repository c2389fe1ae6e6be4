"""Postings without a database foreign key; TRUNCATE and re-inserted postings handled by triggers.

A foreign key would be checked on every chunk delete by scanning the postings
for that chunk id (no index leads with it). Instead: the row trigger already
deletes a chunk's postings with the chunk; a statement trigger empties the
postings when knowledge_chunk is truncated (a DELETE: instant after Django's
flush, which truncates both tables together); and the row trigger's insert
tolerates postings that are already there (a data-only restore or a fixture
that includes them).
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION knowledge_chunk_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.searchable = NEW.searchable
       AND OLD.search_vector IS NOT DISTINCT FROM NEW.search_vector THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.searchable AND OLD.search_vector IS NOT NULL THEN
        DELETE FROM knowledge_chunkterm
         WHERE chunk_id = OLD.id AND lexeme = ANY (tsvector_to_array(OLD.search_vector));
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.searchable AND NEW.search_vector IS NOT NULL THEN
        INSERT INTO knowledge_chunkterm (lexeme, chunk_id, tf, doclen)
        SELECT t.lexeme, NEW.id, coalesce(array_length(t.positions, 1), 1), length(NEW.search_vector)
          FROM unnest(NEW.search_vector) AS t
        ON CONFLICT (lexeme, chunk_id) DO UPDATE SET tf = EXCLUDED.tf, doclen = EXCLUDED.doclen;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION knowledge_chunk_terms_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- DELETE, not TRUNCATE: Django's flush truncates both tables in one statement,
    -- and a table in that statement cannot be truncated again from its trigger.
    DELETE FROM knowledge_chunkterm;
    RETURN NULL;
END
$$;

CREATE TRIGGER knowledge_chunk_terms_truncate AFTER TRUNCATE ON knowledge_chunk
FOR EACH STATEMENT EXECUTE FUNCTION knowledge_chunk_terms_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS knowledge_chunk_terms_truncate ON knowledge_chunk;
DROP FUNCTION IF EXISTS knowledge_chunk_terms_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0003_chunkterm_autovacuum"),
    ]

    operations = [
        migrations.AlterField(
            model_name="chunkterm",
            name="chunk",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="knowledge.chunk",
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
