from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(_tune_search, dispatch_uid="knowledge_tune_search")


def _tune_search(sender, connection, **kwargs) -> None:
    # ef_search trades HNSW recall for speed; 100 gives recall@10 ≈ 0.97 on
    # MiniLM embeddings at a few ms (docs/benchmarks.md).
    if connection.vendor != "postgresql":
        return
    from django.conf import settings

    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", ["hnsw.ef_search", str(settings.SEARCH_HNSW_EF_SEARCH)])
        # A filtered HNSW query (`WHERE searchable`, `WHERE active`) or one whose neighbours are dead rows
        # (deleted, or inserted by a transaction that rolled back) would return fewer than LIMIT rows and
        # miss live ones: pgvector >= 0.8 keeps scanning the graph until the LIMIT is met, in exact order.
        cursor.execute("SELECT set_config(%s, %s, false)", ["hnsw.iterative_scan", "strict_order"])
