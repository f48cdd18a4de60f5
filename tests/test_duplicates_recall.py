"""Recall floor on a real tracker export (benchmarks/duplicates.py measures the same way).

The Hadoop Jira sample is ingested without its duplicates file; its labelled
pairs are the ground truth. A change that loses recall fails here.
"""

import pytest

from pipelines.duplicates.evaluation import (
    baseline_candidates,
    build_sample_warehouse,
    labelled_duplicates,
    mart_candidates,
    recall_at,
    threshold_figures,
)
from pipelines.warehouse import connect
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hadoop(tmp_path_factory):
    warehouse = build_sample_warehouse(SAMPLES / "jira" / "hadoop_bugs.csv", tmp_path_factory.mktemp("hadoop"))
    duplicates = labelled_duplicates(SAMPLES / "jira" / "hadoop_duplicates.csv")
    with connect(warehouse, read_only=True) as con:
        yield mart_candidates(con), baseline_candidates(con), threshold_figures(con, duplicates), duplicates


def test_recall_floor_and_the_plain_baseline_beaten(hadoop):
    ours, baseline, _, duplicates = hadoop
    assert recall_at(ours, duplicates, 5) >= 0.80
    assert recall_at(ours, duplicates, 10) >= 0.85
    for k in (1, 5, 10):
        assert recall_at(ours, duplicates, k) > recall_at(baseline, duplicates, k)


def test_the_default_threshold_gives_similarity_clusters_without_flooding_triage(hadoop):
    _, _, figures, _ = hadoop
    assert figures.similarity_clusters > 0 and figures.labelled_above > 0
    # at most one above-threshold pair per ten defects
    assert figures.pairs_per_1000 <= 100
