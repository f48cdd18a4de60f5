"""Scored candidate duplicate pairs (docs/metrics.md "Duplicate candidates").

A Python model: TF-IDF vectors and a sparse top-k search over a million
reports are a few lines of scikit-learn and scipy and a minute of work, where
SQL would have to pair reports by blocks (DECISIONS.md). The method lives in
pipelines/duplicates (tested there); this file only wires the refs.
"""

from pipelines.duplicates.pairs import pair_scores


def model(dbt, session):
    dbt.config(materialized="table")
    [(threshold, per_defect)] = dbt.ref("stg_policy__settings").select(
        "duplicate_threshold, candidates_per_defect").fetchall()
    return pair_scores(session, dbt.ref("int_defect_duplicate_features"), int(per_defect), float(threshold))
