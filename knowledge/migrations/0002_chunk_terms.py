"""Full-text postings for BM25 (knowledge.models.ChunkTerm), kept by triggers.

- The primary key is rebuilt with INCLUDE (tf, doclen) so that ranking reads
  only the index.
- A row trigger mirrors a chunk's search_vector into postings while the chunk
  is searchable, and removes them when it stops being searchable, changes its
  vector, or is deleted; its insert tolerates postings already there (a
  data-only restore or a fixture that includes them).
- There is no database foreign key: checking one on every chunk delete would
  scan the postings (no index leads with chunk_id). A statement trigger
  empties the postings when knowledge_chunk is truncated (a DELETE: Django's
  flush truncates both tables in one statement, and a table in that statement
  cannot be truncated again from its trigger).
- Index-only scans skip the heap only for pages the visibility map marks
  all-visible, and only VACUUM sets it: on 10,000 freshly inserted chunks
  hybrid search took p50 14 ms before the first vacuum and 4.6 ms after
  (docs/benchmarks.md). The table's autovacuum thresholds are lowered from
  "20 % of the table changed" to 1 % (at least 5,000 rows).
- Existing searchable chunks are backfilled.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
ALTER TABLE knowledge_chunkterm DROP CONSTRAINT knowledge_chunkterm_pkey;
ALTER TABLE knowledge_chunkterm ADD CONSTRAINT knowledge_chunkterm_pkey
    PRIMARY KEY (lexeme, chunk_id) INCLUDE (tf, doclen);

ALTER TABLE knowledge_chunkterm SET (
    autovacuum_vacuum_insert_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_analyze_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.02
);

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
          FROM unnest(NEW.search_vector) AS t
        ON CONFLICT (lexeme, chunk_id) DO UPDATE SET tf = EXCLUDED.tf, doclen = EXCLUDED.doclen;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER knowledge_chunk_terms_sync
AFTER INSERT OR UPDATE OF searchable, search_vector OR DELETE ON knowledge_chunk
FOR EACH ROW EXECUTE FUNCTION knowledge_chunk_terms_sync();

CREATE FUNCTION knowledge_chunk_terms_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM knowledge_chunkterm;
    RETURN NULL;
END
$$;

CREATE TRIGGER knowledge_chunk_terms_truncate AFTER TRUNCATE ON knowledge_chunk
FOR EACH STATEMENT EXECUTE FUNCTION knowledge_chunk_terms_truncate();

INSERT INTO knowledge_chunkterm (lexeme, chunk_id, tf, doclen)
SELECT t.lexeme, c.id, coalesce(array_length(t.positions, 1), 1), length(c.search_vector)
  FROM knowledge_chunk c, unnest(c.search_vector) AS t
 WHERE c.searchable AND c.search_vector IS NOT NULL;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS knowledge_chunk_terms_truncate ON knowledge_chunk;
DROP FUNCTION IF EXISTS knowledge_chunk_terms_truncate();
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
                        db_constraint=False,
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
