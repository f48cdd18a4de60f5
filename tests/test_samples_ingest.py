"""The real sample exports (../shared/samples, README there), loaded once, checked file by file.

Expected counts come from the samples' README and the files themselves (see
the comments); `test_expected_counts_follow_from_the_files` re-derives the
less obvious ones with the standard library so a wrong number here is caught.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.defs.ingest.assets import invariant_failures
from pipelines.defs.ingest.loader import load_exports
from pipelines.defs.ingest.manifest import policy_fingerprint
from pipelines.policy import SHIPPED_POLICY, load_policy
from pipelines.warehouse import connect
from tests.conftest import SAMPLES

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
PR = "junit/publish-unit-test-result-action/"

# file -> [(entity, format, rows_read, rows_loaded, rows_quarantined, naive_timestamps)] for loaded files
LOADED = {
    # 33 issues; 165 of the 714 changelog items change `status`; no issuelinks
    "jira/jira_search_changelog.json": [
        ("defect_links", "jira json", 0, 0, 0, 0),
        ("defect_status_history", "jira json", 165, 165, 0, 0),
        ("defects", "jira json", 33, 33, 0, 0),
    ],
    # 22 issues, 16 issuelinks, 18 changelog items none of which is a status change
    "jira/jira_issue_links.json": [
        ("defect_links", "jira json", 16, 16, 0, 0),
        ("defect_status_history", "jira json", 0, 0, 0, 0),
        ("defects", "jira json", 22, 22, 0, 0),
    ],
    # 2,503 rows; dates without zone: 2,503 Created + 1,733 Resolved = 4,236 naive timestamps
    "jira/hadoop_bugs.csv": [("defects", "jira csv", 2503, 2503, 0, 4236)],
    # 126 rows, one cell holds two ids: 127 pairs
    "jira/hadoop_duplicates.csv": [("defect_links", "duplicate links csv", 127, 127, 0, 0)],
    # 41 objects, 15 of them pull requests (skipped, not read as defects)
    "github/issues.json": [("defects", "github issues json", 26, 26, 0, 0)],
    "pagerduty/incidents.json": [("incidents", "pagerduty incidents json", 3, 3, 0, 0)],
    # 8 deployments: success, failed, canceled load; created/running/blocked are not finished and
    # completed/undeployed are statuses the policy does not list -> 5 quarantined
    "deployments/gitlab_deployments.json": [("deployments", "gitlab deployments json", 8, 3, 5, 0)],
    # JUnit: one row per test case; a suite `timestamp` without offset makes every case's time naive
    f"{PR}no-attributes.xml": [("test_cases", "junit xml", 4, 4, 0, 0)],
    f"{PR}testsuite-in-testsuite.xml": [("test_cases", "junit xml", 5, 5, 0, 0)],
    f"{PR}pytest/junit.fail.xml": [("test_cases", "junit xml", 5, 5, 0, 5)],
    f"{PR}pytest/junit.gloo.elastic.xml": [("test_cases", "junit xml", 14, 14, 0, 14)],
    f"{PR}pytest/junit.gloo.standalone.xml": [("test_cases", "junit xml", 97, 97, 0, 97)],
    "junit/test-reporter/python-xunit-pytest.xml": [("test_cases", "junit xml", 10, 10, 0, 0)],
    # coverage: one row per source file (cobertura.xml has 5 classes in 4 files)
    "coverage/cobertura.xml": [("coverage", "cobertura xml", 4, 4, 0, 0)],
    "coverage/coverage.xml": [("coverage", "cobertura xml", 1, 1, 0, 0)],
    "coverage/coverage_py.json": [("coverage", "coverage.py json", 3, 3, 0, 3)],  # meta.timestamp has no offset
    "coverage/real_python_coverage.lcov": [("coverage", "lcov", 2, 2, 0, 0)],
}

SKIPPED = ["NOTICE.md", "README.md", "junit/test-reporter/python-xunit-pytest.md"]
RESULTS = ["no-attributes", "testsuite-in-testsuite", "pytest/junit.fail", "pytest/junit.gloo.elastic",
           "pytest/junit.gloo.standalone"]
# file -> (format, message prefix)
REJECTED = {
    **{f"{PR}{stem}.results": ("unknown", "unknown format: not JSON, XML, LCOV or CSV") for stem in RESULTS},
    **{f"{PR}{stem}.results.json": ("json", "unknown JSON format (an object with keys annotations")
       for stem in RESULTS},
    f"{PR}pytest/corrupt-xml.exception": ("csv", "unknown CSV: the header"),
    f"{PR}pytest/corrupt-xml.xml": ("xml", "invalid XML at line 11"),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The whole samples folder loaded once: (summary, connection)."""
    path = tmp_path_factory.mktemp("samples") / "w.duckdb"
    with connect(path) as con:
        summary = load_exports(con, SAMPLES, load_policy(), AS_OF,
                               policy_sha=policy_fingerprint(SHIPPED_POLICY.read_text(encoding="utf-8")))
        yield summary, con


def _reports(con, relative: str) -> list[tuple]:
    return con.execute(
        "select entity, format, status, rows_read, rows_loaded, rows_quarantined, naive_timestamps, message "
        "from raw.load_report where source_file = ? order by entity",
        [str(SAMPLES / relative)],
    ).fetchall()


def test_every_sample_file_is_reported_once_per_entity(samples):
    summary, _con = samples
    on_disk = sorted(str(p) for p in SAMPLES.rglob("*") if p.is_file())
    assert sorted(summary.reread) == on_disk
    assert sorted({f.source_file for f in summary.files}) == on_disk
    expected = {*LOADED, *SKIPPED, *REJECTED}
    assert {str(Path(p).relative_to(SAMPLES)) for p in on_disk} == expected


@pytest.mark.parametrize("relative", sorted(LOADED))
def test_loaded_sample(samples, relative):
    _, con = samples
    reports = _reports(con, relative)
    assert [(e, fmt, read, loaded, quarantined, naive) for e, fmt, status, read, loaded, quarantined, naive, _
            in reports] == LOADED[relative]
    assert {status for _, _, status, *_ in reports} == {"loaded"}
    # the raw tables hold exactly the loaded rows, the quarantine exactly the others
    for entity, _, _, loaded, quarantined, _ in LOADED[relative]:
        count_sql = "select count(*) from raw." + entity + " where source_file = ?"  # identifier: LOADED's entity
        assert con.execute(count_sql, [str(SAMPLES / relative)]).fetchone()[0] == loaded
        assert con.execute("select count(*) from raw.quarantine where source_file = ? and entity = ?",
                           [str(SAMPLES / relative), entity]).fetchone()[0] == quarantined


@pytest.mark.parametrize("relative", SKIPPED)
def test_documentation_is_skipped(samples, relative):
    _, con = samples
    assert _reports(con, relative) == [
        (None, "documentation", "skipped", 0, 0, 0, 0, "documentation, not an export")]


@pytest.mark.parametrize("relative", sorted(REJECTED))
def test_not_an_export_is_rejected(samples, relative):
    _, con = samples
    [(entity, fmt, status, read, loaded, quarantined, naive, message)] = _reports(con, relative)
    expected_format, prefix = REJECTED[relative]
    assert (entity, fmt, status, read, loaded, quarantined, naive) == (None, expected_format, "rejected", 0, 0, 0, 0)
    assert message.startswith(prefix), message


def test_corrupt_xml_names_the_truncation(samples):
    _, con = samples
    [report] = _reports(con, f"{PR}pytest/corrupt-xml.xml")
    assert "invalid XML" in report[-1] and "truncated or not XML" in report[-1]


def test_gitlab_quarantine_reasons(samples):
    _, con = samples
    source = str(SAMPLES / "deployments" / "gitlab_deployments.json")
    rows = con.execute(
        "select row_number, reason, raw_record->>'deployment_id' from raw.quarantine where source_file = ? "
        "order by row_number", [source]).fetchall()
    assert [(n, deployment, reason.split(" (")[0]) for n, reason, deployment in rows] == [
        (2, "13432654", "unknown deployment status 'completed'"),
        (5, "13436763", "deployment is created, not finished"),
        (6, "13436778", "deployment is running, not finished"),
        (7, "13436986", "deployment is blocked, not finished"),
        (8, "13436915", "unknown deployment status 'undeployed'"),
    ]
    assert con.execute("select deployment_id from raw.deployments where source_file = ? order by source_row",
                       [source]).fetchall() == [("13426753",), ("13432768",), ("13436532",)]


@pytest.mark.parametrize("relative, statuses", [
    (f"{PR}no-attributes.xml", {"passed": 1, "failed": 1, "error": 1, "skipped": 1}),
    (f"{PR}testsuite-in-testsuite.xml", {"passed": 5}),
    (f"{PR}pytest/junit.fail.xml", {"passed": 3, "failed": 1, "skipped": 1}),
    (f"{PR}pytest/junit.gloo.elastic.xml", {"passed": 10, "skipped": 4}),
    (f"{PR}pytest/junit.gloo.standalone.xml", {"passed": 80, "skipped": 17}),
    ("junit/test-reporter/python-xunit-pytest.xml", {"passed": 6, "failed": 2, "skipped": 2}),  # xfail = skip
])
def test_junit_statuses_match_the_readme(samples, relative, statuses):
    _, con = samples
    rows = con.execute("select status, count(*) from raw.test_cases where source_file = ? group by 1",
                       [str(SAMPLES / relative)]).fetchall()
    assert dict(rows) == statuses


@pytest.mark.parametrize("relative, lines_valid, lines_covered, branches_valid", [
    ("coverage/cobertura.xml", 34, 31, 12),
    ("coverage/coverage.xml", 10, 5, 0),
    ("coverage/coverage_py.json", 25, 24, 8),
    ("coverage/real_python_coverage.lcov", 45, 45, 0),
])
def test_coverage_totals_match_the_readme(samples, relative, lines_valid, lines_covered, branches_valid):
    _, con = samples
    totals = con.execute(
        "select sum(lines_valid), sum(lines_covered), coalesce(sum(branches_valid), 0) from raw.coverage "
        "where source_file = ?", [str(SAMPLES / relative)]).fetchone()
    assert totals == (lines_valid, lines_covered, branches_valid)


def test_invariant_holds_and_nothing_else_is_quarantined(samples):
    summary, con = samples
    assert invariant_failures(con) == []
    assert con.execute("select distinct source_file from raw.quarantine").fetchall() == [
        (str(SAMPLES / "deployments" / "gitlab_deployments.json"),)]
    assert summary.rows_quarantined == 5
    assert len(summary.rejected_files) == len(REJECTED)


def test_expected_counts_follow_from_the_files():
    """Re-derive the less obvious expectations above straight from the sample files."""
    changelog = json.loads((SAMPLES / "jira" / "jira_search_changelog.json").read_text(encoding="utf-8"))
    items = [item for issue in changelog["issues"] for history in issue["changelog"]["histories"]
             for item in history["items"]]
    assert (len(changelog["issues"]), len(items)) == (33, 714)
    assert sum(item.get("field") == "status" for item in items) == 165

    links = json.loads((SAMPLES / "jira" / "jira_issue_links.json").read_text(encoding="utf-8"))
    assert len(links["issues"]) == 22
    assert sum(len(issue["fields"].get("issuelinks", [])) for issue in links["issues"]) == 16
    assert not any(item.get("field") == "status" for issue in links["issues"]
                   for history in issue.get("changelog", {}).get("histories", []) for item in history["items"])

    with (SAMPLES / "jira" / "hadoop_bugs.csv").open(encoding="utf-8", newline="") as handle:
        bugs = list(csv.DictReader(handle))
    assert len(bugs) == 2503
    assert sum(bool(r["Created"].strip()) for r in bugs) + sum(bool(r["Resolved"].strip()) for r in bugs) == 4236

    with (SAMPLES / "jira" / "hadoop_duplicates.csv").open(encoding="utf-8", newline="") as handle:
        pairs = list(csv.reader(handle))[1:]
    assert (len(pairs), sum(len(row[1].split(",")) for row in pairs)) == (126, 127)

    issues = json.loads((SAMPLES / "github" / "issues.json").read_text(encoding="utf-8"))
    assert (len(issues), sum("pull_request" in i for i in issues)) == (41, 15)

    deployments = json.loads((SAMPLES / "deployments" / "gitlab_deployments.json").read_text(encoding="utf-8"))
    assert [d["status"] for d in deployments] == [
        "success", "completed", "failed", "canceled", "created", "running", "blocked", "undeployed"]

    classes = ET.parse(SAMPLES / "coverage" / "cobertura.xml").getroot().iter("class")
    assert sorted({c.get("filename") for c in classes}) == [
        "Main.java", "search/BinarySearch.java", "search/ISortedArraySearch.java", "search/LinearSearch.java"]
    coverage_py = json.loads((SAMPLES / "coverage" / "coverage_py.json").read_text(encoding="utf-8"))
    assert len(coverage_py["files"]) == 3 and "+" not in coverage_py["meta"]["timestamp"]

    for stem, cases in [("pytest/junit.fail", 5), ("pytest/junit.gloo.elastic", 14),
                        ("pytest/junit.gloo.standalone", 97)]:
        root = ET.parse(SAMPLES / f"{PR}{stem}.xml").getroot()
        assert len(list(root.iter("testcase"))) == cases
        stamps = [s.get("timestamp") for s in root.iter("testsuite") if s.get("timestamp")]
        assert stamps and not any(s.endswith("Z") or "+" in s or s[-6] == "-" for s in stamps)
