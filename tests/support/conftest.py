import pytest

from knowledge import services
from knowledge.sources import read_path


@pytest.fixture
def demo_kb(db, _memoized_chunk_embeddings):
    """The demo help centre, ingested and verified."""
    from core.demo import DEMO_KB

    for job in services.jobs_create(files=read_path(DEMO_KB), verify=True):
        services.job_run(job_id=job.pk)
