"""Clusters: connected components of explicit duplicate links and above-threshold pairs.

docs/metrics.md "Clusters and recurrence". A cluster's id is its earliest
member (created_at, then defect_id), so adding a later or unrelated defect
never renames a cluster, and two builds of the same data give the same ids.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

# Every defect known at the as-of, numbered in (created_at, defect_id) order
# (a temporary table: the input is a view, computed once), and the edges
# between two of them: duplicate_of and duplicate-type links
# (either direction: "duplicates", "is duplicated by", ...; "relates to" and
# "blocks" are no duplicates) and above-threshold candidate pairs. A link to a
# defect not known at the as-of joins nothing.
NODES_SQL = """
create temporary table dupes_cluster_nodes as
select
    defect_id,
    duplicate_of,
    cast(row_number() over (order by created_at, defect_id) - 1 as integer) as node
from dupes_cluster_defects
"""
EDGES_SQL = """
with directed as (
    select defect_id as from_id, duplicate_of as to_id, 'explicit_link' as edge_kind
    from dupes_cluster_nodes
    where duplicate_of is not null
    union all
    select defect_id, linked_defect_id, 'explicit_link'
    from dupes_cluster_links
    where link_type like '%duplicate%'
    union all
    select defect_id, candidate_id, 'similarity'
    from dupes_cluster_pairs
    where above_threshold
)
select f.node as from_node, t.node as to_node, e.edge_kind = 'explicit_link' as explicit
from directed as e
inner join dupes_cluster_nodes as f on e.from_id = f.defect_id
inner join dupes_cluster_nodes as t on e.to_id = t.defect_id
where f.node <> t.node
"""


def cluster_components(
    con: duckdb.DuckDBPyConnection, defects: duckdb.DuckDBPyRelation, links: duckdb.DuckDBPyRelation,
    pairs: duckdb.DuckDBPyRelation,
) -> pd.DataFrame:
    """One row per defect: defect_id, cluster_id, cluster_size, cluster_method.

    `defects`: defect_id, created_at, duplicate_of; `links`: defect_id,
    linked_defect_id, link_type; `pairs`: defect_id, candidate_id, above_threshold.
    """
    inputs = {"dupes_cluster_defects": defects, "dupes_cluster_links": links, "dupes_cluster_pairs": pairs}
    for name, relation in inputs.items():
        con.register(name, relation)
    try:
        con.execute(NODES_SQL)
        ordered = con.execute("select defect_id from dupes_cluster_nodes order by node").fetchnumpy()
        ids = np.asarray(ordered["defect_id"], dtype=object)
        edges = con.execute(EDGES_SQL).fetchnumpy()
    finally:
        con.execute("drop table if exists dupes_cluster_nodes")
        for name in inputs:
            con.unregister(name)
    return components(ids, edges["from_node"], edges["to_node"], edges["explicit"])


def components(ids: np.ndarray, from_node: np.ndarray, to_node: np.ndarray, explicit: np.ndarray) -> pd.DataFrame:
    """Connected components of the undirected edges; nodes are numbered earliest first, so a component's
    smallest node is its earliest defect."""
    n = len(ids)
    graph = sp.coo_matrix((np.ones(len(from_node), np.int8), (from_node, to_node)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="weak")
    first = np.full(label.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n))
    size = np.bincount(label, minlength=len(first))
    has_explicit = np.bincount(label[from_node[explicit]], minlength=len(first)) > 0
    has_similarity = np.bincount(label[from_node[~explicit]], minlength=len(first)) > 0
    method = np.select(
        [size == 1, has_explicit & has_similarity, has_explicit],
        ["singleton", "explicit_link+similarity", "explicit_link"],
        "similarity",
    )
    return pd.DataFrame({
        "defect_id": pd.Series(ids, dtype=object),
        "cluster_id": pd.Series(ids[first[label]], dtype=object),
        "cluster_size": size[label].astype(np.int64),
        "cluster_method": pd.Series(method[label], dtype=object),
    })
