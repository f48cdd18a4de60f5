"""Tests for the post-mortem gap analysis (pipelines/reporting/postmortem.py, notebooks/postmortem.ipynb).

The warehouse is built by hand with only the mart columns the report reads; every
expected value below is worked out from these rows. As-of 2024-06-30 00:00 UTC.

payments 2.0, first production deployment 06-10 12:00 (dep-1; canary dep-2 06-11 00:00):

  record  env         introduced   detected     resolved     intro->det  det->res  notes
  I-1     incident    06-11 00:00  06-11 06:00  06-11 09:00   6 h        3 h       via dep-2 (12 h after release); links P-1
  P-1     defect, S1  06-10 12:00  06-11 12:00  06-12 00:00  24 h       12 h       title <script>, javascript: url, fpA
  P-3     defect      06-10 12:00  06-12 06:00  06-12 18:00  42 h       12 h       no commit names it; no stack trace
  P-2     defect      06-10 12:00  06-13 00:00  open         60 h        -         fpB
  I-2     incident    06-10 12:00  06-14 00:00  open         84 h        -         links no defect; javascript: post-mortem
  I-6     incident    06-10 12:00  06-15 00:00  06-15 12:00 108 h       12 h       links P-old (release 1.0): its own escape

  Not escaped: P-dup (duplicate), P-pre (staging), I-3 (staging incident), I-4 (unattributed).
  Escape rate (mart row): pre 2, escaped defects 3, escaped incidents 2 (I-1 is P-1's escape) -> 5/7.

Files the fixes touched (marts.escape_coverage_gaps):

  file                   component  coverage  gap  escapes (records)
  src/<script>x.py       billing    not in report  yes  1 (P-1)
  src/billing/charge.py  billing    50%            yes  2 (P-1, P-2)
  src/refunds/api.py     refunds    90%            no   2 (I-6, P-2)
  (P-3: no file; its defect has no component -> 'unassigned')

Regression targets: charge.py (gap, 2) > <script>x.py (gap, 1) > api.py (2) > unassigned (1).

Pre-release failures with fpA before 06-10 12:00: T1 (ci, 06-05), T2 (staging, 06-09). Not matching:
T3 (06-10 12:00, not strictly before), T4 (after), T5 (production). fpB: T7 (no executed_at, on a
2.0 commit) matches; T8 (no executed_at, 1.0's commit) does not.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from pipelines.reporting import REPORTS, catalog, postmortem, queries, render

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVIL_FILE = "src/<script>x.py"
AS_OF = "2024-06-30 00:00:00+00"

_SCHEMA = """
create schema marts;
create table marts.build_metadata (as_of timestamptz);
create table marts.release_order (service varchar, release varchar, first_production_at timestamptz);
create table marts.release_escape_rate (
    service varchar, release varchar, pre_release_defects bigint, escaped_defects bigint,
    escaped_incidents bigint, escape_rate double);
create table marts.fct_defects (
    defect_id varchar, title varchar, severity varchar, environment varchar, service varchar,
    attributed_release varchar, is_escaped boolean, is_duplicate boolean, created_at timestamptz,
    resolved_at timestamptz, release_reached_environment_at timestamptz, url varchar,
    component varchar, stack_fingerprint varchar);
create table marts.fct_incidents (
    incident_id varchar, title varchar, severity varchar, service varchar, environment varchar,
    detected_at timestamptz, resolved_at timestamptz, attributed_deployment_id varchar,
    attributed_release varchar, linked_defect_ids varchar, postmortem_link varchar);
create table marts.fct_deployments (
    deployment_id varchar, service varchar, release varchar, finished_at timestamptz, commit_sha varchar);
create table marts.fct_test_cases (
    run_id varchar, suite varchar, classname varchar, name varchar, status varchar,
    fingerprint varchar, environment varchar, commit_sha varchar, executed_at timestamptz);
create table marts.escape_coverage_gaps (
    service varchar, release varchar, defect_id varchar, incident_id varchar, file varchar,
    component varchar, line_coverage double, is_gap boolean, coverage_report_id varchar,
    coverage_reported_at timestamptz, coverage_file varchar);
"""

_ROWS: dict[str, list[list[object]]] = {
    "release_order": [
        ["payments", "1.0", "2024-05-01 12:00Z"],
        ["payments", "2.0", "2024-06-10 12:00Z"],
        ["search", "2.0", "2024-06-20 00:00Z"],
    ],
    "release_escape_rate": [
        ["payments", "1.0", 4, 1, 0, 1 / 5],
        ["payments", "2.0", 2, 3, 2, 5 / 7],
        ["search", "2.0", 1, 1, 0, 1 / 2],
    ],
    "fct_defects": [
        ["P-1", EVIL, "S1", "production", "payments", "2.0", True, False, "2024-06-11 12:00Z",
         "2024-06-12 00:00Z", "2024-06-10 12:00Z", "javascript:alert(3)", "billing", "fpA"],
        ["P-2", "Refund fails", "S2", "production", "payments", "2.0", True, False, "2024-06-13 00:00Z",
         None, "2024-06-10 12:00Z", "https://tracker.example/P-2", "refunds", "fpB"],
        ["P-3", "Rounding", "S3", "production", "payments", "2.0", True, False, "2024-06-12 06:00Z",
         "2024-06-12 18:00Z", "2024-06-10 12:00Z", None, None, None],
        ["P-dup", "Refund fails again", "S2", "production", "payments", "2.0", True, True, "2024-06-13 01:00Z",
         None, "2024-06-10 12:00Z", None, "refunds", "fpB"],
        ["P-pre", "Caught in staging", "S2", "staging", "payments", "2.0", False, False, "2024-06-08 00:00Z",
         None, "2024-06-07 00:00Z", None, "billing", "fpA"],
        ["P-old", "Old bug", "S3", "production", "payments", "1.0", True, False, "2024-05-05 00:00Z",
         None, "2024-05-01 12:00Z", None, "legacy", "fpOld"],
        ["S-1", "Search down", "S1", "production", "search", "2.0", True, False, "2024-06-21 00:00Z",
         None, "2024-06-20 00:00Z", None, "query", None],
    ],
    "fct_incidents": [
        ["I-1", "Charge errors", "S1", "payments", "production", "2024-06-11 06:00Z", "2024-06-11 09:00Z",
         "dep-2", "2.0", "P-1", "https://wiki.example/pm/I-1"],
        ["I-2", "Refund outage", "S2", "payments", "production", "2024-06-14 00:00Z", None,
         "dep-1", "2.0", None, "javascript:alert(4)"],
        ["I-3", "Staging outage", "S3", "payments", "staging", "2024-06-09 00:00Z", "2024-06-09 01:00Z",
         "dep-0", "2.0", None, None],
        ["I-4", "Mystery", "S2", "payments", "production", "2024-06-20 00:00Z", "2024-06-20 02:00Z",
         None, None, None, None],
        ["I-6", "Old bug back", "S2", "payments", "production", "2024-06-15 00:00Z", "2024-06-15 12:00Z",
         "dep-1", "2.0", "P-old", None],
    ],
    "fct_deployments": [
        ["dep-9", "payments", "1.0", "2024-05-01 12:00Z", "c-100"],
        ["dep-0", "payments", "2.0", "2024-06-09 00:00Z", "c-200"],
        ["dep-1", "payments", "2.0", "2024-06-10 12:00Z", "c-200"],
        ["dep-2", "payments", "2.0", "2024-06-11 00:00Z", "c-201"],
    ],
    "fct_test_cases": [
        ["r1", "unit", "ChargeTest", "t1", "failed", "fpA", "ci", "c-190", "2024-06-05 00:00Z"],
        ["r2", "e2e", "ChargeFlow", "t2", "error", "fpA", "staging", "c-200", "2024-06-09 00:00Z"],
        ["r3", "unit", "ChargeTest", "t3", "failed", "fpA", "ci", "c-200", "2024-06-10 12:00Z"],
        ["r4", "unit", "ChargeTest", "t4", "failed", "fpA", "ci", "c-201", "2024-06-11 00:00Z"],
        ["r5", "smoke", "ChargeSmoke", "t5", "failed", "fpA", "production", "c-200", "2024-06-01 00:00Z"],
        ["r7", "unit", "RefundTest", "t7", "failed", "fpB", "ci", "c-200", None],
        ["r8", "unit", "RefundTest", "t8", "failed", "fpB", "ci", "c-100", None],
        ["r9", "unit", "OtherTest", "t9", "failed", "fpC", "test", "c-200", "2024-06-01 00:00Z"],
    ],
    "escape_coverage_gaps": [
        ["payments", "2.0", "P-1", None, "src/billing/charge.py", "billing", 0.5, True, "cov-1",
         "2024-06-01 00:00Z", "src/billing/charge.py"],
        ["payments", "2.0", "P-1", None, EVIL_FILE, "billing", None, True, None, None, None],
        ["payments", "2.0", "P-2", None, "src/billing/charge.py", "billing", 0.5, True, "cov-1",
         "2024-06-01 00:00Z", "src/billing/charge.py"],
        ["payments", "2.0", "P-2", None, "src/refunds/api.py", "refunds", 0.9, False, "cov-1",
         "2024-06-01 00:00Z", "refunds/api.py"],
        ["payments", "2.0", "P-3", None, None, None, None, None, None, None, None],
        ["payments", "2.0", "P-old", "I-6", "src/refunds/api.py", "refunds", 0.9, False, "cov-1",
         "2024-06-01 00:00Z", "refunds/api.py"],
        ["search", "2.0", "S-1", None, None, None, None, None, None, None, None],
        ["payments", "1.0", "P-old", None, "src/old.py", "legacy", 0.1, True, "cov-0", "2024-04-01 00:00Z",
         "src/old.py"],
    ],
}


def _build_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_SCHEMA)
        con.execute("insert into marts.build_metadata values (?::timestamptz)", [AS_OF])
        for table, rows in _ROWS.items():
            marks = ", ".join("?" for _ in rows[0])
            con.executemany("insert into marts." + table + " values (" + marks + ")", rows)
    finally:
        con.close()  # the report kernel opens the file from another process
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return _build_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def con(warehouse: Path):
    connection = queries.open_warehouse(warehouse, required=postmortem.TABLES)
    yield connection
    connection.close()


@pytest.fixture
def release_pm(con) -> postmortem.Postmortem:
    return postmortem.load(con, release="2.0", service="payments")


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# ---------------------------------------------------------------- queries


def test_escaped_records_in_detection_order_with_milestone_hours(release_pm) -> None:
    r = release_pm.records
    assert r["record_id"].tolist() == ["I-1", "P-1", "P-3", "P-2", "I-2", "I-6"]
    assert r["record_type"].tolist() == ["incident", "defect", "defect", "defect", "incident", "incident"]
    assert (r["released_at"] == _ts("2024-06-10 12:00")).all()
    assert r["introduced_at"].iloc[0] == _ts("2024-06-11 00:00")  # I-1 came with the canary, dep-2
    assert r["released_to_introduced_hours"].tolist() == [12.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert r["introduced_to_detected_hours"].tolist() == [6.0, 24.0, 42.0, 60.0, 84.0, 108.0]
    assert r["detected_to_resolved_hours"].fillna(-1).tolist() == [3.0, 12.0, 12.0, -1, -1, 12.0]
    assert r["link"].tolist()[:2] == ["https://wiki.example/pm/I-1", "javascript:alert(3)"]


def test_release_rate_is_the_marts_row(release_pm) -> None:
    assert release_pm.rate == postmortem.ReleaseRate(2, 3, 2, 5 / 7)


def test_touched_files_with_coverage_before_the_release(release_pm) -> None:
    f = release_pm.files
    assert f["file"].tolist() == [EVIL_FILE, "src/billing/charge.py", "src/refunds/api.py"]
    assert f["escapes"].tolist() == [1, 2, 2]
    assert f["records"].tolist() == ["P-1", "P-1, P-2", "I-6, P-2"]
    assert f["is_gap"].tolist() == [True, True, False]
    assert f["line_coverage"].fillna(-1).tolist() == [-1, 0.5, 0.9]
    assert f["coverage_report_id"].fillna("-").tolist() == ["-", "cov-1", "cov-1"]
    assert release_pm.gaps["file"].tolist() == [EVIL_FILE, "src/billing/charge.py"]
    # src/old.py belongs to release 1.0
    assert release_pm.unlinked.to_dict("records") == [
        {"record_type": "defect", "record_id": "P-3", "component": "unassigned"}
    ]
    assert release_pm.unnamed == ["P-3"]
    assert release_pm.linkless_incidents == ["I-2"]


def test_regression_targets_rank_gaps_then_escapes(release_pm) -> None:
    t = postmortem.regression_targets(release_pm.files, release_pm.unlinked)
    assert t["target"].tolist() == ["src/billing/charge.py", EVIL_FILE, "src/refunds/api.py", "unassigned"]
    assert t["rank"].tolist() == [1, 2, 3, 4]
    assert t["kind"].tolist() == ["file", "file", "file", "component"]
    assert t["escapes"].tolist() == [2, 1, 2, 1]


def test_regression_target_ties_lowest_coverage_then_name() -> None:
    files = pd.DataFrame(
        {
            "file": ["c.py", "a.py", "b.py", "d.py"],
            "component": ["x", "x", "x", "y"],
            "escapes": [1, 1, 1, 3],
            "line_coverage": [0.3, 0.3, None, 0.95],
            "coverage_report_id": ["r", "r", None, "r"],
            "is_gap": [True, True, True, False],
        }
    )
    unlinked = pd.DataFrame(
        {"record_type": ["defect"] * 4, "record_id": ["D1", "D2", "D3", "D4"], "component": ["Y", "X", "Y", "X"]}
    )
    t = postmortem.regression_targets(files, unlinked)
    # not in a coverage report counts as the lowest coverage; equal coverage goes by name
    assert t["target"].tolist() == ["b.py", "a.py", "c.py", "d.py", "X", "Y"]
    assert t["escapes"].tolist() == [1, 1, 1, 3, 2, 2]


def test_regression_targets_of_nothing_is_empty() -> None:
    empty_files = pd.DataFrame(columns=["file", "component", "escapes", "line_coverage", "coverage_report_id", "is_gap"])
    empty_unlinked = pd.DataFrame(columns=["record_type", "record_id", "component"])
    assert postmortem.regression_targets(empty_files, empty_unlinked).empty


def test_fingerprint_matches_only_pre_release_failures_before_the_release(release_pm) -> None:
    m = release_pm.matches
    assert list(zip(m["defect_id"], m["run_id"].fillna("-"), strict=True)) == [
        ("P-1", "r1"),  # ci, 06-05
        ("P-1", "r2"),  # staging, 06-09
        ("P-2", "r7"),  # no timestamp, on 2.0's commit c-200
        ("P-3", "-"),  # no stack trace
    ]
    v = postmortem.fingerprint_verdicts(m)
    assert v["defect_id"].tolist() == ["P-1", "P-2", "P-3"]
    assert v["failures"].tolist() == [2, 1, 0]
    assert v["first_failed_at"].iloc[0] == _ts("2024-06-05 00:00")
    assert v["tests"].tolist() == ["ChargeTest › t1, ChargeFlow › t2", "RefundTest › t7", ""]


def test_incident_scope_adds_the_incident_to_its_release(con) -> None:
    pm = postmortem.load(con, incident_id="I-3")  # a staging incident: not an escape of 2.0 itself
    assert pm.scope == postmortem.Scope("payments", "2.0", "I-3")
    assert pm.scope.subtitle == "incident I-3 (payments 2.0)"
    assert pm.records["record_id"].tolist() == ["I-3", "I-1", "P-1", "P-3", "P-2", "I-2", "I-6"]
    assert pm.records["introduced_to_detected_hours"].iloc[0] == 0.0  # dep-0 finished 06-09 00:00


def test_unattributed_incident_is_its_own_scope(con) -> None:
    pm = postmortem.load(con, incident_id="I-4")
    assert pm.scope.subtitle == "incident I-4 (payments, no release attributed)"
    assert pm.records["record_id"].tolist() == ["I-4"]
    assert pm.rate is None and pm.files.empty and pm.matches.empty
    assert pm.records["released_at"].isna().all()


# ---------------------------------------------------------------- worst recent release


def test_worst_recent_release_on_the_warehouse(con) -> None:
    # payments 2.0 (5/7) beats search 2.0 (1/2); payments 1.0 is older than 28 days
    assert postmortem.worst_recent_release(con) == ("payments", "2.0")
    assert postmortem.worst_recent_release(con, days=14) == ("search", "2.0")
    assert postmortem.worst_recent_release(con, days=5) is None


def _worst(tmp_path: Path, rows: list[tuple[str, str, str | None, float | None, int]], days: int = 28):
    """worst_recent_release over (service, release, first_production_at, escape_rate, escapes) rows."""
    db = duckdb.connect(str(tmp_path / f"worst-{days}.duckdb"))
    db.execute("SET TimeZone = 'UTC'")
    db.execute(_SCHEMA)
    db.execute("insert into marts.build_metadata values (?::timestamptz)", [AS_OF])
    for service, release, first, rate, escapes in rows:
        db.execute("insert into marts.release_order values (?, ?, ?::timestamptz)", [service, release, first])
        db.execute(
            "insert into marts.release_escape_rate values (?, ?, 1, ?, 0, ?)", [service, release, escapes, rate]
        )
    try:
        return postmortem.worst_recent_release(db, days)
    finally:
        db.close()


def test_worst_recent_release_window_edges(tmp_path: Path) -> None:
    rows = [
        ("s", "at-start", "2024-06-02 00:00Z", 0.9, 1),  # exactly 28 days before the as-of: inside
        ("s", "before", "2024-06-01 23:59:59Z", 1.0, 9),  # one second earlier: outside
        ("s", "at-as-of", "2024-06-30 00:00Z", 0.5, 1),  # at the as-of: inside
        ("s", "never", None, 1.0, 9),  # never in production
    ]
    assert _worst(tmp_path, rows) == ("s", "at-start")
    assert _worst(tmp_path, rows, days=29) == ("s", "before")


def test_worst_recent_release_ties(tmp_path: Path) -> None:
    rows = [
        ("beta", "few", "2024-06-20 00:00Z", 1.0, 1),
        ("beta", "early", "2024-06-10 00:00Z", 1.0, 3),  # more escapes beat 'few'
        ("beta", "late", "2024-06-12 00:00Z", 1.0, 3),  # same escapes, later: beats 'early'
        ("alpha", "late", "2024-06-12 00:00Z", 1.0, 3),  # same instant: service name decides
        ("alpha", "lower", "2024-06-25 00:00Z", 0.99, 50),
    ]
    assert _worst(tmp_path, rows) == ("alpha", "late")


def test_worst_recent_release_none_without_escapes(tmp_path: Path) -> None:
    rows = [("s", "clean", "2024-06-20 00:00Z", 0.0, 0), ("s", "empty", "2024-06-21 00:00Z", None, 0)]
    assert _worst(tmp_path, rows) is None


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "exactly one of --param release=... or --param incident_id=... (got neither)"),
        ({"release": "2.0", "incident_id": "I-1"}, "(got both)"),
        ({"release": "2.0"}, "release '2.0' exists in services payments, search: add --param service=..."),
        ({"release": "2.1"}, "unknown release '2.1': did you mean 2.0"),
        ({"release": "2.0", "service": "paymnts"}, "unknown service 'paymnts': did you mean payments?"),
        ({"release": "3.0", "service": "search"}, "unknown search release '3.0': did you mean 2.0?"),
        ({"incident_id": "I-7"}, "unknown incident 'I-7': did you mean I-6, I-4, I-3, I-2, I-1?"),
        ({"incident_id": "I-1", "service": "payments"}, "an incident names its own"),
        ({"release": "1.0", "as_of": "June"}, "as_of must be YYYY-MM-DD"),
    ],
)
def test_validate_errors(con, given: dict[str, str], message: str) -> None:
    with pytest.raises(catalog.ReportParameterError) as err:
        postmortem.REPORT.validate(con, given)
    assert message in str(err.value)


def test_validate_fills_the_service_and_names_the_file(con) -> None:
    params = catalog.resolve(catalog.find("post-mortem", REPORTS), con, {"release": "1.0"})
    assert params == {"release": "1.0", "incident_id": None, "service": "payments", "as_of": None}
    assert postmortem.REPORT.file_stem(params) == "postmortem_payments_1.0"
    by_incident = postmortem.REPORT.validate(con, {"incident_id": "I-2", "as_of": "2024-06-30"})
    assert by_incident == {"release": None, "incident_id": "I-2", "service": None, "as_of": "2024-06-30"}
    assert postmortem.REPORT.file_stem(by_incident) == "postmortem_I-2"


# ---------------------------------------------------------------- display


def test_summary_cards(release_pm) -> None:
    cards = postmortem.summary_cards(release_pm)
    values = re.findall(r'<div class="value">([^<]*)</div>', cards)
    assert values == ["3", "3", "3", "2", "4"]
    assert "escape rate 71.4%: 5 of 7 found in production" in cards
    assert "2 counted in the escape rate" in cards
    assert "escaped records with no known change: 2" in cards  # P-3 (no commit), I-2 (no link)
    assert "first: src/billing/charge.py" in cards


def test_tables_escape_text_and_link_only_http(release_pm) -> None:
    defects = postmortem.defects_table(release_pm)
    assert EVIL_ESCAPED in defects and "<script>" not in defects
    assert "<td>javascript:alert(3)</td>" in defects and 'href="javascript' not in defects
    incidents = postmortem.incidents_table(release_pm)
    assert '<a href="https://wiki.example/pm/I-1"' in incidents
    assert "<td>javascript:alert(4)</td>" in incidents and 'href="javascript' not in incidents
    files = postmortem.files_table(release_pm)
    assert "src/&lt;script&gt;x.py" in files and "<script>" not in files
    assert "cov-1 (2024-06-01) as refunds/api.py" in files
    assert "No commit names P-3 and I-2 links no defect, so the files their fixes touched are unknown." in files
    gaps = postmortem.gaps_table(release_pm)
    assert gaps.count("<tr>") == 3  # header + two gaps
    assert postmortem.NOT_IN_COVERAGE in gaps
    targets = postmortem.targets_table(release_pm)
    assert (
        '<td class="num">4</td><td>unassigned</td><td>component</td><td>unassigned</td><td class="num">1</td>'
        '<td class="num">n/a</td><td>no file known</td>'
    ) in targets


def test_timeline_table_durations(release_pm) -> None:
    table = postmortem.timeline_table(release_pm)
    assert "<td>I-1 (incident)</td><td>2024-06-10 12:00</td><td>2024-06-11 00:00</td>" in table
    for hours in ("12.0 h", "6.0 h", "3.0 h", "24.0 h", "42.0 h", "60.0 h", "84.0 h", "108.0 h"):
        assert f'<td class="num">{hours}</td>' in table
    assert table.count(postmortem.NOT_RESOLVED) == 4  # P-2 and I-2: milestone and duration


def test_fingerprint_tables(release_pm) -> None:
    html = postmortem.fingerprint_tables(release_pm)
    assert "<td>P-1</td><td>fpA</td><td>Yes</td><td class=\"num\">2</td><td>2024-06-05 00:00 UTC</td>" in html
    assert "<td>P-3</td><td>no stack trace</td><td>unknown</td>" in html
    assert "no timestamp (release commit)" in html  # r7


def test_timeline_chart_rows_and_open_spans(release_pm) -> None:
    fig = postmortem.timeline_chart(release_pm)
    assert list(fig.layout.yaxis.categoryarray) == [
        "I-1 (incident)", "P-1 (defect)", "P-3 (defect)", "P-2 (defect)", "I-2 (incident)", "I-6 (incident)"
    ]
    open_span = next(t for t in fig.data if t.name == "Not resolved at the as-of")
    assert list(open_span.y) == ["P-2 (defect)", "P-2 (defect)", None, "I-2 (incident)", "I-2 (incident)", None]
    assert open_span.x[1] == _ts("2024-06-30 00:00")
    resolved = next(t for t in fig.data if t.name == "Resolved")
    assert len(resolved.x) == 4


def test_incident_note_says_what_the_page_covers(con) -> None:
    staging = postmortem.summary_cards(postmortem.load(con, incident_id="I-3"))
    assert staging.startswith(
        '<p class="note">Incident I-3 (S3, detected 2024-06-09 00:00 UTC, resolved 2024-06-09 01:00 UTC) '
        "is attributed to payments 2.0: the sections below cover every escape of that release.</p>"
    )
    alone = postmortem.summary_cards(postmortem.load(con, incident_id="I-4"))
    assert "could not be attributed to a release: the sections below cover it alone." in alone
    assert not postmortem.summary_cards(postmortem.load(con, release="2.0", service="payments")).startswith("<p")


def test_coverage_section_leaves_out_an_empty_chart(con, release_pm) -> None:
    assert postmortem.coverage_section(release_pm).count('class="plotly-graph-div"') == 1
    nothing_known = postmortem.load(con, release="2.0", service="search")
    assert postmortem.coverage_section(nothing_known) == postmortem.files_table(nothing_known)


def test_coverage_chart_escapes_file_names(release_pm) -> None:
    fig = postmortem.coverage_chart(release_pm)
    bar = fig.data[0]
    # not in a coverage report sorts first (lowest)
    assert list(bar.y) == ["src/&lt;script&gt;x.py", "src/billing/charge.py", "src/refunds/api.py"]
    assert list(bar.text) == [postmortem.NOT_IN_COVERAGE, "50.0%", "90.0%"]
    assert list(bar.marker.color) == ["#d62728", "#d62728", "#7f7f7f"]


def test_empty_sections_say_why(con) -> None:
    pm = postmortem.load(con, release="2.0", service="search")  # S-1: no commit names it, no trace
    assert postmortem.files_table(pm) == (
        '<p class="empty">No commit names S-1, so the files their fixes touched are unknown.</p>'
    )
    assert "No touched file is known" in postmortem.gaps_table(pm)
    assert "No production incident is attributed to search 2.0." in postmortem.incidents_table(pm)
    nothing = postmortem.load(con, incident_id="I-4")
    assert "No defect escaped, only incidents" in postmortem.fingerprint_tables(nothing)
    assert "No defect attributed to incident I-4" in postmortem.defects_table(nothing)


# ---------------------------------------------------------------- rendering


@pytest.mark.slow
def test_render_postmortem(warehouse: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    page_path = render.render_report(
        postmortem.REPORT, {"release": "2.0", "service": "payments"}, warehouse, tmp_path / "reports"
    )
    print(f"rendered post-mortem in {time.perf_counter() - started:.1f} s")
    assert page_path.name == "postmortem_payments_2.0.html"
    page = page_path.read_text(encoding="utf-8")
    assert page.count(get_plotlyjs()) == 1  # embedded once, nothing loaded from the network
    rest = page.replace(get_plotlyjs(), "")
    assert rest.count("Plotly.newPlot") == 2
    assert '<p class="asof">As of <strong>2024-06-30 00:00 UTC</strong> · payments 2.0</p>' in page
    for text in (
        "escape rate 71.4%: 5 of 7 found in production",
        '<div class="value">4</div>',  # regression targets
        '<td class="num">108.0 h</td>',
        "ChargeTest › t1, ChargeFlow › t2",
        "not in coverage report",
        EVIL_ESCAPED,
        "<td>javascript:alert(3)</td>",
    ):
        assert text in page, text
    assert "<script>alert(1)" not in page
    assert 'href="javascript' not in page
    for code in ("import ", "pm.load", "rp.show"):
        assert code not in rest, code


def test_load_needs_a_release_with_its_service(con) -> None:
    with pytest.raises(catalog.ReportParameterError, match="a release with its service, or an incident"):
        postmortem.load(con, release="1.0")
