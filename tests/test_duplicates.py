"""Duplicate candidates and clusters (pipelines/duplicates), on small hand-made corpora.

Every expected number is worked out in the comment above it.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pipelines.duplicates import score
from pipelines.duplicates.clusters import cluster_components
from pipelines.duplicates.pairs import pair_scores
from pipelines.duplicates.search import nearest_neighbours

DEFECT_COLUMNS = ("defect_id varchar, created_at timestamptz, title varchar, description varchar, "
                  "stack_fingerprint varchar, service varchar, component varchar, environment varchar, "
                  "error_type varchar")


def _scores(rows: list[tuple], per_defect: int = 10) -> pd.DataFrame:
    """pair_scores over an in-memory table of (defect_id, created_at, title[, description, fingerprint, ...])."""
    con = duckdb.connect()
    con.execute("create table defects (" + DEFECT_COLUMNS + ")")  # a fixed column list of this module
    for row in rows:
        con.execute("insert into defects values (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row) + [None] * (9 - len(row)))
    frame = pair_scores(con, con.table("defects"), per_defect, 0.75)
    return frame.sort_values(["defect_id", "candidate_id"]).reset_index(drop=True)


def _ranked(frame: pd.DataFrame, defect_id: str) -> list[str]:
    """A defect's candidates by score (ties: smaller id), as marts.duplicate_candidates ranks them."""
    mine = pd.concat([
        frame.loc[frame.defect_id == defect_id, ["candidate_id", "score"]].rename(columns={"candidate_id": "other"}),
        frame.loc[frame.candidate_id == defect_id, ["defect_id", "score"]].rename(columns={"defect_id": "other"}),
    ])
    return mine.sort_values(["score", "other"], ascending=[False, True])["other"].tolist()


def test_identical_reports_filed_together_score_near_one():
    frame = _scores([
        ("a1", "2026-01-01", "alpha beta"),
        ("a2", "2026-01-01", "alpha beta"),
        ("b1", "2026-01-01", "gamma delta"),
    ])
    # a1 and a2 have the same vector: cosine 1, relative 1. b1 shares no term: no pair at all.
    # Typical similarity of a1: its only neighbour a2 (1.0) over k = 10 -> 0.1, a2 the same.
    # Log-odds ln 3 + 8 * (1 - 0.5) + 0.5 * e^0 (same day) = 5.598612 -> 1 / (1 + e^-5.598612) = 0.996311.
    assert frame[["defect_id", "candidate_id"]].values.tolist() == [["a1", "a2"]]
    row = frame.iloc[0]
    assert (row.text_similarity, row.text_typical, row.text_relative) == (1.0, 0.1, 1.0)
    assert row.score == 0.996311 and row.above_threshold
    assert pd.isna(row.same_stack) and row.environment_similarity == 0.0


def test_reports_without_words_or_stack_pair_with_nothing():
    assert _scores([]).empty
    # only stop words, an empty title, no title: no term, no pair; b and c share a stack fingerprint
    frame = _scores([("a", "2026-01-01", "the and"), ("b", "2026-01-01", ""), ("c", "2026-01-02", None, None, "F"),
                     ("d", "2026-01-03", None, None, "F")])
    assert frame[["defect_id", "candidate_id", "text_similarity", "same_stack"]].values.tolist() == [
        ["c", "d", 0.0, True]]


def test_identifier_parts_meet_the_words():
    frame = _scores([("r1", "2026-01-01", "readVectored slow"), ("r2", "2026-01-01", "read vectored slow")])
    # r1: readvectored, read, vectored, slow; r2: read, vectored, slow (title weight 2: the same tf for all).
    # idf: readvectored ln(3/2) + 1 = 1.405465, the others ln(3/3) + 1 = 1.
    # cosine = 3 / (sqrt(1.405465^2 + 3) * sqrt(3)) = 0.776515.
    assert frame.text_similarity.tolist() == [pytest.approx(0.776515, abs=1e-6)]


def test_timestamps_ids_and_uuids_do_not_make_reports_differ():
    frame = _scores([
        ("t1", "2026-01-01", "Nightly export failed",
         "Job 20240101123456 failed at 2024-03-01T10:00:00Z, request 123e4567-e89b-12d3-a456-426614174000"),
        ("t2", "2026-01-01", "Nightly export failed",
         "Job 20240917000001 failed at 2024-09-17T23:59:59Z, request 9f1c2d3e-0000-4abc-8def-0123456789ab"),
    ])
    assert frame.text_similarity.tolist() == [1.0]


def test_an_old_duplicate_is_found_among_many_newer_reports():
    # 30 reports a day apart between an old report (2019) and its duplicate (2026), each sharing one word
    # ("payment") with both: the duplicate still ranks the old report first, seven years back.
    newer = [(f"n{i:02d}", f"2026-01-{i + 1:02d}", f"payment page colour {i}", f"screen{i} layout{i}")
             for i in range(30)]
    frame = _scores([
        ("old", "2019-02-01", "Payment gateway timeout on refund", "The refund call times out at the gateway."),
        *newer,
        ("new", "2026-02-15", "Refund fails: payment gateway timeout", "Gateway timeout when refunding."),
    ], per_defect=2)
    assert _ranked(frame, "new")[0] == "old"
    assert _ranked(frame, "old")[0] == "new"


def test_the_same_stack_makes_candidates_of_reports_worded_differently():
    others = [(f"x{i:02d}", "2026-01-01", f"unrelated topic{i} words{i}") for i in range(20)]
    frame = _scores([
        ("s1", "2026-01-01", "Checkout shows a blank page", None, "FP1"),
        *others,
        ("s2", "2026-03-01", "Orders cannot be paid", None, "FP1"),
    ], per_defect=3)
    pair = frame[(frame.defect_id == "s1") & (frame.candidate_id == "s2")]
    assert pair.same_stack.tolist() == [True] and pair.text_similarity.tolist() == [0.0]


def test_halfway_to_identical_text_alone_is_the_threshold():
    # relative = (0.6 - 0.2) / (1 - 0.2) = 0.5 -> log-odds ln 3 -> 0.75; filed 10,000 days apart (e^-111: 0).
    relative = score.relative_text(np.array([0.6]), np.array([0.2]))
    assert relative.tolist() == [pytest.approx(0.5)]
    none = {name: np.zeros(1, np.int8) for name in score.ATTRIBUTES}
    informative = dict.fromkeys(score.ATTRIBUTES, 0.5)
    far = np.array([10_000.0])
    assert score.scores(score.log_odds(relative, np.array([0]), none, informative, far)).tolist() == [0.75]
    # the same stack adds 2: 1 / (1 + e^-(ln 3 + 2)) = 0.956835
    assert score.scores(score.log_odds(relative, np.array([1]), none, informative, far)).tolist() == [0.956835]
    # the same service, informativeness 0.5, adds 1/4 * 0.5 = 0.125: 1 / (1 + e^-(ln 3 + 0.125)) = 0.772699
    service = none | {"service": np.ones(1, np.int8)}
    assert score.scores(score.log_odds(relative, np.array([0]), service, informative, far)).tolist() == [0.772699]


def test_an_attribute_everyone_shares_is_no_evidence():
    # two services, two defects each: chance agreement 0.5^2 + 0.5^2 = 0.5; one value for all: 1.
    assert score.chance_agreement(np.array([7, 7, 9, 9, -1])) == 0.5
    assert score.chance_agreement(np.array([3, 3, 3])) == 1.0


def test_the_search_is_exact_on_a_small_corpus_and_similarity_always_uses_every_term():
    rng = np.random.default_rng(7)
    dense = rng.random((200, 40)) * (rng.random((200, 40)) < 0.15)
    dense /= np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
    vectors = sp.csr_matrix(dense.astype(np.float32))
    brute = dense @ dense.T
    np.fill_diagonal(brute, -1)
    expected = -np.sort(-brute, axis=1)[:, :5]
    found = nearest_neighbours(vectors, 5)
    assert np.allclose(-np.sort(-found.similarity, axis=1), expected, atol=1e-5)
    # a tiny search budget leaves the common terms out of the search, yet each similarity is the full cosine
    pruned = nearest_neighbours(vectors, 5, work_per_row=1e-9)
    rows = np.nonzero(pruned.index >= 0)
    assert np.allclose(pruned.similarity[rows], brute[rows[0], pruned.index[rows]], atol=1e-5)


def test_two_runs_over_the_same_data_give_identical_pairs():
    rows = [(f"d{i}", f"2026-01-{i % 28 + 1:02d}", f"crash in module{i % 5} on save", f"step {i % 3}")
            for i in range(40)]
    pd.testing.assert_frame_equal(_scores(rows, 3), _scores(rows, 3))


def _clusters(defects: list[tuple], links: list[tuple] = (), pairs: list[tuple] = ()) -> dict[str, tuple]:
    con = duckdb.connect()
    con.execute("create table d (defect_id varchar, created_at timestamptz, duplicate_of varchar)")
    con.execute("create table l (defect_id varchar, linked_defect_id varchar, link_type varchar)")
    con.execute("create table p (defect_id varchar, candidate_id varchar, above_threshold boolean)")
    for table, rows in (("d", defects), ("l", links), ("p", pairs)):
        for row in rows:
            con.table(table).insert(list(row))
    frame = cluster_components(con, con.table("d"), con.table("l"), con.table("p"))
    return {r.defect_id: (r.cluster_id, r.cluster_size, r.cluster_method) for r in frame.itertuples()}


LINKED = [
    # k: a cycle k1 -> k2 -> k3 -> k1 in links plus k1.duplicate_of = k2; z2 (created first) links k3 too
    ("k1", "2026-01-02", "k2"), ("k2", "2026-01-03", None), ("k3", "2026-01-04", None), ("z2", "2026-01-01", None),
    # u1.duplicate_of and u2's link name GONE-1, unknown at the as-of: ignored
    ("u1", "2026-02-01", "GONE-1"), ("u2", "2026-02-02", None),
    # n1 "relates to" m1: not a duplicate; s1 links itself
    ("m1", "2026-03-01", None), ("n1", "2026-03-02", None), ("s1", "2026-03-03", None),
    # q1 - q2 above the threshold, q2 - q3 below it
    ("q1", "2026-04-01", None), ("q2", "2026-04-02", None), ("q3", "2026-04-03", None),
]
LINKS = [("k1", "k2", "duplicates"), ("k2", "k3", "is duplicated by"), ("k3", "k1", "duplicates"),
         ("z2", "k3", "duplicate"), ("u2", "GONE-1", "duplicates"), ("n1", "m1", "relates to"),
         ("s1", "s1", "duplicates"), ("q1", "k1", "blocks")]
PAIRS = [("q1", "q2", True), ("q2", "q3", False), ("k2", "k3", True)]


def test_clusters_join_duplicate_links_and_above_threshold_pairs_and_take_the_earliest_member():
    got = _clusters(LINKED, LINKS, PAIRS)
    # z2 was created before k1..k3: the cluster is named after it, not after the smallest id (k1)
    assert {d: got[d] for d in ("k1", "k2", "k3", "z2")} == dict.fromkeys(
        ("k1", "k2", "k3", "z2"), ("z2", 4, "explicit_link+similarity"))
    assert got["u1"] == ("u1", 1, "singleton") and got["u2"] == ("u2", 1, "singleton")
    assert got["n1"] == ("n1", 1, "singleton") and got["s1"] == ("s1", 1, "singleton")
    assert got["q1"] == got["q2"] == ("q1", 2, "similarity") and got["q3"] == ("q3", 1, "singleton")


def test_cluster_ids_stay_when_an_unrelated_defect_or_a_later_member_is_added():
    before = _clusters(LINKED, LINKS, PAIRS)
    # an unrelated defect created before everything, and a later duplicate of q2
    after = _clusters([("a0", "2025-01-01", None), *LINKED, ("q9", "2026-05-01", "q2")], LINKS, PAIRS)
    assert {d: after[d][0] for d in before} == {d: before[d][0] for d in before}
    assert after["a0"] == ("a0", 1, "singleton")
    assert after["q9"] == ("q1", 3, "explicit_link+similarity")


def test_sla_fixture_clusters():
    # The int_defects rows of the priority-score tests in _intermediate__sla.yml give the cluster rows those
    # tests are handed: c2 -> c1, c3 -> c2, c4 -> c1 -> {c1..c4} (c1 earliest); r2 -> r1; y1 <-> y2 (a cycle);
    # f1..f9, f11 -> f0 and f10 -> f9: 12 defects, f0 earliest.
    defects = [("c1", "2026-01-01", None), ("c2", "2026-02-01", "c1"), ("c3", "2026-03-01", "c2"),
               ("c4", "2026-01-05", "c1"), ("r1", "2026-03-01", None), ("r2", "2026-03-15", "r1"),
               ("s1", "2026-03-01", None), ("y1", "2026-01-01", "y2"), ("y2", "2026-02-01", "y1"),
               ("f0", "2026-01-01", None), *[(f"f{i}", "2026-02-01", "f0") for i in range(1, 10)],
               ("f10", "2026-02-01", "f9"), ("f11", "2026-01-02", "f0")]
    got = _clusters(defects)
    assert {d: got[d][:2] for d in ("c1", "c2", "c3", "c4", "r2", "s1", "y2", "f10", "f11")} == {
        "c1": ("c1", 4), "c2": ("c1", 4), "c3": ("c1", 4), "c4": ("c1", 4), "r2": ("r1", 2), "s1": ("s1", 1),
        "y2": ("y1", 2), "f10": ("f0", 12), "f11": ("f0", 12)}

