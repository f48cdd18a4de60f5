"""Each row's most similar other rows, without comparing all pairs (docs/metrics.md "Duplicate candidates").

A sparse matrix product that keeps only each row's top candidates
(`sparse_dot_topn`: blocked, multi-threaded, never holding the full product).
Its cost is the sum over terms of (reports holding the term)^2, so the most
common terms - the ones with the least weight - are left out of the *search*
(never out of the similarity, which is recomputed on every term) until that
sum fits a budget per report: on a tracker of a few thousand reports nothing
is left out and the search is exact; on a million templated reports the
rarer terms and the stack fingerprints are searched. Nothing depends on when
a report was filed, so an old duplicate is found as readily as a recent one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

# Multiply-adds of the search per report (about a second per 100,000 reports
# per core) and in total for any corpus: below ~20,000 reports the search is exact.
WORK_PER_ROW = 2_000
MIN_WORK = 1e8
# Pairs whose exact similarity is computed in one go (bounds memory).
PAIR_CHUNK = 250_000


@dataclass(frozen=True)
class Neighbours:
    """Row i's candidates: `index[i]` (row numbers, -1 where it has fewer) and their cosine over every term."""

    index: np.ndarray
    similarity: np.ndarray


def searched_terms(vectors: sp.csr_matrix, budget: float) -> np.ndarray:
    """Columns to search: the rarest first while the sum of df^2 fits the budget (a one-row term pairs nothing)."""
    df = np.bincount(vectors.indices, minlength=vectors.shape[1]).astype(np.float64)
    order = np.argsort(df, kind="stable")
    within = np.cumsum(df[order] ** 2) <= budget
    return np.sort(order[within & (df[order] >= 2)])


def _with_groups(vectors: sp.csr_matrix, groups: np.ndarray | None) -> sp.csr_matrix:
    """The vectors plus one column per group, weight 1: rows of a group meet as if they shared a heavy term."""
    if groups is None or not (groups >= 0).any():
        return vectors
    members = np.flatnonzero(groups >= 0)
    _, codes = np.unique(groups[members], return_inverse=True)
    one_hot = sp.csr_matrix((np.ones(len(members), np.float32), (members, codes)),
                            shape=(vectors.shape[0], int(codes.max()) + 1))
    return sp.hstack([vectors, one_hot], format="csr")


def _cosines(vectors: sp.csr_matrix, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    out = np.empty(len(left), dtype=np.float32)
    for start in range(0, len(left), PAIR_CHUNK):
        end = start + PAIR_CHUNK
        products = vectors[left[start:end]].multiply(vectors[right[start:end]])
        out[start:end] = np.asarray(products.sum(axis=1)).ravel()
    return np.clip(out, 0.0, 1.0)


def nearest_neighbours(vectors: sp.csr_matrix, per_row: int, groups: np.ndarray | None = None,
                       work_per_row: float = WORK_PER_ROW) -> Neighbours:
    """Each row's `per_row` nearest other rows by the searched terms, with their exact cosine.

    `groups` (one integer per row, -1 for none; the stack fingerprint) makes
    rows of one group candidates of each other even when their text differs.
    """
    n = vectors.shape[0]
    index = np.full((n, per_row), -1, dtype=np.int32)
    similarity = np.zeros((n, per_row), dtype=np.float32)
    search = _with_groups(vectors, groups)
    search = search[:, searched_terms(search, max(MIN_WORK, work_per_row * n))]
    if search.nnz == 0:
        return Neighbours(index=index, similarity=similarity)
    # One more than wanted: a row usually finds itself first.
    found = sp_matmul_topn(search, search.T.tocsr(), top_n=per_row + 1, n_threads=os.cpu_count())
    del search
    rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(found.indptr))
    other = rows != found.indices
    rows, cols = rows[other], found.indices[other].astype(np.int32)
    del found, other
    counts = np.bincount(rows, minlength=n)
    position = np.arange(len(rows), dtype=np.int64) - (np.cumsum(counts) - counts)[rows]
    within = position < per_row
    rows, cols, position = rows[within], cols[within], position[within]
    index[rows, position] = cols
    similarity[rows, position] = _cosines(vectors, rows, cols)
    return Neighbours(index=index, similarity=similarity)
