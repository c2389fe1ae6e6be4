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
