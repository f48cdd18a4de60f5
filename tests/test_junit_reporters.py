"""JUnit as each reporter writes it: real files from public projects' test data.

They are not in this repository (third-party files stay out of its commits):
they live beside the samples (conftest.FORMAT_SAMPLES),
`format_samples/junit_reporters/` (origins and licences in its
NOTICE.md), or where DEFECTFLOW_FORMAT_SAMPLES points; without them these
tests skip, saying so.

The folder is loaded once through the real ingest (adapter, then the row
checks in DuckDB), so a timestamp the checks reject would show up as
quarantined rows. Expected numbers were counted in the files:
`grep -c '<testcase' FILE` for the cases, the suites' `timestamp=` read by eye
and converted by hand (RFC 1123 and "UTC" suffixes are UTC; a value without an
offset is wall time in the policy's zone, UTC in the shipped policy).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.warehouse import connect
from tests.conftest import FORMAT_SAMPLES

FIXTURES = FORMAT_SAMPLES / "junit_reporters"
AS_OF = datetime(2026, 3, 31, tzinfo=UTC)

# file -> (test cases, distinct executed_at loaded, naive timestamps among the loaded rows)
EXPECTED = {
    # mocha-junit-reporter: one suite, tests="109", timestamp="Sat, 03 Dec 2022 23:10:07 GMT"
    "mocha-latex-utensils.xml": (109, {datetime(2022, 12, 3, 23, 10, 7, tzinfo=UTC)}, 0),
    # jest-junit: 6 cases in 2 suites, both timestamp="2020-10-27T21:39:41" (no zone)
    "jest-junit.xml": (6, {datetime(2020, 10, 27, 21, 39, 41, tzinfo=UTC)}, 6),
    # pytest 8: 10 cases, timestamp="2025-11-15T11:51:49.548396-05:00" -> 16:51:49.548396 UTC
    "pytest.xml": (10, {datetime(2025, 11, 15, 16, 51, 49, 548396, tzinfo=UTC)}, 0),
    # TestNG's JUnitReportReporter (a Maven build): 2 cases, timestamp="2021-03-07T10:36:56 UTC"
    "testng-pulsar.xml": (2, {datetime(2021, 3, 7, 10, 36, 56, tzinfo=UTC)}, 0),
    # .NET JUnit logger: 52 cases, timestamp="2021-04-04T16:42:06" (no zone)
    "dotnet-junit-logger.xml": (52, {datetime(2021, 4, 4, 16, 42, 6, tzinfo=UTC)}, 52),
    # gotestsum golden file: 60 <testcase> (its summary says 59), every suite timestamp is
    # Go's zero time "0001-01-01T00:00:00Z": no date, so the cases load undated
    "gotestsum.xml": (60, {None}, 0),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    if not FIXTURES.is_dir():
        pytest.skip(f"the real reporter files are not at {FIXTURES}")
    with connect(tmp_path_factory.mktemp("reporters") / "w.duckdb") as con:
        load_exports(con, FIXTURES, load_policy(), AS_OF)
        yield con


def _report(con, name: str) -> tuple:
    return con.execute(
        "select rows_read, rows_loaded, rows_quarantined, naive_timestamps, message from raw.load_report "
        "where source_file = ? and entity = 'test_cases'", [str(FIXTURES / name)]).fetchone()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_case_loads_with_its_suite_timestamp(loaded, name):
    cases, executed_at, naive = EXPECTED[name]
    read, kept, quarantined, naive_found, _ = _report(loaded, name)
    assert (read, kept, quarantined, naive_found) == (cases, cases, 0, naive)
    found = loaded.execute(
        "select distinct timezone('UTC', executed_at) from raw.test_cases where source_file = ?",
        [str(FIXTURES / name)]).fetchall()
    assert {None if value is None else value.replace(tzinfo=UTC) for (value,) in found} == executed_at


def test_an_unreadable_suite_timestamp_is_a_note_not_a_quarantine(loaded):
    message = _report(loaded, "gotestsum.xml")[4]
    assert "suite timestamp '0001-01-01T00:00:00Z' is not a date and time of 1990-2100" in message
    assert "60 test cases kept without executed_at" in message
    assert loaded.execute("select count(*) from raw.quarantine").fetchone() == (0,)


def test_suite_timestamps_without_the_real_files(tmp_path):
    """The same rules on files written here, so they hold where the real files are absent."""
    exports = tmp_path / "exports"
    exports.mkdir()
    case = '<testcase classname="c" name="{0}" time="0.1"/>'
    (exports / "mocha.xml").write_text(
        '<testsuites><testsuite name="Mocha Tests" tests="2" timestamp="Sat, 03 Dec 2022 23:10:07 GMT">'
        + case.format("a") + case.format("b") + "</testsuite></testsuites>", encoding="utf-8")
    (exports / "odd.xml").write_text(
        '<testsuite name="odd" tests="1" timestamp="yesterday">' + case.format("c") + "</testsuite>",
        encoding="utf-8")
    with connect(tmp_path / "w.duckdb") as con:
        load_exports(con, exports, load_policy(), AS_OF)
        rows = con.execute("select name, timezone('UTC', executed_at) from raw.test_cases order by name").fetchall()
        note = con.execute("select message from raw.load_report where source_file = ?",
                           [str(exports / "odd.xml")]).fetchone()[0]
        quarantined = con.execute("select count(*) from raw.quarantine").fetchone()[0]
    stamp = datetime(2022, 12, 3, 23, 10, 7)
    assert rows == [("a", stamp), ("b", stamp), ("c", None)] and quarantined == 0
    assert note == ("suite timestamp 'yesterday' is not a date and time of 1990-2100 in a form JUnit reporters "
                    "write: 1 test cases kept without executed_at")
