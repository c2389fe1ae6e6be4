"""Migration knowledge 0003 on a database that already holds documents: they all move to one
'Uploads' source, keep their keys, and new uploads land in the same source."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def migrate(target: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def test_existing_documents_move_to_the_uploads_source(django_db_serialized_rollback):
    old = migrate([("knowledge", "0002_chunk_terms")])
    Document = old.get_model("knowledge", "Document")
    Document.objects.create(title="Returns", source_key="returns.md", status="verified")
    Document.objects.create(title="Shipping", source_key="help/shipping.md", status="draft")
    try:
        new = migrate([("knowledge", "0003_sources")])
        Source = new.get_model("knowledge", "Source")
        Document = new.get_model("knowledge", "Document")
        uploads = Source.objects.get()
        assert (uploads.name, uploads.kind) == ("Uploads", "upload")
        assert set(Document.objects.values_list("source_id", "source_key")) == {
            (uploads.pk, "returns.md"),
            (uploads.pk, "help/shipping.md"),
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    from knowledge import services
    from knowledge.models import Document as CurrentDocument

    # an upload with a migrated key is a version of the migrated document, not a new document
    version, _ = services.version_ingest(source_key="returns.md", data=b"# Returns\n\nThirty days to return.\n")
    assert version.document.source.name == "Uploads" and CurrentDocument.objects.count() == 2
