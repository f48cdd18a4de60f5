"""Scored candidate pairs for the dbt model int_defect_pair_scores (docs/metrics.md "Duplicate candidates")."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipelines.duplicates import score
from pipelines.duplicates.search import nearest_neighbours
from pipelines.duplicates.text import tfidf_vectors

# Each defect's search keeps more rows than it finally ranks, so that stack,
# environment and time can reorder its text neighbours.
SEARCH_FACTOR = 2
# Defects scored at once (bounds the memory of the per-pair arrays).
ROW_CHUNK = 100_000

# One row per defect in defect_id order (the row numbers of the vectors).
# Attribute codes: a 63-bit hash (equal values, equal codes, no sort), -1 when
# unknown; an "unknown" service or environment is no value.
DEFECTS_SQL = """
select
    defect_id,
    epoch(created_at) / 86400.0 as created_days,
    {codes}
from dupes_pair_input
order by defect_id
"""
DOCUMENTS_SQL = """
select cast(row_number() over (order by defect_id) - 1 as integer) as doc, title, description
from dupes_pair_input
"""
CODED = (("stack_fingerprint", ""), ("service", "unknown"), ("component", ""), ("environment", "unknown"),
         ("error_type", ""))


def _code(column: str, missing: str) -> str:
    known = f"{column} is not null" + (f" and {column} <> '{missing}'" if missing else "")
    return f"case when {known} then cast(hash({column}) >> 1 as bigint) else -1 end as {column}"


def _read(con: duckdb.DuckDBPyConnection,
          defects: duckdb.DuckDBPyRelation) -> tuple[dict[str, np.ndarray], sp.csr_matrix]:
    """Per-defect codes and the TF-IDF vectors, reading the (masked) text once."""
    con.register("dupes_pair_input", defects)
    try:
        rows = con.execute(DEFECTS_SQL.format(codes=",\n    ".join(_code(c, m) for c, m in CODED))).fetchnumpy()
        vectors = tfidf_vectors(con, con.sql(DOCUMENTS_SQL), len(rows["defect_id"]))
    finally:
        con.unregister("dupes_pair_input")
    return rows, vectors


def _choose(pair_score: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
    """Per row, the positions of its k best entries: score descending, ties to the smaller other row."""
    by_other = np.argsort(np.where(other < 0, np.iinfo(other.dtype).max, other), axis=1, kind="stable")
    ranked = np.take_along_axis(by_other, np.argsort(-np.take_along_axis(pair_score, by_other, axis=1),
                                                     axis=1, kind="stable"), axis=1)
    return ranked[:, :k]


def pair_scores(con: duckdb.DuckDBPyConnection, defects: duckdb.DuckDBPyRelation, per_defect: int,
                threshold: float) -> pd.DataFrame:
    """Each defect's `per_defect` best-scoring others, as unordered pairs (defect_id < candidate_id).

    `defects`: defect_id, created_at, title, description (masked),
    stack_fingerprint, service, component, environment, error_type.
    """
    rows, vectors = _read(con, defects)
    found = nearest_neighbours(vectors, per_defect * SEARCH_FACTOR, rows["stack_fingerprint"])
    del vectors
    typical = score.background(found.similarity, per_defect)
    informativeness = {name: 1.0 - score.chance_agreement(rows[name]) for name in score.ATTRIBUTES}
    chunks = [_score_rows(rows, found.index[s:s + ROW_CHUNK], found.similarity[s:s + ROW_CHUNK], s, typical,
                          informativeness, per_defect)
              for s in range(0, len(typical), ROW_CHUNK)]
    del found
    if not chunks:
        return _frame(rows, {}, threshold)
    pairs = {name: np.concatenate([c.pop(name) for c in chunks]) for name in list(chunks[0])}
    return _frame(rows, _one_per_pair(pairs, len(typical)), threshold)


def _score_rows(rows: dict[str, np.ndarray], index: np.ndarray, similarity: np.ndarray, offset: int,
                typical: np.ndarray, informativeness: dict[str, float], k: int) -> dict[str, np.ndarray]:
    """Score a block of rows' neighbours and keep each row's k best: flat arrays, one entry per kept pair."""
    left = np.broadcast_to(np.arange(offset, offset + len(index), dtype=np.int32)[:, None], index.shape)
    valid = index >= 0
    right = np.where(valid, index, 0)
    pair_typical = (typical[left] + typical[right]) / 2
    relative = score.relative_text(similarity, pair_typical)
    stack = score.matches(rows["stack_fingerprint"], left, right)
    attribute = {name: score.matches(rows[name], left, right) for name in score.ATTRIBUTES}
    days = np.abs(rows["created_days"][left] - rows["created_days"][right])
    evidence = score.log_odds(relative, stack, attribute, informativeness, days)
    pair_score = np.where(valid, score.scores(evidence), -1.0)
    chosen = _choose(pair_score, index, k)
    pick = (np.arange(len(index))[:, None], chosen)
    keep = valid[pick]
    out = {"left": left[pick], "right": right[pick], "similarity": similarity[pick],
           "typical": pair_typical[pick].astype(np.float32), "relative": relative[pick].astype(np.float32),
           "stack": stack[pick], "days": days[pick].astype(np.float32), "score": pair_score[pick]}
    out |= {name: match[pick] for name, match in attribute.items()}
    return {name: values[keep] for name, values in out.items()}


def _one_per_pair(pairs: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Each unordered pair once (both defects may keep it), smaller row first; every value is symmetric."""
    low = np.minimum(pairs["left"], pairs["right"]).astype(np.int64)
    high = np.maximum(pairs["left"], pairs["right"]).astype(np.int64)
    _, first = np.unique(low * n + high, return_index=True)
    out = {name: pairs.pop(name)[first] for name in list(pairs) if name not in ("left", "right")}
    out["left"], out["right"] = low[first], high[first]
    return out


def _flag(match: np.ndarray) -> pd.arrays.BooleanArray:
    """True / False when both sides are known, NULL otherwise."""
    return pd.arrays.BooleanArray(match > 0, mask=match == 0)


def _decimals(values: np.ndarray, decimals: int) -> np.ndarray:
    return np.round(values.astype(np.float64), decimals)


def _frame(rows: dict[str, np.ndarray], pairs: dict[str, np.ndarray], threshold: float) -> pd.DataFrame:
    """The model's rows; each array is dropped from `pairs` as soon as its column exists (a million defects)."""
    ids = np.asarray(rows["defect_id"], dtype=object)
    if not pairs:
        pairs = {name: np.empty(0, np.int64) for name in ("left", "right", "stack", *score.ATTRIBUTES)}
        pairs |= {name: np.empty(0) for name in ("similarity", "typical", "relative", "days", "score")}
    equal = sum((pairs[name] > 0).astype(np.int8) for name in score.ATTRIBUTES)
    # Typed as strings, not object: an empty object column reaches DuckDB as type NULL, and the
    # dbt unit tests reading this model cannot cast their rows to it.
    frame = pd.DataFrame({"defect_id": pd.Series(ids[pairs.pop("left")], dtype="string")})
    frame["candidate_id"] = pd.Series(ids[pairs.pop("right")], dtype="string")
    frame["text_similarity"] = _decimals(pairs.pop("similarity"), 6)
    frame["text_typical"] = _decimals(pairs.pop("typical"), 6)
    frame["text_relative"] = _decimals(pairs.pop("relative"), 6)
    frame["same_stack"] = _flag(pairs.pop("stack"))
    for name in score.ATTRIBUTES:
        frame[f"same_{name}"] = _flag(pairs.pop(name))
    frame["environment_similarity"] = equal / len(score.ATTRIBUTES)
    frame["days_apart"] = _decimals(pairs.pop("days"), 1)
    frame["score"] = pairs.pop("score")
    frame["above_threshold"] = frame["score"] >= threshold
    return frame
