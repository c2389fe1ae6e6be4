"""Dead rows beside a query never hide the live nearest row: the guard's pattern search is exact (no
HNSW index on a table of hundreds of rows), and every connection scans HNSW indexes iteratively, so a
filtered chunk search keeps going until its LIMIT is met."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection, transaction

from guardrails.models import InjectionPattern
from guardrails.scoring import nearest_patterns


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


class _RolledBack(Exception):
    pass


@pytest.mark.django_db
def test_nearest_pattern_is_found_behind_many_dead_rows():
    rng = np.random.default_rng(7)
    query = _unit(rng.normal(size=384))
    # 300 rows right beside the query, inserted and rolled back: in an HNSW index their entries stay in
    # the graph (until a vacuum), pointing at rows no one can see; the search's candidate list
    # (ef_search) filled with them and the live pattern below was not returned, even with iterative
    # scans once a test run had left tens of thousands of them.
    try:
        with transaction.atomic():
            InjectionPattern.objects.bulk_create(
                InjectionPattern(
                    text=f"dead {i}", category="jailbreak", embedding=_unit(query + 0.01 * rng.normal(size=384))
                )
                for i in range(300)
            )
            raise _RolledBack
    except _RolledBack:
        pass
    live = InjectionPattern.objects.create(
        text="live", category="jailbreak", embedding=_unit(query + 0.6 * rng.normal(size=384) / np.sqrt(384) * 10)
    )

    found = nearest_patterns([query])[0]

    assert [n.pattern_id for n in found][:1] == [live.pk]


@pytest.mark.django_db
def test_every_connection_scans_iteratively():
    with connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.iterative_scan")
        assert cursor.fetchone()[0] == "strict_order"
