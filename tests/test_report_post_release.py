"""Tests for the post-release report (pipelines/reporting/post_release.py, notebooks/post_release.ipynb).

The warehouse is built by hand with only the marts the report reads, and numbers
chosen so every expected value can be checked with pencil and paper. As-of:
2024-06-30 00:00 UTC. The reported release is payments 1.10.0.

release_order (payments)      position  first in production    escape rate
  1.7.0                              1  2024-05-01 10:00       0/3 = 0.0%
  1.8.0                              2  2024-05-15 10:00       1/10 = 10.0%
  1.9.0                              3  2024-06-01 10:00       2/4 = 50.0%  RCA required, no link
  1.9.1 (hotfix, no records)         4  2024-06-03 10:00       no row: n/a
  1.10.0                             5  2024-06-23 00:00       2/7 = 28.6%  (as_of - 7 d exactly)
  1.11.0                             6  2024-06-30 00:00       0/0: NULL    (= as_of)
  1.12.0                          NULL  never                  no row
Previous releases of 1.10.0 with a rate: 0.0, 0.1, 0.5 -> mean 20.0%, median 10.0%, n 3.
Other services: checkout 2.0.0 (06-23 00:00:00.000001), accounts 1.0.0 and EVIL's
release (both 06-29 12:00); payments 0.9.0 has an escape-rate row only.

Defects attributed to payments 1.10.0 (as-of 06-30 00:00; age = floor of days):
  id  env         sev  open  dup  ttd            ttr   created
  P1  dev         S2   no    no   2.0            10.0
  P2  test        S3   yes   no   4.0            -     06-20 12:00  age 9 (title EVIL, javascript: url)
  P3  staging     S3   no    no   negative       6.0
  P4  production  S1   yes   no   10.0           -     06-25 06:00  age 4 (https url)
  P5  production  S2   yes   yes  1.0            -     (duplicate: left out everywhere)
  P6  unknown     S4   yes   no   not measurable -     06-23 00:00  age 7
  P7  staging     S3   no    no   6.0            20.0
  P8  test        S3   yes   no   1.0            -     06-28 00:00  age 2
Defects: TTD 2, 4, 1, 6, 10 -> n 5, mean 4.6, median 4.0; TTR 10, 6, 20 -> n 3,
mean 12.0, median 10.0; not measurable 1 (P6; P3's negative TTD is not counted).
Incidents: I1 TTD 0.5 TTR 3; I2 no impact start (not measurable), TTR 5; I3
negative TTD, open -> n_detect 1, mean 0.5; n_resolve 2, mean 4.0; not measurable 1.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest
from plotly.offline import get_plotlyjs

from pipelines.reporting import REPORTS, catalog, fragments, post_release, queries, render
from pipelines.reporting.catalog import ReportParameterError

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVIL_RELEASE = 'r1<img src=x onerror="alert(2)">'
EVIL_RELEASE_ESCAPED = "r1&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
SERVICE, RELEASE = "payments", "1.10.0"

_SCHEMA = """
create schema marts;
create schema history;
create table marts.build_metadata (
    as_of timestamptz, policy_sha256 varchar, escape_rate_rca_threshold double, coverage_gap_threshold double);
create table marts.release_order (
    service varchar, release varchar, first_production_at timestamptz, release_position bigint,
    previous_release varchar);
create table marts.release_escape_rate (
    service varchar, release varchar, pre_release_defects bigint, escaped_defects bigint,
    escaped_incidents bigint, escape_rate double, rca_required boolean, rca_link varchar);
create table marts.fct_defects (
    defect_id varchar, title varchar, severity varchar, status varchar, service varchar,
    environment varchar, attributed_release varchar, created_at timestamptz, url varchar,
    is_duplicate boolean, is_open boolean, ttd_hours double, ttd_negative boolean, ttr_hours double);
create table marts.fct_incidents (
    incident_id varchar, service varchar, environment varchar, attributed_release varchar,
    ttd_hours double, ttd_negative boolean, ttr_hours double);
create table marts.release_gate (
    service varchar, release varchar, environment varchar, verdict varchar,
    fired_rules varchar[], waived_rules varchar[]);
create table marts.release_gate_findings (
    service varchar, release varchar, environment varchar, rule varchar, severity varchar,
    observed double, threshold double, defect_ids varchar[], incident_ids varchar[],
    is_waived boolean, waiver_approver varchar, waiver_reason varchar, waiver_expires_at timestamptz);
create table marts.release_segment_defects (
    service varchar, release varchar, has_canary boolean, canary_started_at timestamptz,
    full_rollout_at timestamptz, canary_hours double, canary_rollbacks bigint, production_defects bigint,
    defects_during_canary bigint, defects_after_full bigint, defects_outside_rollout bigint,
    canary_catch_rate double, defects_segment_canary bigint, defects_segment_blue bigint,
    defects_segment_green bigint, defects_segment_full bigint);
create table marts.rollback_hotfix_events (
    deployment_id varchar, service varchar, release varchar, segment varchar, status varchar,
    finished_at timestamptz, attributed_incidents bigint, rollback_deployment_id varchar,
    hours_to_rollback double, baseline_release varchar, hotfix_deployment_id varchar,
    hotfix_release varchar, hours_to_hotfix double, linked_defects bigint, pre_release_test_cases bigint,
    detection_bypassed boolean);
create table marts.rollback_hotfix_summary (
    service varchar, release varchar, failed_deployments bigint, rolled_back_deployments bigint,
    hotfix_deployments bigint, hotfixed_failures bigint, n_rollback bigint, median_hours_to_rollback double,
    n_hotfix bigint, median_hours_to_hotfix double);
create table history.gate_verdicts (
    as_of timestamptz, built_at timestamptz, service varchar, release varchar, environment varchar,
    verdict varchar, fired_rules varchar[], waived_rules varchar[]);
"""

_ROWS: dict[str, list[list]] = {
    "build_metadata": [["2024-06-30 00:00:00+00", "policy-sha", 0.15, 0.8]],
    "release_order": [
        ["payments", "1.7.0", "2024-05-01 10:00Z", 1, None],
        ["payments", "1.8.0", "2024-05-15 10:00Z", 2, "1.7.0"],
        ["payments", "1.9.0", "2024-06-01 10:00Z", 3, "1.8.0"],
        ["payments", "1.9.1", "2024-06-03 10:00Z", 4, "1.9.0"],
        ["payments", "1.10.0", "2024-06-23 00:00:00Z", 5, "1.9.1"],
        ["payments", "1.11.0", "2024-06-30 00:00:00Z", 6, "1.10.0"],
        ["payments", "1.12.0", None, None, None],
        ["checkout", "2.0.0", "2024-06-23 00:00:00.000001Z", 1, None],
        ["accounts", "1.0.0", "2024-06-29 12:00Z", 1, None],
        [EVIL, EVIL_RELEASE, "2024-06-29 12:00Z", 1, None],
    ],
    "release_escape_rate": [
        ["payments", "0.9.0", 1, 0, 0, 0.0, False, None],
        ["payments", "1.7.0", 3, 0, 0, 0.0, False, None],
        ["payments", "1.8.0", 9, 1, 0, 1 / 10, False, None],
        ["payments", "1.9.0", 2, 1, 1, 2 / 4, True, None],
        ["payments", "1.10.0", 5, 1, 1, 2 / 7, True, None],
        ["payments", "1.11.0", 0, 0, 0, None, None, None],
        ["payments", None, 1, 0, 0, 0.0, False, None],
        ["payments", "ALL", 20, 3, 2, 5 / 25, True, None],
        [EVIL, EVIL_RELEASE, 1, 0, 0, 0.0, False, None],
        ["ALL", "ALL", 21, 3, 2, 5 / 26, True, None],
    ],
    "fct_defects": [
        ["P1", "Login slow", "S2", "closed", "payments", "dev", "1.10.0", "2024-06-19 00:00Z", None, False, False, 2.0, False, 10.0],
        ["P2", EVIL, "S3", "new", "payments", "test", "1.10.0", "2024-06-20 12:00Z", "javascript:alert(3)", False, True, 4.0, False, None],
        ["P3", "Clock skew", "S3", "resolved", "payments", "staging", "1.10.0", "2024-06-21 00:00Z", None, False, False, None, True, 6.0],
        ["P4", "Refunds fail", "S1", "in_progress", "payments", "production", "1.10.0", "2024-06-25 06:00Z", "https://tracker.example.com/P4?a=1&b=2", False, True, 10.0, False, None],
        ["P5", "Refunds fail again", "S2", "new", "payments", "production", "1.10.0", "2024-06-25 07:00Z", None, True, True, 1.0, False, None],
        ["P6", "Odd banner", "S4", "deferred", "payments", "unknown", "1.10.0", "2024-06-23 00:00Z", None, False, True, None, None, None],
        ["P7", "Rounding", "S3", "closed", "payments", "staging", "1.10.0", "2024-06-21 06:00Z", None, False, False, 6.0, False, 20.0],
        ["P8", "Tooltip", "S3", "triaged", "payments", "test", "1.10.0", "2024-06-28 00:00Z", None, False, True, 1.0, False, None],
        ["X1", "Other service", "S1", "new", "checkout", "production", "1.10.0", "2024-06-25 00:00Z", None, False, True, 3.0, False, None],
        ["X2", "Other release", "S2", "new", "payments", "staging", "1.9.0", "2024-06-02 00:00Z", None, False, True, 3.0, False, None],
    ],
    "fct_incidents": [
        ["I1", "payments", "production", "1.10.0", 0.5, False, 3.0],
        ["I2", "payments", "production", "1.10.0", None, None, 5.0],
        ["I3", "payments", "production", "1.10.0", None, True, None],
        ["I4", "payments", "production", "1.9.0", 9.0, False, 9.0],
    ],
    "release_gate": [
        ["payments", "1.10.0", "production", "HOLD",
         ["BLOCKING_SEVERITY_OPEN", "PREVIOUS_ESCAPE_RCA_MISSING"], ["PREVIOUS_ESCAPE_RCA_MISSING"]],
        ["payments", "1.10.0", "staging", "HOLD",
         ["OPEN_TOLERANCE_EXCEEDED", "PREVIOUS_ESCAPE_RCA_MISSING"], ["PREVIOUS_ESCAPE_RCA_MISSING"]],
        [EVIL, EVIL_RELEASE, "production", "PASS", [], []],
    ],
    "release_gate_findings": [
        ["payments", "1.10.0", "production", "BLOCKING_SEVERITY_OPEN", None, 1, 0, ["P4"], [], False, None, None, None],
        ["payments", "1.10.0", "production", "PREVIOUS_ESCAPE_RCA_MISSING", None, 0.5, 0.15, [], [], True,
         "person-abc", EVIL, "2024-07-15 00:00Z"],
        ["payments", "1.10.0", "staging", "PREVIOUS_ESCAPE_RCA_MISSING", None, 0.5, 0.15, [], [], True,
         "person-abc", EVIL, "2024-07-15 00:00Z"],
        ["payments", "1.10.0", "staging", "OPEN_TOLERANCE_EXCEEDED", "S3", 2, 1, ["P2", "P8"], [], False,
         "person-def", "old waiver", "2024-06-01 00:00Z"],
    ],
    "release_segment_defects": [
        ["payments", "1.10.0", True, "2024-06-22 18:00Z", "2024-06-23 00:00Z", 6.0, 1, 1, 0, 1, 0, 0.0, 0, 0, 1, 0],
        [EVIL, EVIL_RELEASE, False, None, "2024-06-29 12:00Z", None, 0, 0, 0, 0, 0, None, 0, 0, 0, 0],
    ],
    "rollback_hotfix_events": [
        ["dep-10", "payments", "1.10.0", "canary", "rolled_back", "2024-06-22 18:00Z", 1, "dep-11", 1.5,
         "1.10.0", None, None, None, 1, 0, None],
        ["dep-12", "payments", "1.10.0", "full", "succeeded", "2024-06-23 00:00Z", 1, None, None,
         "1.10.0", "dep-13", "1.10.1", 30.0, 2, 5, True],
        ["dep-09", "payments", "1.9.0", "full", "succeeded", "2024-06-01 10:00Z", 1, None, None,
         "1.9.0", None, None, None, 1, 0, None],
    ],
    "rollback_hotfix_summary": [
        ["payments", "1.10.0", 2, 1, 1, 1, 1, 1.5, 1, 30.0],
        [EVIL, EVIL_RELEASE, 0, 0, 0, 0, 0, None, 0, None],
    ],
}

# Two builds: the first (as of 06-23) evaluated production only.
_HISTORY = [
    ["2024-06-23 23:59:59.999999Z", "2024-06-24 01:00Z", "payments", "1.10.0", "production", "HOLD"],
    ["2024-06-30 00:00Z", "2024-06-30 01:00Z", "payments", "1.10.0", "staging", "HOLD"],
    ["2024-06-30 00:00Z", "2024-06-30 01:00Z", "payments", "1.10.0", "production", "HOLD"],
    ["2024-06-30 00:00Z", "2024-06-30 01:00Z", "payments", "1.9.0", "production", "PASS"],
]


def _build_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_SCHEMA)
        for table, rows in _ROWS.items():
            # Table names from the fixed keys above; values bound.
            con.executemany("insert into marts." + table + " values (" + ", ".join("?" * len(rows[0])) + ")", rows)
        con.executemany("insert into history.gate_verdicts values (?, ?, ?, ?, ?, ?, [], [])", _HISTORY)
    finally:
        # The kernel opens the file from another process: our writer must be gone.
        con.close()
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return _build_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def con(warehouse: Path):
    connection = queries.open_warehouse(warehouse, required=post_release.TABLES)
    yield connection
    connection.close()


# ---------------------------------------------------------------- parameters


def test_registered_under_both_names() -> None:
    assert catalog.find("post_release", REPORTS) is post_release.REPORT
    assert catalog.find("post-release", REPORTS) is post_release.REPORT


def test_validate_returns_typed_parameters(con) -> None:
    assert post_release.REPORT.validate(con, {"service": "payments", "release": "1.10.0"}) == {
        "service": "payments", "release": "1.10.0", "as_of": None
    }
    # A release only the escape-rate mart knows is still a release of the service.
    assert post_release.REPORT.validate(con, {"service": "payments", "release": "0.9.0", "as_of": "2024-06-30"})[
        "as_of"
    ] == "2024-06-30"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"service": "paymnts", "release": "1.10.0"}, "unknown service 'paymnts': did you mean payments, accounts?"),
        ({"service": "zzz", "release": "1"}, f"unknown service 'zzz': valid: {EVIL}, accounts, checkout, payments"),
        (
            {"service": "payments", "release": "1.10"},
            "unknown release of payments '1.10': did you mean 1.12.0, 1.11.0, 1.10.0, 1.9.1, 1.9.0?",
        ),
        # checkout's release is not one of payments'.
        ({"service": "payments", "release": "2.0.0"}, "unknown release of payments '2.0.0': did you mean 1.10.0, 0.9.0, 1.12.0?"),
        ({"service": "payments", "release": "1.10.0", "as_of": "last week"}, "as_of must be YYYY-MM-DD"),
    ],
)
def test_validate_rejects_with_near_matches(con, given: dict[str, str], message: str) -> None:
    with pytest.raises(ReportParameterError) as info:
        post_release.REPORT.validate(con, given)
    assert str(info.value).startswith(message)


def test_both_parameters_are_required(con) -> None:
    with pytest.raises(ReportParameterError, match=r"missing release \(--param service=\.\.\. --param release=\.\.\.\)"):
        catalog.resolve(post_release.REPORT, con, {"service": "payments"})


def test_file_stem_is_safe_for_hostile_names() -> None:
    report = post_release.REPORT
    assert report.file_stem({"service": "payments", "release": "1.10.0"}) == "post_release_payments_1.10.0"
    stem = render.safe_stem(report.file_stem({"service": EVIL, "release": "../" + EVIL_RELEASE}))
    assert re.fullmatch(r"post_release_[A-Za-z0-9._-]+-[0-9a-f]{8}", stem)


def test_recent_releases_window_edges(con) -> None:
    # 1.10.0 reached production exactly 7 days before the as-of (excluded), checkout
    # 2.0.0 a microsecond later and 1.11.0 at the as-of itself (both included); the
    # two releases of 06-29 12:00 are ordered by service ('<' sorts before 'a').
    assert post_release.recent_releases(con) == [
        ("checkout", "2.0.0"),
        (EVIL, EVIL_RELEASE),
        ("accounts", "1.0.0"),
        ("payments", "1.11.0"),
    ]
    assert post_release.recent_releases(con, days=1) == [(EVIL, EVIL_RELEASE), ("accounts", "1.0.0"), ("payments", "1.11.0")]
    assert post_release.recent_releases(con, days=8)[0] == ("payments", "1.10.0")
    # Worst first: 1.9.0 and 1.10.0 escaped 1 defect + 1 incident each (oldest first between them),
    # then the releases without an escape (1.9.1 and checkout have no escape-rate row) by date.
    assert post_release.recent_releases(con, days=30, worst_first=True) == [
        ("payments", "1.9.0"), ("payments", "1.10.0"), ("payments", "1.9.1"), ("checkout", "2.0.0"),
        (EVIL, EVIL_RELEASE), ("accounts", "1.0.0"), ("payments", "1.11.0"),
    ]
    with pytest.raises(ValueError, match="at least 1"):
        post_release.recent_releases(con, days=0)


# ---------------------------------------------------------------- the release and its summary


def test_release_info(con) -> None:
    rel = post_release.release_info(con, SERVICE, RELEASE)
    assert (rel.release_position, rel.previous_release, rel.next_release) == (5, "1.9.1", "1.11.0")
    assert str(rel.first_production_at) == "2024-06-23 00:00:00+00:00"
    assert (rel.pre_release_defects, rel.escaped_defects, rel.escaped_incidents, rel.escaped) == (5, 1, 1, 2)
    assert rel.escape_rate == pytest.approx(2 / 7)
    assert (rel.rca_required, rel.rca_link) == (True, None)
    # Never in production, no escape-rate row: no neighbours, zero counts, no rate.
    unplaced = post_release.release_info(con, SERVICE, "1.12.0")
    assert (unplaced.release_position, unplaced.next_release, unplaced.escape_rate, unplaced.escaped) == (None, None, None, 0)


def test_summary_cards(con) -> None:
    history = post_release.escape_rate_history(con, SERVICE, RELEASE)
    cards = post_release.summary_cards(
        post_release.release_info(con, SERVICE, RELEASE),
        post_release.previous_rates(history),
        post_release.gate_verdicts(con, SERVICE, RELEASE),
        post_release.detection_resolution(con, SERVICE, RELEASE),
        post_release.open_items(con, SERVICE, RELEASE),
    )
    assert [(c.label, c.value, c.detail) for c in cards] == [
        ("Escape rate", "28.6%", "previous releases: mean 20.0%, median 10.0% (n=3) · RCA required, no RCA link"),
        ("Found before / after release", "5 / 2", "pre-release: 5 defect(s); escaped: 1 defect(s), 1 incident(s)"),
        (
            "Gate verdict, production",
            "HOLD",
            "fired: BLOCKING_SEVERITY_OPEN, PREVIOUS_ESCAPE_RCA_MISSING · waived: PREVIOUS_ESCAPE_RCA_MISSING",
        ),
        ("Mean time to detect", "4.6 h", "defects in all environments, n=5 · incidents 0.5 h (n=1)"),
        ("Mean time to resolve", "12.0 h", "defects in all environments, n=3 · incidents 4.0 h (n=2)"),
        ("Open defects", "4", "S1 1 · S2 0 · S3 2 · S4 1 · next release: 1.11.0"),
    ]


def test_cards_and_header_escape_exported_names(con) -> None:
    rel = post_release.release_info(con, EVIL, EVIL_RELEASE)
    header = post_release.header_html(queries.build_info(con), rel, None)
    assert EVIL not in header and EVIL_ESCAPED in header and EVIL_RELEASE_ESCAPED in header
    html = fragments.cards_html([fragments.Card(EVIL, EVIL_RELEASE, EVIL)])
    assert "<script>" not in html and "<img" not in html
    assert html.count(EVIL_ESCAPED) == 2 and EVIL_RELEASE_ESCAPED in html
    # A release that is not a gate key for production says so rather than inventing a verdict.
    no_gate = post_release.summary_cards(
        post_release.release_info(con, SERVICE, "1.12.0"),
        post_release.RateComparison(None, None, 0),
        post_release.gate_verdicts(con, SERVICE, "1.12.0"),
        post_release.detection_resolution(con, SERVICE, "1.12.0"),
        post_release.open_items(con, SERVICE, "1.12.0"),
    )
    assert [(c.value, c.detail) for c in no_gate[2:4]] == [
        ("not evaluated", "not a gate release (no gate key for production)"),
        ("n/a", "defects in all environments, n=0 · incidents n/a (n=0)"),
    ]


# ---------------------------------------------------------------- found before / after release


def test_found_by_environment_and_severity(con) -> None:
    found = post_release.found_by_environment(con, SERVICE, RELEASE)
    table = post_release.found_table(found)
    # P5 is a duplicate; X1 (other service) and X2 (other release) are not this release's.
    assert table.to_dict("list") == {
        "Environment": ["dev", "ci", "test", "staging", "production", "unknown"],
        "Found": ["before release"] * 4 + ["after release (escaped)", "not counted (no known environment)"],
        "S1": ["0", "0", "0", "0", "1", "0"],
        "S2": ["1", "0", "0", "0", "0", "0"],
        "S3": ["0", "0", "2", "2", "0", "0"],
        "S4": ["0", "0", "0", "0", "0", "1"],
        "Total": ["1", "0", "2", "2", "1", "1"],
    }
    fig = post_release.found_chart(found)
    assert [t.name for t in fig.data] == ["S1", "S2", "S3", "S4"]
    assert list(fig.data[2].x) == ["dev", "ci", "test", "staging", "production", "unknown"]
    assert list(fig.data[2].y) == [0, 0, 2, 2, 0, 0]
    assert fig.layout.yaxis.dtick == 1


def test_found_without_defects_keeps_every_environment(con) -> None:
    found = post_release.found_by_environment(con, SERVICE, "1.12.0")
    assert post_release.found_table(found)["Environment"].tolist() == ["dev", "ci", "test", "staging", "production"]
    assert found["defects"].sum() == 0
    assert post_release.found_chart(found).layout.annotations[0].text == "No defect is attributed to this release."


# ---------------------------------------------------------------- escape rate vs previous releases


def test_escape_rate_history_and_comparison(con) -> None:
    history = post_release.escape_rate_history(con, SERVICE, RELEASE)
    assert history["release"].tolist() == ["1.7.0", "1.8.0", "1.9.0", "1.9.1", "1.10.0"]
    assert history["is_current"].tolist() == [False, False, False, False, True]
    # 1.9.1 has no escape-rate row: no rate, not a zero; it is left out of the comparison.
    assert history["escape_rate"].isna().tolist() == [False, False, False, True, False]
    comparison = post_release.previous_rates(history)
    assert (comparison.mean, comparison.median, comparison.n) == (pytest.approx(0.2), pytest.approx(0.1), 3)
    # A release the order cannot place has no previous releases.
    alone = post_release.escape_rate_history(con, SERVICE, "1.12.0")
    assert alone["release"].tolist() == ["1.12.0"]
    assert post_release.previous_rates(alone) == post_release.RateComparison(None, None, 0)


def test_rca_threshold_is_the_policys(con) -> None:
    assert post_release.rca_threshold(con) == pytest.approx(0.15)


def test_escape_rate_history_chart(con, monkeypatch: pytest.MonkeyPatch) -> None:
    history = post_release.escape_rate_history(con, SERVICE, RELEASE)
    fig = post_release.escape_rate_history_chart(history, post_release.previous_rates(history), 0.15)
    bars = fig.data[0]
    assert list(bars.x) == ["1.7.0", "1.8.0", "1.9.0", "1.9.1", "1.10.0"]
    assert list(bars.y) == [0.0, pytest.approx(0.1), 0.5, None, pytest.approx(2 / 7)]
    assert list(bars.text) == ["0.0%", "10.0%", "50.0%", "", "28.6%"]
    assert list(bars.marker.color) == ["#b8c2cc"] * 4 + ["#1f77b4"]  # this release highlighted
    assert [c == "#d62728" for c in bars.marker.line.color] == [False, False, True, False, True]  # RCA required
    assert [t.name for t in fig.data[1:]] == ["mean of 3 previous releases: 20.0%", "RCA threshold: 15.0%"]
    assert [s.y0 for s in fig.layout.shapes] == [pytest.approx(0.2), 0.15]
    # A long history draws the last HISTORY_RELEASES before the release, and says so.
    monkeypatch.setattr(post_release, "HISTORY_RELEASES", 2)
    short = post_release.escape_rate_history_chart(history, post_release.previous_rates(history), None)
    assert list(short.data[0].x) == ["1.9.0", "1.9.1", "1.10.0"]
    assert short.layout.title.subtitle.text.endswith("; 2 earlier releases not drawn")
    assert len(short.data) == 2  # no threshold known: no threshold line


def test_escape_rate_chart_escapes_release_names(con) -> None:
    history = post_release.escape_rate_history(con, EVIL, EVIL_RELEASE)
    fig = post_release.escape_rate_history_chart(history, post_release.previous_rates(history), None)
    assert list(fig.data[0].x) == [EVIL_RELEASE_ESCAPED.replace("&quot;", '"')]
    assert "<img" not in fig.to_json()


# ---------------------------------------------------------------- rollout, rollbacks


def test_segment_catches(con) -> None:
    segments = post_release.segment_catches(con, SERVICE, RELEASE)
    table = post_release.segment_table(segments)
    assert dict(zip(table["Figure"], table["Value"])) == {
        "Canary started": "2024-06-22 18:00 UTC",
        "Full rollout": "2024-06-23 00:00 UTC",
        "Canary ran alone": "6.0 h",
        "Canary deployments rolled back": "1",
        "Production defects": "1",
        "… created during the canary phase": "0",
        "… created after full rollout": "1",
        "… created outside any rollout": "0",
        "Canary catch rate": "0.0%",
        "Reported in segment canary / blue / green / full": "0 / 0 / 1 / 0",
    }
    assert "No canary" not in post_release.segment_html(segments)
    no_canary = post_release.segment_html(post_release.segment_catches(con, EVIL, EVIL_RELEASE))
    assert no_canary.startswith('<p class="note">No canary deployment for this release')
    assert post_release.segment_html(post_release.segment_catches(con, "checkout", "2.0.0")) == (
        '<p class="empty">This release never served in production and no production defect is attributed to it.</p>'
    )


def test_rollbacks_and_hotfixes(con) -> None:
    events = post_release.rollback_events(con, SERVICE, RELEASE)
    table = post_release.rollback_table(events)
    assert table.to_dict("records") == [
        {
            "Deployment": "dep-10", "Release": "1.10.0", "Segment": "canary", "Status": "rolled_back",
            "Finished": "2024-06-22 18:00 UTC", "Incidents": "1", "Rolled back by": "dep-11",
            "Hours to rollback": "1.5 h", "Hotfix": "none", "Hours to hotfix": "n/a", "Linked defects": "1",
            "A test had shown it": "no test results",
        },
        {
            "Deployment": "dep-12", "Release": "1.10.0", "Segment": "full", "Status": "succeeded",
            "Finished": "2024-06-23 00:00 UTC", "Incidents": "1", "Rolled back by": "not rolled back",
            "Hours to rollback": "n/a", "Hotfix": "1.10.1 (dep-13)", "Hours to hotfix": "30.0 h",
            "Linked defects": "2", "A test had shown it": "Yes",
        },
    ]
    html = post_release.rollback_html(post_release.rollback_summary(con, SERVICE, RELEASE), events)
    assert html.startswith(
        '<p class="note">2 failed production deployment(s) of this release, 1 rolled back (median 1.5 h to roll '
        "back, n=1); 1 hotfix deployment(s) on it, 1 failure(s) followed by one (median 30.0 h to the hotfix, "
        'n=1).</p><table class="report-table">'
    )
    quiet = post_release.rollback_html(
        post_release.rollback_summary(con, EVIL, EVIL_RELEASE), post_release.rollback_events(con, EVIL, EVIL_RELEASE)
    )
    assert quiet == '<p class="empty">No failed production deployment and no hotfix for this release.</p>'
    never = post_release.rollback_html(None, post_release.rollback_events(con, "checkout", "2.0.0"))
    assert never == '<p class="empty">This release never served in production: there is nothing to roll back.</p>'


# ---------------------------------------------------------------- gate


def test_gate_verdicts_and_findings(con) -> None:
    verdicts = post_release.gate_verdict_table(post_release.gate_verdicts(con, SERVICE, RELEASE))
    assert verdicts.to_dict("list") == {
        "Target environment": ["staging", "production"],
        "Verdict": ["HOLD", "HOLD"],
        "Rules fired": [
            "OPEN_TOLERANCE_EXCEEDED, PREVIOUS_ESCAPE_RCA_MISSING",
            "BLOCKING_SEVERITY_OPEN, PREVIOUS_ESCAPE_RCA_MISSING",
        ],
        "Rules waived": ["PREVIOUS_ESCAPE_RCA_MISSING"] * 2,
    }
    findings = post_release.gate_findings_table(post_release.gate_findings(con, SERVICE, RELEASE))
    active = f"person-abc (expires 2024-07-15 00:00 UTC): {EVIL}"
    assert findings[["Target environment", "Rule", "Severity", "Observed", "Threshold", "Records", "Waived", "Waiver"]
                    ].values.tolist() == [
        ["staging", "OPEN_TOLERANCE_EXCEEDED", "S3", "2", "1", "P2, P8", "expired",
         "person-def (expires 2024-06-01 00:00 UTC): old waiver"],
        ["staging", "PREVIOUS_ESCAPE_RCA_MISSING", "", "50.0%", "15.0%", "", "Yes", active],
        ["production", "BLOCKING_SEVERITY_OPEN", "", "1", "0", "P4", "No", ""],
        ["production", "PREVIOUS_ESCAPE_RCA_MISSING", "", "50.0%", "15.0%", "", "Yes", active],
    ]
    assert findings.loc[2, "What it means"] == "open defect(s) of a blocking severity"
    html = fragments.html_table(findings)
    assert EVIL not in html and EVIL_ESCAPED in html


def test_gate_history_one_row_per_build(con) -> None:
    history = post_release.gate_history(con, SERVICE, RELEASE)
    assert post_release.gate_history_table(history).to_dict("list") == {
        "As of": ["2024-06-23 23:59 UTC", "2024-06-30 00:00 UTC"],
        "Built at": ["2024-06-24 01:00 UTC", "2024-06-30 01:00 UTC"],
        "staging": ["not evaluated", "HOLD"],
        "production": ["HOLD", "HOLD"],
    }
    none_yet = post_release.gate_history(con, SERVICE, "1.12.0")
    assert none_yet is not None and none_yet.empty
    assert post_release.gate_history_empty(none_yet).startswith("No build recorded a gate verdict")


def test_gate_history_absent_in_old_warehouses(warehouse: Path) -> None:
    writer = duckdb.connect(str(warehouse))
    writer.execute("drop schema history cascade")
    writer.close()
    con = queries.open_warehouse(warehouse, required=post_release.TABLES)
    try:
        history = post_release.gate_history(con, SERVICE, RELEASE)
    finally:
        con.close()
    assert history is None
    assert post_release.gate_history_table(history).empty
    assert post_release.gate_history_empty(history).startswith("This warehouse keeps no verdict history")


# ---------------------------------------------------------------- time to detect / resolve


def test_detection_resolution_mirrors_the_mart_rules(con) -> None:
    dr = post_release.detection_resolution(con, SERVICE, RELEASE)
    table = post_release.detection_resolution_table(dr)
    assert table.values.tolist() == [
        # record, environment, n, mean TTD, median TTD, n, mean TTR, median TTR, not measurable
        ["Defect", "dev", "1", "2.0 h", "2.0 h", "1", "10.0 h", "10.0 h", "0"],
        ["Defect", "test", "2", "2.5 h", "2.5 h", "0", "n/a", "n/a", "0"],
        # P3's negative TTD is left out and not counted as not measurable.
        ["Defect", "staging", "1", "6.0 h", "6.0 h", "2", "13.0 h", "13.0 h", "0"],
        ["Defect", "production", "1", "10.0 h", "10.0 h", "0", "n/a", "n/a", "0"],  # P5, a duplicate, left out
        ["Defect", "unknown", "0", "n/a", "n/a", "0", "n/a", "n/a", "1"],
        ["Defect", "all environments", "5", "4.6 h", "4.0 h", "3", "12.0 h", "10.0 h", "1"],
        ["Incident", "production", "1", "0.5 h", "0.5 h", "2", "4.0 h", "4.0 h", "1"],
        ["Incident", "all environments", "1", "0.5 h", "0.5 h", "2", "4.0 h", "4.0 h", "1"],
    ]
    assert dr.loc[5, "mttd_hours"] == 4.6  # exact mean, as the mart's decimal average gives


# ---------------------------------------------------------------- open items


def test_open_items_most_severe_then_oldest(con) -> None:
    items = post_release.open_items(con, SERVICE, RELEASE)
    table = post_release.open_items_table(items)
    assert table[["Defect", "Severity", "Status", "Found in", "Age (days)"]].values.tolist() == [
        ["P4", "S1", "in_progress", "production", "4"],
        ["P2", "S3", "new", "test", "9"],
        ["P8", "S3", "triaged", "test", "2"],
        ["P6", "S4", "deferred", "unknown", "7"],  # created exactly 7 days before the as-of
    ]
    html = fragments.html_table(table, link_columns={"Link"})
    assert EVIL not in html and EVIL_ESCAPED in html
    assert '<a href="javascript' not in html and "<td>javascript:alert(3)</td>" in html
    assert '<a href="https://tracker.example.com/P4?a=1&amp;b=2"' in html
    rel = post_release.release_info(con, SERVICE, RELEASE)
    assert post_release.carry_over_note(rel, items) == (
        '<p class="note">4 open defect(s) carried into the service&#x27;s next release, 1.11.0.</p>'
    )
    last = post_release.release_info(con, SERVICE, "1.11.0")
    assert "none is planned or in production yet" in post_release.carry_over_note(last, items.iloc[:0])


# ---------------------------------------------------------------- rendering


def _outside_bundle(page: str) -> str:
    bundle = get_plotlyjs()
    assert page.count(bundle) == 1, "plotly.js must be embedded exactly once"
    return page.replace(bundle, "")


@pytest.mark.slow
def test_render_post_release_report(warehouse: Path, tmp_path: Path, capfd) -> None:
    started = time.perf_counter()
    page_path = render.render_report(
        post_release.REPORT, {"service": SERVICE, "release": RELEASE}, warehouse, tmp_path / "reports"
    )
    print(f"rendered post-release report in {time.perf_counter() - started:.1f} s")
    assert "without encryption" not in capfd.readouterr().err
    assert page_path == (tmp_path / "reports").resolve() / "2024-06-30" / "post_release_payments_1.10.0.html"
    page = page_path.read_text(encoding="utf-8")
    rest = _outside_bundle(page)

    assert rest.count("Plotly.newPlot") == 2  # found by environment, escape rate history
    assert re.findall(r'class="plotly-graph-div" id="(chart-\d+)"', rest) == ["chart-1", "chart-2"]
    for code in ("import ", "rp.show", "open_warehouse", "con.close"):
        assert code not in rest, code

    # Hostile strings (a defect title, a waiver reason) only escaped; javascript: is text.
    assert "<script>alert(1)" not in page and EVIL_ESCAPED in page
    assert '<a href="javascript' not in page

    assert "Post-release report: payments 1.10.0" in page
    assert "first in production 2024-06-23 · previous release 1.9.1 · next release 1.11.0" in page
    for text in (
        "28.6%",
        "previous releases: mean 20.0%, median 10.0% (n=3) · RCA required, no RCA link",
        "5 / 2",
        "fired: BLOCKING_SEVERITY_OPEN, PREVIOUS_ESCAPE_RCA_MISSING · waived: PREVIOUS_ESCAPE_RCA_MISSING",
        "defects in all environments, n=5 · incidents 0.5 h (n=1)",
        "S1 1 · S2 0 · S3 2 · S4 1 · next release: 1.11.0",
        "<td>not counted (no known environment)</td>",
        "2 failed production deployment(s) of this release",
        "person-def (expires 2024-06-01 00:00 UTC): old waiver",
        "<td>2024-06-24 01:00 UTC</td><td>not evaluated</td><td>HOLD</td>",
        '<td class="num">4.6 h</td><td class="num">4.0 h</td>',
        "4 open defect(s) carried into the service's next release, 1.11.0.",  # nbconvert unescapes '
        '"name":"mean of 3 previous releases: 20.0%"',
    ):
        assert text in page, text
    assert "Requested as-of" not in page
    assert page_path.stat().st_size < 6_000_000
