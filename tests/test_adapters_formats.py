"""JaCoCo XML, Go cover profiles, Opsgenie incidents and Bugzilla bugs: real files from public
projects' test data, plus a few records written here for what those files lack.

The real files are not in this repository (third-party files stay out of its
commits): they live beside the samples (conftest.FORMAT_SAMPLES),
`format_samples/<format>/` (origins and licences in each NOTICE.md),
or where DEFECTFLOW_FORMAT_SAMPLES points; without them those tests skip,
saying so.

Each fixture folder is loaded once through the real ingest (adapter, then the
row checks in DuckDB). Expected numbers were counted in the files by hand; each
expectation says how.
"""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from pipelines.defs.ingest.adapters import bugzilla, go_cover, jacoco, opsgenie
from pipelines.defs.ingest.adapters.base import ParseContext
from pipelines.defs.ingest.detect import ADAPTERS
from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.warehouse import connect
from tests.conftest import FORMAT_SAMPLES, SAMPLES

FIXTURES = FORMAT_SAMPLES
AS_OF = datetime(2026, 3, 31, tzinfo=UTC)


@contextmanager
def _loaded(tmp_path_factory, *folders: str):
    """Each fixture folder loaded into a warehouse of its own: folder -> connection."""
    missing = [folder for folder in folders if not (FIXTURES / folder).is_dir()]
    if missing:
        pytest.skip(f"the real files are not at {FIXTURES} ({', '.join(missing)})")
    with ExitStack() as stack:
        cons = {}
        for folder in folders:
            cons[folder] = stack.enter_context(connect(tmp_path_factory.mktemp(folder) / "w.duckdb"))
            load_exports(cons[folder], FIXTURES / folder, load_policy(), AS_OF)
        yield cons


def _report(con, folder: str, name: str) -> list[tuple]:
    return con.execute(
        "select entity, format, rows_read, rows_loaded, rows_quarantined, message from raw.load_report "
        "where source_file = ? order by entity", [str(FIXTURES / folder / name)]).fetchall()


def _coverage(con, folder: str, name: str) -> dict[str, tuple]:
    rows = con.execute(
        "select file, lines_valid, lines_covered, branches_valid, branches_covered, "
        "timezone('UTC', reported_at) from raw.coverage where source_file = ? order by file",
        [str(FIXTURES / folder / name)]).fetchall()
    return {file: rest for file, *rest in ((r[0], *r[1:]) for r in rows)}


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    with _loaded(tmp_path_factory, "jacoco", "go_cover", "opsgenie", "bugzilla") as cons:
        yield cons


def test_jacoco_counts_come_from_each_sourcefiles_counters(formats):
    con = formats["jacoco"]
    # jacoco1.xml: <sourcefile> InnerClassCoverage.java has LINE missed=2 covered=9 (11 <line>s, 9 with ci>0),
    # SimpleCoverage.java LINE missed=2 covered=2; neither has a BRANCH counter. <sessioninfo dump=1440276756482>.
    dumped = datetime(2015, 8, 22, 20, 52, 36, 482000)
    assert _coverage(con, "jacoco", "jacoco1.xml") == {
        "org/eluder/coverage/sample/InnerClassCoverage.java": [11, 9, 0, 0, dumped],
        "org/eluder/coverage/sample/SimpleCoverage.java": [4, 2, 0, 0, dumped],
    }
    # jacoco2.xml: PartialCoverage.java LINE missed=1 covered=4, BRANCH missed=1 covered=1, dump=1408569688965
    assert _coverage(con, "jacoco", "jacoco2.xml") == {
        "org/eluder/coverage/sample/PartialCoverage.java": [5, 4, 2, 1, datetime(2014, 8, 20, 21, 21, 28, 965000)],
    }
    assert _report(con, "jacoco", "jacoco1.xml") == [("coverage", "jacoco xml", 2, 2, 0, "")]


def test_go_cover_profile_lines_merge_over_blocks(formats):
    con = formats["go_cover"]
    # coverage.out (mode: set): main.go:45-49 count 1, 46-50 count 0, 58-58 count 1 ->
    # lines 45..50 and 58 = 7 lines, all but 50 covered; the same 7/6 as the gcov2lcov
    # project's own expected LCOV (testdata/coverage_expected.lcov: LF:7 LH:6).
    assert _coverage(con, "go_cover", "coverage.out") == {
        "github.com/jandelgado/gcov2lcov/main.go": [7, 6, None, None, None],
    }
    assert _report(con, "go_cover", "coverage.out") == [("coverage", "go cover profile", 1, 1, 0, "")]


def test_go_cover_skips_damaged_lines_with_a_note(tmp_path):
    text = "mode: count\nacme/a.go:1.1,3.2 2 5\nacme/a.go:4.1,9999999.2 1 1\nnot a block\n"
    parsed = go_cover.parse(text, _ctx(tmp_path))
    assert [(r["file"], r["lines_valid"], r["lines_covered"]) for r in parsed.tables["coverage"]] == [
        ("acme/a.go", "3", "3")]
    assert parsed.notes == ["2 lines are not coverage blocks and were skipped (first: line 3)"]


def _ctx(tmp_path: Path, source: str = "coverage") -> ParseContext:
    policy = load_policy()
    return ParseContext(path=tmp_path / "file", policy=policy, mapping=policy.source(source),
                        content_sha256="0" * 64)


def test_opsgenie_incidents(formats):
    con = formats["opsgenie"]
    rows = con.execute(
        "select incident_id, title, severity, environment, timezone('UTC', detected_at), "
        "timezone('UTC', impact_started_at), resolved_at, timezone('UTC', source_updated_at) "
        "from raw.incidents order by incident_id").fetchall()
    # incident-c.json: createdAt/impactStartDate 2023-09-26T17:06:16.824Z, updatedAt 17:49:10.17Z; it is
    # "open", so its impactEndDate is no resolution. incident-b.json: createdAt 2023-09-20T13:33:00.941Z.
    # Neither has an env tag or extraProperties: environment stays empty in raw (default applied in staging).
    assert rows == [
        ("aaaaaaaa-bbbb-cccc-dddd-eeeeeeee0041", "Example Token Incident", "P3", None,
         datetime(2023, 9, 26, 17, 6, 16, 824000), datetime(2023, 9, 26, 17, 6, 16, 824000), None,
         datetime(2023, 9, 26, 17, 49, 10, 170000)),
        ("aaaaaaaa-bbbb-cccc-dddd-eeeeeeee0042", "My Incident", "P3", None,
         datetime(2023, 9, 20, 13, 33, 0, 941000), datetime(2023, 9, 20, 13, 33, 0, 941000), None,
         datetime(2023, 9, 26, 17, 48, 54, 480000)),
    ]
    assert _report(con, "opsgenie", "incident-c.json") == [("incidents", "opsgenie incidents json", 1, 1, 0, "")]


def test_opsgenie_list_response_maps_tags_and_extra_properties(tmp_path):
    page = {"data": [{"id": "i-1", "tinyId": "7", "message": "Checkout down", "status": "resolved",
                      "priority": "P1", "tags": ["env:staging", "service:checkout"],
                      "extraProperties": {"deployment_id": "d-9"}, "createdAt": "2024-05-01T10:00:00Z",
                      "impactStartDate": "2024-05-01T09:55:00Z", "impactEndDate": "2024-05-01T11:00:00Z",
                      "impactedServices": []}], "took": 0.1, "requestId": "r"}
    assert opsgenie.matches(page)
    (row,) = opsgenie.parse(page, _ctx(tmp_path, "opsgenie")).tables["incidents"]
    assert (row["service"], row["environment"], row["severity"], row["deployment_id"], row["resolved_at"]) == (
        "checkout", "staging", "P1", "d-9", "2024-05-01T11:00:00Z")


def test_bugzilla_bugs_and_history(formats):
    con = formats["bugzilla"]
    # bugzilla_rest_bugs.json: 2 bugs, bugzilla_rest_bugs_next.json: 1 (jq '.bugs[] | [.id, .product, .component]');
    # the history page's 2 bugs change cc, flags and groups, never status; no bug has dupe_of.
    defects = con.execute(
        "select defect_id, service, component, severity, status, resolution, found_in_release, fixed_in_release, "
        "timezone('UTC', created_at) from raw.defects order by defect_id").fetchall()
    assert defects == [
        ("BZ-1273439", "Connected Devices", "Project Sensor Web", "normal", "NEW", None, "unspecified", None,
         datetime(2016, 5, 17, 9, 42, 4)),
        ("BZ-1273442", "Connected Devices", "Project Sensor Web", "normal", "NEW", None, "unspecified", None,
         datetime(2016, 5, 17, 9, 44, 44)),
        ("BZ-947945", "MailNews Core", "Backend", "critical", "NEW", None, "25", None,
         datetime(2013, 12, 9, 16, 5, 51)),
    ]
    counts = con.execute("select (select count(*) from raw.defect_status_history), "
                         "(select count(*) from raw.defect_links), (select count(*) from raw.quarantine)").fetchone()
    assert counts == (0, 0, 0)


def test_bugzilla_status_history_and_duplicates(tmp_path):
    # shaped as Bugzilla's REST documentation shows a bug and its /rest/bug/{id}/history
    page = {"bugs": [{"id": 35, "summary": "Crash on save", "status": "RESOLVED", "resolution": "DUPLICATE",
                      "dupe_of": 12, "creation_time": "2024-01-02T03:04:05Z", "product": "Editor",
                      "target_milestone": "---", "priority": "--", "severity": "major",
                      "history": [{"when": "2024-01-03T00:00:00Z", "who": "a@example.com", "changes": [
                          {"field_name": "status", "removed": "NEW", "added": "RESOLVED"},
                          {"field_name": "resolution", "removed": "", "added": "DUPLICATE"}]}]}]}
    parsed = bugzilla.parse(page, _ctx(tmp_path, "bugzilla")).tables
    (defect,) = parsed["defects"]
    assert (defect["defect_id"], defect["duplicate_of"], defect["fixed_in_release"], defect["severity"]) == (
        "BZ-35", "BZ-12", None, "major")
    assert parsed["defect_links"] == [{"defect_id": "BZ-35", "linked_defect_id": "BZ-12", "link_type": "duplicates"}]
    assert parsed["defect_status_history"] == [{"defect_id": "BZ-35", "changed_at": "2024-01-03T00:00:00Z",
                                                "from_status": "NEW", "to_status": "RESOLVED",
                                                "actor": "a@example.com"}]


NEW = {"jacoco": jacoco, "go_cover": go_cover, "opsgenie": opsgenie, "bugzilla": bugzilla}


def _document(path: Path, kind: str):
    if kind == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if kind == "xml":
        return SafeET.parse(str(path), forbid_dtd=False).getroot()
    return path.read_text(encoding="utf-8")


def _claimed_by(path: Path) -> set[str]:
    """Every adapter whose matcher claims the file (not only the first one tried)."""
    suffix = path.suffix.lower()
    kind = {".json": "json", ".xml": "xml"}.get(suffix, "text")
    try:
        doc = _document(path, kind)
    except (ValueError, SafeET.ParseError):
        return set()  # not a document of its kind: no adapter of that kind is asked
    return {adapter.NAME for adapter in ADAPTERS if kind == adapter.KIND and adapter.matches(doc)}


def test_new_matchers_claim_no_existing_sample():
    samples = [p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix.lower() in (".json", ".xml", ".lcov", ".csv")]
    assert len(samples) > 20
    new_names = {module.NAME for module in NEW.values()}
    claimed = {str(p.relative_to(SAMPLES)): _claimed_by(p) & new_names for p in samples}
    assert {name: found for name, found in claimed.items() if found} == {}


@pytest.mark.parametrize("folder", sorted(NEW))
def test_each_new_fixture_is_claimed_by_its_adapter_alone(folder):
    if not (FIXTURES / folder).is_dir():
        pytest.skip(f"the real files are not at {FIXTURES / folder}")
    files = [p for p in (FIXTURES / folder).iterdir() if p.name != "NOTICE.md"]
    assert files and {p.name: _claimed_by(p) for p in files} == {p.name: {NEW[folder].NAME} for p in files}


def test_jacoco_sourcefile_counters_without_the_real_files(tmp_path):
    report = SafeET.fromstring(
        '<report name="m"><sessioninfo id="a" start="1" dump="1700000000000"/>'
        '<group name="g"><package name="org/acme"><sourcefile name="Cart.java">'
        '<counter type="INSTRUCTION" missed="9" covered="1"/><counter type="LINE" missed="3" covered="7"/>'
        '<counter type="BRANCH" missed="1" covered="3"/></sourcefile><sourcefile name="Empty.java"/>'
        '</package></group></report>')
    assert jacoco.matches(report)
    rows = jacoco.parse(report, _ctx(tmp_path)).tables["coverage"]
    assert [(r["file"], r["lines_valid"], r["lines_covered"], r["branches_valid"], r["branches_covered"],
             r["reported_at"], r.get("_reason")) for r in rows] == [
        ("org/acme/Cart.java", "10", "7", "4", "3", "2023-11-14T22:13:20+00:00", None),
        ("org/acme/Empty.java", "0", "0", None, None, "2023-11-14T22:13:20+00:00",
         "no LINE counter for this source file"),
    ]
