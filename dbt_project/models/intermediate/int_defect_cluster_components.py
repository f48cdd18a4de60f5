"""Clusters of defects (docs/metrics.md "Clusters and recurrence").

Connected components of explicit duplicate links and above-threshold pairs,
found by scipy in a second at a million defects (a recursive SQL label
propagation took 25-33 s: DECISIONS.md). The method lives in
pipelines/duplicates/clusters.py; this file only wires the refs.
"""

from pipelines.duplicates.clusters import cluster_components


def model(dbt, session):
    dbt.config(materialized="table")
    return cluster_components(
        session,
        dbt.ref("int_defects").select("defect_id, created_at, duplicate_of"),
        dbt.ref("stg_exports__defect_links").select("defect_id, linked_defect_id, link_type"),
        # the scored pairs, not int_defect_candidate_pairs: the same rows, without waiting for their reasons
        dbt.ref("int_defect_pair_scores").select("defect_id, candidate_id, above_threshold"),
    )
