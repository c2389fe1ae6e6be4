import pytest

from knowledge import services
from knowledge.sources import read_path


@pytest.fixture(scope="session")
def _memoized_chunk_embeddings():
    """Re-ingesting the same demo files in many tests costs the model once.
    The vectors are the real model's; only repeated work is skipped."""
    from core import embeddings

    real = embeddings.embed_with_spans
    memo: dict = {}

    def memoized(texts, spans, **kwargs):
        key = (tuple(texts), tuple(tuple(map(tuple, s)) for s in spans))
        if key not in memo:
            memo[key] = real(texts, spans, **kwargs)
        return memo[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embeddings, "embed_with_spans", memoized)
        yield


@pytest.fixture
def demo_kb(db, _memoized_chunk_embeddings):
    """The demo help centre, ingested and verified."""
    from core.demo import DEMO_KB

    for job in services.jobs_create(files=read_path(DEMO_KB), verify=True):
        services.job_run(job_id=job.pk)
