"""Full-text postings for BM25 (knowledge.models.ChunkTerm), kept by a trigger.

The primary key is rebuilt with INCLUDE (tf, doclen) so that ranking reads
only the index. The trigger mirrors a chunk's search_vector into postings
while the chunk is searchable, and removes them when it stops being
searchable, changes its vector, or is deleted; existing searchable chunks
are backfilled.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
ALTER TABLE knowledge_chunkterm DROP CONSTRAINT knowledge_chunkterm_pkey;
ALTER TABLE knowledge_chunkterm ADD CONSTRAINT knowledge_chunkterm_pkey
    PRIMARY KEY (lexeme, chunk_id) INCLUDE (tf, doclen);

CREATE FUNCTION knowledge_chunk_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
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
          FROM unnest(NEW.search_vector) AS t;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER knowledge_chunk_terms_sync
AFTER INSERT OR UPDATE OF searchable, search_vector OR DELETE ON knowledge_chunk
FOR EACH ROW EXECUTE FUNCTION knowledge_chunk_terms_sync();

INSERT INTO knowledge_chunkterm (lexeme, chunk_id, tf, doclen)
SELECT t.lexeme, c.id, coalesce(array_length(t.positions, 1), 1), length(c.search_vector)
  FROM knowledge_chunk c, unnest(c.search_vector) AS t
 WHERE c.searchable AND c.search_vector IS NOT NULL;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS knowledge_chunk_terms_sync ON knowledge_chunk;
DROP FUNCTION IF EXISTS knowledge_chunk_terms_sync();
DELETE FROM knowledge_chunkterm;
ALTER TABLE knowledge_chunkterm DROP CONSTRAINT knowledge_chunkterm_pkey;
ALTER TABLE knowledge_chunkterm ADD CONSTRAINT knowledge_chunkterm_pkey PRIMARY KEY (lexeme, chunk_id);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChunkTerm",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "lexeme", "chunk", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("lexeme", models.TextField()),
                ("tf", models.PositiveSmallIntegerField()),
                ("doclen", models.PositiveSmallIntegerField()),
                (
                    "chunk",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="knowledge.chunk",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
