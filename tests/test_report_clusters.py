"""Tests for the cluster explorer (pipelines/reporting/clusters.py, notebooks/clusters.ipynb).

The warehouse is built by hand with only the mart columns the explorer reads; every
expected value is worked out from these rows. As-of 2024-06-30 00:00 UTC (a Sunday: its
ISO week starts Monday 06-24); the default growth window of 4 weeks starts after
2024-06-02 00:00.

  cluster  method      members (created)                                    open        priority (open)
  A-1      both        A-1 05-06 fixed · A-2 05-20 dup · A-3 06-10 · A-4 06-20  A-3, A-4    60, 40
  B-1      similarity  B-1 06-05 · B-2 06-12 · B-3 06-25                   all three   70, 30, none
  C-1      link        C-1 03-04 · C-2 03-11 · C-3 03-18 · C-4 04-01        none        (10, 20, none, 20)
  S-1, S-2 alone

  Largest: A-1 (4; ties C-1 by id), C-1, B-1. New in 4 weeks: B-1 3, A-1 2 (A-3, A-4).
  By priority: B-1 70, A-1 60, C-1 none open. Top defects: A-3, B-1, C-2 (20 ties C-4 by id).
  Recurrences: A-2, A-3, A-4 (of A-1's fix), weeks 05-20, 06-10, 06-17.
  Candidate pairs at or above the threshold: A-3/A-4, A-1/A-3, B-1/B-2 (3; stored from both sides).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from pipelines.reporting import REPORTS, catalog, clusters, fragments, queries, render
from pipelines.warehouse import DEFAULT_WAREHOUSE, PROJECT_ROOT, WAREHOUSE_ENV
from tests.conftest import ROOT, modelled_warehouse

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
JS_TITLE = "javascript:alert(2)"
AS_OF = "2024-06-30 00:00:00+00"

_SCHEMA = """
create schema marts;
create table marts.build_metadata (as_of timestamptz);
create table marts.fct_defects (
    defect_id varchar, created_at timestamptz, title varchar, service varchar, component varchar, team varchar,
    environment varchar, severity varchar, type varchar, found_in_release varchar, attributed_release varchar,
    fixed_in_release varchar, stack_fingerprint varchar, status varchar, resolution varchar, is_open boolean,
    resolved_at timestamptz, priority_score double);
create table marts.defect_clusters (
    defect_id varchar, cluster_id varchar, cluster_size bigint, is_recurrence boolean, recurrence_of varchar,
    service varchar, created_at timestamptz, resolution varchar, cluster_method varchar);
create table marts.duplicate_candidates (
    defect_id varchar, candidate_id varchar, rank bigint, score double, reasons varchar, above_threshold boolean);
"""

# id, created, title, service, component, team, env, severity, type, found, attributed, fixed, fingerprint,
# status, resolution, open, resolved, priority | cluster, size, recurrence of, method
_DEFECTS: list[tuple[list[object], list[object]]] = [
    (["A-1", "2024-05-06 10:00Z", "Charge fails on retry", "payments", "api", "core", "production", "S2", "bug",
      "1.0", "1.0", "1.0", "fpA", "closed", "fixed", False, "2024-05-08 10:00Z", 50.0], ["A-1", 4, None, "explicit_link+similarity"]),
    (["A-2", "2024-05-20 10:00Z", "Charge fails on retry again", "payments", "api", "core", "production", "S2", "bug",
      "1.0", "1.0", None, "fpA", "closed", "duplicate", False, "2024-05-21 10:00Z", 45.0], ["A-1", 4, "A-1", "explicit_link+similarity"]),
    (["A-3", "2024-06-10 10:00Z", "Charge fails on retry", "payments", "api", "core", "staging", "S1", "bug",
      "1.1", "1.1", None, "fpA", "in_progress", None, True, None, 60.0], ["A-1", 4, "A-1", "explicit_link+similarity"]),
    (["A-4", "2024-06-20 10:00Z", JS_TITLE, "checkout", "api", "core", "production", "S2", "bug",
      "1.1", "1.1", None, None, "new", None, True, None, 40.0], ["A-1", 4, "A-1", "explicit_link+similarity"]),
    (["B-1", "2024-06-05 09:00Z", EVIL, "search", "query", "discovery", "production", "S2", "bug",
      "2.0", "2.0", None, "fpB", "new", None, True, None, 70.0], ["B-1", 3, None, "similarity"]),
    (["B-2", "2024-06-12 09:00Z", "Search timeout", "search", EVIL, "discovery", "production", "S3", "bug",
      "2.0", "2.0", None, "fpB", "triaged", None, True, None, 30.0], ["B-1", 3, None, "similarity"]),
    (["B-3", "2024-06-25 09:00Z", "Search times out under load", "search", "query", "discovery", "production", "S3",
      "bug", "2.1", "2.1", None, "fpB", "new", None, True, None, None], ["B-1", 3, None, "similarity"]),
    (["C-1", "2024-03-04 08:00Z", "Old export bug", "reports", "export", "ops", "production", "S4", "bug",
      "0.9", "0.9", None, None, "closed", "wont_fix", False, "2024-03-05 08:00Z", 10.0], ["C-1", 4, None, "explicit_link"]),
    (["C-2", "2024-03-11 08:00Z", "Export fails for old reports", "reports", "export", "ops", "production", "S4",
      "bug", "0.9", "0.9", None, None, "closed", "duplicate", False, "2024-03-12 08:00Z", 20.0], ["C-1", 4, None, "explicit_link"]),
    (["C-3", "2024-03-18 08:00Z", "Export bug", "reports", "export", "ops", "production", "S4", "bug",
      "0.9", "0.9", None, None, "closed", "duplicate", False, "2024-03-19 08:00Z", None], ["C-1", 4, None, "explicit_link"]),
    (["C-4", "2024-04-01 08:00Z", "Export bug again", "reports", "export", "ops", "production", "S4", "bug",
      "0.9", "0.9", None, None, "closed", "duplicate", False, "2024-04-02 08:00Z", 20.0], ["C-1", 4, None, "explicit_link"]),
    (["S-1", "2024-06-26 12:00Z", "Card declined", "payments", "api", "core", "production", "S1", "bug",
      "1.1", "1.1", None, None, "new", None, True, None, 90.0], ["S-1", 1, None, "singleton"]),
    (["S-2", "2024-01-15 12:00Z", "Typo on page", "web", "ui", "web", "production", "S4", "bug",
      "3.0", "3.0", "3.0", None, "closed", "fixed", False, "2024-01-16 12:00Z", 5.0], ["S-2", 1, None, "singleton"]),
]

_CANDIDATES: list[list[object]] = [
    ["A-3", "A-4", 1, 0.9, "title 0.80; same component", True],
    ["A-3", "A-1", 2, 0.8, "same stack; title 1.00", True],
    ["A-3", "S-1", 3, 0.3, "title 0.40; same service", False],
    ["A-4", "A-3", 1, 0.9, "title 0.80; same component", True],
    ["A-1", "A-3", 1, 0.8, "same stack; title 1.00", True],
    ["S-1", "A-3", 1, 0.3, "title 0.40; same service", False],
    ["B-2", "B-1", 1, 0.85, "same stack; title 0.50", True],
]


def _build_warehouse(path: Path, *, with_rows: bool = True) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_SCHEMA)
        con.execute("insert into marts.build_metadata values (?::timestamptz)", [AS_OF])
        if with_rows:
            con.executemany("insert into marts.fct_defects values (" + ", ".join("?" * 18) + ")", [d for d, _ in _DEFECTS])
            con.executemany(
                "insert into marts.defect_clusters values (?, ?, ?, ?, ?, ?, ?::timestamptz, ?, ?)",
                [[d[0], c[0], c[1], c[2] is not None, c[2], d[3], d[1], d[14], c[3]] for d, c in _DEFECTS],
            )
            con.executemany("insert into marts.duplicate_candidates values (?, ?, ?, ?, ?, ?)", _CANDIDATES)
    finally:
        con.close()  # the report kernel opens the file from another process
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return _build_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def con(warehouse: Path):
    connection = queries.open_warehouse(warehouse, required=clusters.TABLES)
    yield connection
    connection.close()


@pytest.fixture
def empty_con(tmp_path: Path):
    connection = queries.open_warehouse(_build_warehouse(tmp_path / "empty.duckdb", with_rows=False))
    yield connection
    connection.close()


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# ---------------------------------------------------------------- the warehouse and the selection


def test_warehouse_file_reads_relative_paths_from_the_project_root(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(WAREHOUSE_ENV, raising=False)
    assert clusters.warehouse_file() == DEFAULT_WAREHOUSE
    monkeypatch.setenv(WAREHOUSE_ENV, "data/other.duckdb")
    assert clusters.warehouse_file() == PROJECT_ROOT / "data" / "other.duckdb"
    monkeypatch.setenv(WAREHOUSE_ENV, str(tmp_path / "w.duckdb"))
    assert clusters.warehouse_file() == tmp_path / "w.duckdb"
    assert clusters.warehouse_file("given.duckdb") == PROJECT_ROOT / "given.duckdb"  # a parameter beats the env


def test_select_defaults_to_the_largest_cluster_and_its_top_open_defect(con) -> None:
    assert clusters.select(con) == clusters.Selection(cluster="A-1", defect="A-3", weeks=4)
    assert clusters.select(con).subtitle == "cluster A-1 · similar to A-3 · growth over 4 weeks"
    assert clusters.select(con).cluster_label == "cluster A-1"
    # any member names its cluster; no member open: the highest priority, ties by id
    assert clusters.select(con, cluster="C-3", weeks="8") == clusters.Selection("C-1", "C-2", 8)
    assert clusters.select(con, cluster=" B-2 ", defect="S-1") == clusters.Selection("B-1", "S-1", 4)
    assert clusters.select(con, cluster="S-2") == clusters.Selection("S-2", "S-2", 4)


def test_select_in_a_warehouse_without_defects(empty_con) -> None:
    selection = clusters.select(empty_con)
    assert selection == clusters.Selection(None, None, 4)
    assert (selection.subtitle, selection.cluster_label) == ("no defects", "no cluster")


def test_unknown_ids_name_the_nearest_known_ones(con) -> None:
    with pytest.raises(catalog.ReportParameterError, match=r"^unknown cluster or defect 'A-9': did you mean A-4, A-3, A-2, A-1\?$"):
        clusters.select(con, cluster="A-9")
    with pytest.raises(catalog.ReportParameterError, match=r"^unknown defect 'B-7': did you mean B-3, B-2, B-1\?$"):
        clusters.select(con, defect="B-7")
    for weeks in ("0", "four", -2):
        with pytest.raises(catalog.ReportParameterError, match="weeks must be a whole number of weeks, at least 1"):
            clusters.select(con, weeks=weeks)


def test_report_parameters_are_checked_and_left_for_the_notebook_to_default(con) -> None:
    report = catalog.find("clusters", REPORTS)
    assert report is clusters.REPORT and catalog.find("cluster-explorer", REPORTS) is report
    assert catalog.resolve(report, con, {}) == {"cluster": None, "defect": None, "weeks": 4, "as_of": None}
    given = {"cluster": "A-4", "defect": "B-3", "weeks": "2", "as_of": "2024-06-30"}
    params = catalog.resolve(report, con, given)
    assert params == {"cluster": "A-1", "defect": "B-3", "weeks": 2, "as_of": "2024-06-30"}
    assert report.file_stem(params) == "clusters_A-1"
    assert report.file_stem(catalog.resolve(report, con, {})) == "clusters"
    with pytest.raises(catalog.ReportParameterError, match=r"unknown parameter 'clustr': did you mean cluster\?"):
        catalog.resolve(report, con, {"clustr": "A-1"})
    with pytest.raises(catalog.ReportParameterError, match="as_of must be YYYY-MM-DD"):
        catalog.resolve(report, con, {"as_of": "June"})


# ---------------------------------------------------------------- clusters


def test_cluster_summary(con) -> None:
    s = clusters.cluster_summary(con).set_index("cluster_id")
    assert s.index.tolist() == ["A-1", "B-1", "C-1"]  # singletons are not clusters
    assert s["defects"].tolist() == [4, 3, 4]
    assert s["cluster_method"].tolist() == ["explicit_link+similarity", "similarity", "explicit_link"]
    assert s["open_defects"].tolist() == [2, 3, 0]
    assert s["recurrences"].tolist() == [3, 0, 0]
    assert s["recent"].tolist() == [2, 3, 0]
    assert s["earlier"].tolist() == [2, 0, 4]
    assert s["first_created"].tolist() == [_ts("2024-05-06 10:00"), _ts("2024-06-05 09:00"), _ts("2024-03-04 08:00")]
    assert s["last_created"].tolist() == [_ts("2024-06-20 10:00"), _ts("2024-06-25 09:00"), _ts("2024-04-01 08:00")]
    assert s["services"].tolist() == ["checkout, payments", "search", "reports"]
    assert s["priority_score"].fillna(-1).tolist() == [60.0, 70.0, -1]
    assert s["top_defect"].tolist() == ["A-3", "B-1", "C-2"]
    assert s["top_title"].tolist() == ["Charge fails on retry", EVIL, "Export fails for old reports"]


def test_largest_fastest_growing_and_top_priority_orders(con) -> None:
    assert clusters.largest_clusters(con)["cluster_id"].tolist() == ["A-1", "C-1", "B-1"]
    assert clusters.largest_clusters(con, limit=1)["cluster_id"].tolist() == ["A-1"]
    assert clusters.top_clusters_by_priority(con)["cluster_id"].tolist() == ["B-1", "A-1", "C-1"]
    growing = clusters.fastest_growing_clusters(con)
    assert growing[["cluster_id", "recent", "earlier"]].values.tolist() == [["B-1", 3, 0], ["A-1", 2, 2]]
    # three weeks (after 06-09): two new each; B-1 had fewer before (B-1 vs)
    three = clusters.fastest_growing_clusters(con, weeks=3)
    assert three[["cluster_id", "recent", "earlier"]].values.tolist() == [["B-1", 2, 1], ["A-1", 2, 2]]
    assert clusters.fastest_growing_clusters(con, weeks=1)["cluster_id"].tolist() == ["B-1"]  # only B-3, 06-25
    assert clusters.largest_clusters(con, weeks=1)["recent"].tolist() == [0, 0, 1]


def test_the_lists_read_a_summary_the_caller_already_has(con) -> None:
    summary = clusters.cluster_summary(con)
    assert clusters.largest_clusters(con, summary=summary).equals(clusters.largest_clusters(con))
    # the summary given is the one read: C-1 made the largest comes first; without A-1, B-1 alone grows
    changed = summary.assign(defects=summary["defects"].where(summary["cluster_id"] != "C-1", 9))
    assert clusters.largest_clusters(con, summary=changed)["cluster_id"].tolist() == ["C-1", "A-1", "B-1"]
    assert clusters.overview(con, summary=changed).largest_id == "C-1"
    quiet = summary[summary["cluster_id"] != "A-1"]
    assert clusters.fastest_growing_clusters(con, summary=quiet)["cluster_id"].tolist() == ["B-1"]
    assert clusters.top_clusters_by_priority(con, summary=quiet)["cluster_id"].tolist() == ["B-1", "C-1"]


def test_overview(con, empty_con) -> None:
    assert clusters.overview(con) == clusters.Overview(
        clusters=3, similarity_clusters=2, clustered_defects=11, largest=4, largest_id="A-1",
        recurrences=3, recent=5, pairs_above_threshold=3,
    )
    nothing = clusters.overview(empty_con)
    assert nothing == clusters.Overview(0, 0, 0, 0, None, 0, 0, 0)
    assert '<div class="value">0</div><div class="detail">no cluster of two or more defects</div>' in (
        clusters.overview_cards(nothing, 4)
    )


def test_overview_cards(con) -> None:
    cards = clusters.overview_cards(clusters.overview(con, 2), 2)
    values = [
        ("Clusters", "3", "of 2+ defects · 2 with a similarity link"),
        ("Defects in clusters", "11", "duplicates included"),
        ("Largest cluster", "4", "defects in A-1"),
        ("Recurrences", "3", "reports of a problem already fixed"),
        ("New in clusters", "2", "defects created in the 2 weeks before the as-of"),  # after 06-16: A-4, B-3
        ("Pairs above threshold", "3", "duplicate candidates, each pair once"),
    ]
    for label, value, detail in values:
        assert (
            f'<div class="label">{label}</div><div class="value">{value}</div><div class="detail">{detail}</div>'
        ) in cards


def test_clusters_frame_escapes_and_formats(con) -> None:
    frame = clusters.clusters_frame(clusters.largest_clusters(con))
    assert frame.columns.tolist() == [
        "Cluster", "Size", "Open", "Recur.", "New", "Priority", "Linked by", "Services", "Latest", "Top defect"
    ]
    assert frame.values.tolist() == [
        ["A-1", "4", "2", "3", "2", "60", "both", "checkout, payments", "2024-06-20", "A-3 Charge fails on retry"],
        ["C-1", "4", "0", "0", "0", "n/a", "link", "reports", "2024-04-01", "C-2 Export fails for old reports"],
        ["B-1", "3", "3", "0", "3", "70", "similarity", "search", "2024-06-25", f"B-1 {EVIL}"],
    ]
    html = fragments.html_table(frame)
    assert EVIL_ESCAPED in html and EVIL not in html


# ---------------------------------------------------------------- one cluster, one defect


def test_cluster_members_oldest_first(con) -> None:
    members = clusters.cluster_members(con, "A-1")
    assert members["defect_id"].tolist() == ["A-1", "A-2", "A-3", "A-4"]
    assert members["recurrence_of"].fillna("").tolist() == ["", "A-1", "A-1", "A-1"]
    assert members["stack_fingerprint"].fillna("").tolist() == ["fpA", "fpA", "fpA", ""]
    assert clusters.cluster_members(con, "nope").empty


def test_field_differences_of_a_cluster(con) -> None:
    diff = clusters.field_differences(clusters.cluster_members(con, "A-1")).set_index("column")
    assert diff.loc[~diff["differs"]].index.tolist() == ["component", "team", "type"]
    assert diff["values"].to_dict() == {
        "service": [("payments", ["A-1", "A-2", "A-3"]), ("checkout", ["A-4"])],
        "component": [("api", ["A-1", "A-2", "A-3", "A-4"])],
        "team": [("core", ["A-1", "A-2", "A-3", "A-4"])],
        "environment": [("production", ["A-1", "A-2", "A-4"]), ("staging", ["A-3"])],
        "severity": [("S2", ["A-1", "A-2", "A-4"]), ("S1", ["A-3"])],
        "type": [("bug", ["A-1", "A-2", "A-3", "A-4"])],
        "found_in_release": [("1.0", ["A-1", "A-2"]), ("1.1", ["A-3", "A-4"])],
        "attributed_release": [("1.0", ["A-1", "A-2"]), ("1.1", ["A-3", "A-4"])],
        "fixed_in_release": [("(none)", ["A-2", "A-3", "A-4"]), ("1.0", ["A-1"])],
        "stack_fingerprint": [("fpA", ["A-1", "A-2", "A-3"]), ("(none)", ["A-4"])],
        "status": [("closed", ["A-1", "A-2"]), ("in_progress", ["A-3"]), ("new", ["A-4"])],
        "resolution": [("(none)", ["A-3", "A-4"]), ("duplicate", ["A-2"]), ("fixed", ["A-1"])],
    }
    assert diff["distinct"].tolist() == [2, 1, 1, 2, 2, 1, 2, 2, 2, 2, 3, 3]


def test_differences_display_lists_ids_naturally_ordered_and_capped() -> None:
    ids = [f"M-{i}" for i in range(1, 8)]
    members = pd.DataFrame({column: ["x"] * 7 for column, _ in clusters.COMPARED_FIELDS} | {"defect_id": ids})
    members["found_in_release"] = ["1.10", "1.9", "1.9", "1.9", "1.9", "1.9", "1.9"][::-1]
    members["attributed_release"] = ["1.10", "1.9", "2.0", "1.10", "1.9", "2.0", None]
    diff = clusters.field_differences(members)
    frame = clusters.differences_frame(diff)
    assert frame.values.tolist() == [
        ["Found in release", "2", "1.9 × 6 (M-1, M-2, M-3, M-4, M-5 +1 more) · 1.10 × 1 (M-7)"],
        # two each: 1.9 before 1.10 before 2.0 (natural order, not text order)
        ["Attributed release", "4", "1.9 × 2 (M-2, M-5) · 1.10 × 2 (M-1, M-4) · 2.0 × 2 (M-3, M-6) · (none) × 1 (M-7)"],
    ]
    html = clusters.differences_html(diff)
    assert "<caption>Where the members differ</caption>" in html
    assert '</table><p class="note">Same in every member: Service x · Component x · Team x · Environment x' in html


def test_members_and_differences_escape_exported_text(con, monkeypatch) -> None:
    b = clusters.cluster_members(con, "B-1")
    html = clusters.members_html(b, "B-1")
    assert "<caption>Cluster B-1: 3 defect(s)</caption>" in html
    assert EVIL_ESCAPED in html and EVIL not in html
    diff_html = clusters.differences_html(clusters.field_differences(b))
    assert f"query × 2 (B-1, B-3) · {EVIL_ESCAPED} × 1 (B-2)" in diff_html
    a = clusters.members_html(clusters.cluster_members(con, "A-1"), "A-1")
    assert f"<td>{JS_TITLE}</td>" in a and "href" not in a  # a javascript: title is text, never a link
    monkeypatch.setattr(clusters, "MEMBER_ROWS", 2)
    capped = clusters.members_html(clusters.cluster_members(con, "A-1"), "A-1")
    assert capped.count("<tr>") == 3  # header + two members
    assert capped.endswith(
        '<p class="note">…and 2 more: in JupyterLab, <code>clusters.cluster_members(con, &#x27;A-1&#x27;)</code> '
        "lists them all.</p>"
    )


def test_differences_when_all_differ_none_differ_or_there_are_no_members(con, empty_con) -> None:
    diff = pd.DataFrame(
        {"field": ["Service"], "distinct": [2], "differs": [True], "values": [[("a", ["X"]), ("b", ["Y"])]]}
    )
    assert clusters.differences_html(diff).endswith(
        '</table><p class="note">No field has the same value in every member.</p>'
    )
    alone = clusters.differences_html(clusters.field_differences(clusters.cluster_members(con, "S-1")))
    assert alone.startswith('<p class="empty">Every compared field has one value in this cluster.</p>')
    assert "Same in every member: Service payments · Component api" in alone
    nothing = clusters.field_differences(clusters.cluster_members(empty_con, None))
    assert nothing["distinct"].tolist() == [0] * len(clusters.COMPARED_FIELDS)
    assert clusters.differences_html(nothing) == ""


def test_similar_defects_with_titles_and_clusters(con) -> None:
    similar = clusters.similar_defects(con, "A-3")
    assert similar[["rank", "candidate_id", "candidate_cluster", "same_cluster", "above_threshold"]].values.tolist() == [
        [1, "A-4", "A-1", True, True],
        [2, "A-1", "A-1", True, True],
        [3, "S-1", "S-1", False, False],
    ]
    frame = clusters.similar_frame(similar)
    assert frame.values.tolist() == [
        ["1", "A-4", JS_TITLE, "checkout", "new", "0.900", "Yes", "same (A-1)", "title 0.80; same component"],
        ["2", "A-1", "Charge fails on retry", "payments", "closed", "0.800", "Yes", "same (A-1)", "same stack; title 1.00"],
        ["3", "S-1", "Card declined", "payments", "new", "0.300", "No", "S-1", "title 0.40; same service"],
    ]
    assert clusters.similar_defects(con, "C-1").empty
    assert clusters.no_candidates("C-1") == "No duplicate candidate was found for C-1."


def test_defect_heading(con, empty_con) -> None:
    assert clusters.defect_heading(clusters.defect_details(con, "B-1")) == (
        f"<p><strong>B-1</strong> {EVIL_ESCAPED} · search · new · cluster B-1 of 3</p>"
    )
    assert clusters.defect_heading(clusters.defect_details(con, "A-2")) == (
        "<p><strong>A-2</strong> Charge fails on retry again · payments · closed (duplicate) · cluster A-1 of 4</p>"
    )
    assert "alone in its cluster" in clusters.defect_heading(clusters.defect_details(con, "S-1"))
    assert clusters.defect_heading(clusters.defect_details(empty_con, None)) == '<p class="empty">No defect in the warehouse.</p>'


# ---------------------------------------------------------------- recurrences over time


def test_weekly_recurrences_of_every_defect(con) -> None:
    weekly = clusters.weekly_recurrences(con)
    # S-2's week (Monday 01-15) to the as-of's (06-24), every week present
    assert len(weekly) == 24
    assert weekly["week_start"].iloc[0] == pd.Timestamp("2024-01-15")
    assert weekly["week_start"].iloc[-1] == pd.Timestamp("2024-06-24")
    assert weekly["defects"].sum() == 13
    by_week = weekly.set_index(weekly["week_start"].dt.strftime("%m-%d"))
    assert by_week.loc[["05-20", "06-03", "06-10", "06-17", "06-24"], ["defects", "recurrences"]].values.tolist() == [
        [1, 1], [1, 0], [2, 1], [1, 1], [2, 0],
    ]
    assert weekly["recurrences"].sum() == 3


def test_weekly_recurrences_of_one_cluster(con) -> None:
    weekly = clusters.weekly_recurrences(con, "A-1")
    assert weekly["week_start"].dt.strftime("%m-%d").tolist() == [
        "05-06", "05-13", "05-20", "05-27", "06-03", "06-10", "06-17", "06-24"
    ]
    assert weekly["defects"].tolist() == [1, 0, 1, 0, 0, 1, 1, 0]
    assert weekly["recurrences"].tolist() == [0, 0, 1, 0, 0, 1, 1, 0]
    assert clusters.weekly_recurrences(con, "nope").empty


def test_recurrence_chart(con) -> None:
    fig = clusters.recurrence_chart(clusters.weekly_recurrences(con, "A-1"), f"cluster {EVIL}")
    recurrences, others = fig.data
    assert (recurrences.name, others.name) == ("Recurrences", "Other reports")
    assert list(recurrences.y) == [0, 0, 1, 0, 0, 1, 1, 0]
    assert list(others.y) == [1, 0, 0, 0, 0, 0, 0, 0]
    assert fig.layout.title.text == f"Reports per week, cluster {EVIL_ESCAPED}"
    assert fig.layout.yaxis.dtick == 1  # small counts: whole-number ticks
    assert clusters.recurrence_chart(clusters.weekly_recurrences(con), "every defect").layout.yaxis.dtick == 1
    many = pd.DataFrame({"week_start": [pd.Timestamp("2024-01-01")], "defects": [40], "recurrences": [3]})
    assert clusters.recurrence_chart(many, "x").layout.yaxis.dtick is None
    empty = clusters.recurrence_chart(clusters.weekly_recurrences(con, "nope"), "x")
    assert [a.text for a in empty.layout.annotations] == ["No defect reported."]


# ---------------------------------------------------------------- rendering


@pytest.mark.slow
def test_render_clusters_report_and_open_it_in_chromium(warehouse: Path, tmp_path: Path, chromium) -> None:
    started = time.perf_counter()
    page_path = render.render_report(clusters.REPORT, {"cluster": "B-3", "defect": "A-3"}, warehouse, tmp_path)
    print(f"rendered the cluster explorer in {time.perf_counter() - started:.1f} s")
    assert page_path.name == "clusters_B-1.html"
    page = page_path.read_text(encoding="utf-8")
    assert page.count(get_plotlyjs()) == 1  # embedded once, nothing loaded from the network
    rest = page.replace(get_plotlyjs(), "")
    assert rest.count("Plotly.newPlot") == 2
    for text in (
        '<p class="asof">As of <strong>2024-06-30 00:00 UTC</strong> · cluster B-1 · similar to A-3 · growth over 4 weeks',
        "<caption>Cluster B-1: 3 defect(s)</caption>",
        "<p><strong>A-3</strong> Charge fails on retry · payments · in_progress · cluster A-1 of 4</p>",
        EVIL_ESCAPED,
        f"<td>{JS_TITLE}</td>",
    ):
        assert text in rest, text
    assert "<script>alert(1)" not in rest and 'href="javascript' not in rest
    for code in ("import ", "clusters.select", "rp.show"):
        assert code not in rest, code
    opened = chromium.open_report(page_path)
    assert (opened.plots, opened.drawn, opened.undrawn, opened.problems) == (2, 2, [], [])
    assert opened.texts(".card .value") == ["3", "11", "4", "3", "5", "3"]


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory) -> Path:
    """The demo's marts (`defectflow demo`'s data and as-of), ingested and modelled here, or the
    warehouse ``DEFECTFLOW_TEST_DEMO_WAREHOUSE`` names (to iterate without waiting for dbt)."""
    import os

    from pipelines.synthetic import SAMPLE_AS_OF

    existing = os.environ.get("DEFECTFLOW_TEST_DEMO_WAREHOUSE")
    if existing:
        return Path(existing)
    return modelled_warehouse(
        ROOT / "data" / "sample", tmp_path_factory.mktemp("demo"), policy=None, as_of_text=SAMPLE_AS_OF
    ).warehouse


def _outputs_html(nb) -> str:
    return "\n".join(
        "".join(out.get("data", {}).get("text/html", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )


@pytest.mark.slow
def test_notebook_runs_in_jupyterlabs_kernel_on_the_demo_warehouse(demo_warehouse: Path, monkeypatch) -> None:
    """As JupyterLab runs it: the notebook file as committed (no papermill parameters), the
    ``python3`` kernel started in notebooks/, the warehouse from ``DEFECTFLOW_WAREHOUSE``."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv(WAREHOUSE_ENV, str(demo_warehouse))
    nb = nbformat.read(render.NOTEBOOKS_DIR / "clusters.ipynb", as_version=4)
    started = time.perf_counter()
    NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(render.NOTEBOOKS_DIR)}}
    ).execute()
    print(f"ran notebooks/clusters.ipynb in {time.perf_counter() - started:.1f} s")
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    html = _outputs_html(nb)

    con = duckdb.connect(str(demo_warehouse), read_only=True)
    largest_id, largest_size = con.execute(
        "select cluster_id, cluster_size from marts.defect_clusters order by cluster_size desc, cluster_id limit 1"
    ).fetchone()
    n_clusters, n_similarity = con.execute(
        "select count(distinct cluster_id), count(distinct cluster_id) filter (where cluster_method like '%similarity%') "
        "from marts.defect_clusters where cluster_size >= 2"
    ).fetchone()
    top_defect = con.execute(
        "select d.defect_id from marts.defect_clusters c join marts.fct_defects d using (defect_id) "
        "where c.cluster_id = ? order by d.is_open desc, d.priority_score desc nulls last, d.defect_id limit 1",
        [largest_id],
    ).fetchone()[0]
    best_candidate = con.execute(
        "select candidate_id from marts.duplicate_candidates where defect_id = ? and rank = 1", [top_defect]
    ).fetchone()[0]
    con.close()

    assert n_similarity > 0  # the demo has similarity clusters, and the page shows them
    assert f"cluster {largest_id} · similar to {top_defect} · growth over 4 weeks" in html
    assert f"<caption>Cluster {largest_id}: {largest_size} defect(s)</caption>" in html
    assert f'<div class="value">{n_clusters}</div><div class="detail">of 2+ defects · {n_similarity} with a similarity link' in html
    assert f'<div class="value">{largest_size}</div><div class="detail">defects in {largest_id}</div>' in html
    assert f'<tr><td class="num">1</td><td>{best_candidate}</td>' in html
    assert html.count('class="plotly-graph-div"') == 2
