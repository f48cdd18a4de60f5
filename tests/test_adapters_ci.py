"""Unit tests: JUnit XML, Cobertura, LCOV and coverage.py adapters, and the CI writer.

Expected values were worked out by reading the files: the real samples in
../shared/samples (README.md there; the `.results.json` beside a JUnit file
holds its expected counts) and the hand-written fixtures in fixtures/junit.
The writer is checked by determinism and by a round trip through the adapters.
"""

import hashlib
import json
from collections import Counter
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pandas as pd
import pytest

from pipelines.defs.ingest.adapters import cobertura, coverage_py, junit, lcov
from pipelines.defs.ingest.adapters.base import ParseContext
from pipelines.policy import load_policy
from pipelines.synthetic.formats import ci
from tests.conftest import SAMPLES

ROOT = Path(__file__).resolve().parent.parent
JUNIT = SAMPLES / "junit"
COVERAGE = SAMPLES / "coverage"
FIXTURES = ROOT / "tests" / "fixtures" / "junit"
STATUSES = ("passed", "failed", "error", "skipped")


def _ctx(module, path: Path) -> ParseContext:
    policy = load_policy()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return ParseContext(path=path, policy=policy, mapping=policy.source(module.SOURCE), content_sha256=sha)


def _xml(module, path: Path):
    return module.parse(SafeET.parse(str(path)).getroot(), _ctx(module, path))


def _cases(path: Path) -> list[dict]:
    return _xml(junit, path).tables["test_cases"]


def _counts(rows: list[dict]) -> dict[str, int]:
    found = Counter(row["status"] for row in rows)
    return {"total": len(rows), **{status: found[status] for status in STATUSES}}


def _by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def _coverage(rows: list[dict]) -> dict[str, tuple]:
    """file -> (lines_valid, lines_covered, branches_valid, branches_covered)."""
    keys = ("lines_valid", "lines_covered", "branches_valid", "branches_covered")
    return {row["file"]: tuple(None if row[k] is None else int(row[k]) for k in keys) for row in rows}


# --------------------------------------------------------------------------- JUnit: real samples


def _with_expectations() -> list[Path]:
    return sorted(p for p in JUNIT.rglob("*.xml") if p.with_suffix(".results.json").exists())


def test_every_junit_sample_is_covered_by_a_test():
    named = {"python-xunit-pytest.xml", "corrupt-xml.xml"}
    assert {p.name for p in JUNIT.rglob("*.xml")} == {p.name for p in _with_expectations()} | named
    assert len(_with_expectations()) == 5


@pytest.mark.parametrize("path", _with_expectations(), ids=lambda p: p.name)
def test_junit_counts_match_the_expected_results(path):
    stats = json.loads(path.with_suffix(".results.json").read_text(encoding="utf-8"))["stats"]
    expected = {"total": stats["tests"], "passed": stats["tests_succ"], "failed": stats["tests_fail"],
                "error": stats["tests_error"], "skipped": stats["tests_skip"]}
    assert _counts(_cases(path)) == expected


def test_junit_rows_are_numbered_in_file_order_under_one_run_id():
    path = JUNIT / "publish-unit-test-result-action" / "pytest" / "junit.fail.xml"
    rows = _cases(path)
    assert [row["case_index"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert {row["run_id"] for row in rows} == {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
    assert [row["name"] for row in rows] == [
        "test_check_shape_compatibility", "test_get_available_devices", "test_get_col_info", "test_rsh_events",
        "test_rsh_with_non_zero_exit_code",
    ]
    failed = rows[3]
    assert failed["status"] == "failed" and failed["classname"] == "test.test_spark.SparkTests"
    assert failed["duration_s"] == "7.541" and failed["suite"] == "pytest"
    # The message attribute spans lines; XML folds its newlines into spaces.
    assert failed["message"].startswith("self = <test_spark.SparkTests testMethod=test_rsh_events>")
    assert failed["message"].endswith("E   AssertionError: 143 != 0")
    assert failed["stack_trace"].endswith("E AssertionError: 143 != 0")
    assert rows[1]["message"] == "get_available_devices only supported in Spark 3.0 and above"
    assert rows[1]["stack_trace"] is None  # only failures and errors carry a trace
    assert {row["executed_at"] for row in rows} == {"2020-09-04T16:18:04.966371"}  # naive, kept naive


def test_nested_suites_are_joined_outermost_first():
    rows = _by_name(_cases(JUNIT / "publish-unit-test-result-action" / "testsuite-in-testsuite.xml"))
    assert rows["TestCase1"]["suite"] == "Project Test Suite / TestSuite1"
    assert rows["TestCase3"]["suite"] == "Project Test Suite / TestSuite2 / TestSuite2.1"
    assert rows["TestCase4"]["suite"] == "Project Test Suite / TestSuite2"
    assert rows["TestCase5"]["suite"] == "Project Test Suite"
    assert rows["TestCase1"]["duration_s"] == "1.321590"
    assert rows["TestCase3"]["executed_at"] is None


def test_cases_without_attributes_are_still_rows():
    rows = _cases(JUNIT / "publish-unit-test-result-action" / "no-attributes.xml")
    assert [row["status"] for row in rows] == ["passed", "skipped", "failed", "error"]
    assert {row["name"] for row in rows} == {None}  # the loader quarantines them: name is required
    assert {row["suite"] for row in rows} == {None} and {row["duration_s"] for row in rows} == {None}


def test_pytest_counts_come_from_the_cases_not_the_summary():
    parsed = _xml(junit, JUNIT / "test-reporter" / "python-xunit-pytest.xml")
    rows = parsed.tables["test_cases"]
    assert _counts(rows) == {"total": 10, "passed": 6, "failed": 2, "error": 0, "skipped": 2}
    assert parsed.notes == ["the file's summary says 15 tests; 10 test cases listed (counted from the cases)"]
    by = _by_name(rows)
    assert by["test_expected_failure"]["status"] == "skipped"  # xfail
    assert by["test_expected_failure"]["message"] is None  # message="" and no text
    assert by["test_always_skip"]["message"] == "skipped"
    assert by["test_always_fail"]["message"] == "assert False"
    assert by["test_always_fail"]["stack_trace"].startswith("def test_always_fail():")
    assert by["test_always_fail"]["stack_trace"].endswith("tests/test_lib.py:25: AssertionError")
    assert by["test_error"]["status"] == "failed" and by["test_error"]["message"] == "Exception: error"
    assert json.loads(by["test_with_record_property"]["properties"]) == {
        "custom_prop": "custom_val", "example_key": "1"}
    assert json.loads(by["test_always_pass"]["properties"]) == {"custom_prop": "custom_val"}
    assert by["test_with_record_xml_attribute"]["classname"] == "custom_classname"
    assert by["test_always_pass"]["executed_at"] == "2025-11-15T11:51:49.548396-05:00"
    assert by["test_always_pass"]["environment"] is None and by["test_always_pass"]["commit_sha"] is None


def test_a_truncated_junit_file_does_not_parse():
    path = JUNIT / "publish-unit-test-result-action" / "pytest" / "corrupt-xml.xml"
    with pytest.raises(SafeET.ParseError, match=r"no element found: line 11") as err:
        SafeET.parse(str(path))
    assert err.value.position[0] == 11


# --------------------------------------------------------------------------- JUnit: hand-written fixtures


def test_surefire_flaky_reruns_pass_and_grouped_times_parse():
    parsed = _xml(junit, FIXTURES / "surefire-flaky.xml")
    rows = parsed.tables["test_cases"]
    assert [row["status"] for row in rows] == ["passed", "failed", "passed", "passed", "error", "skipped", "failed"]
    assert _counts(rows) == {"total": 7, "passed": 3, "failed": 2, "error": 1, "skipped": 1}
    assert parsed.notes == []  # tests="7" is right
    by = _by_name(rows)
    assert by["syncsInventoryFromWarehouse"]["duration_s"] == "1234.567"  # written "1,234.567"
    assert by["appliesCouponOnce"]["message"] is None and by["appliesCouponOnce"]["stack_trace"] is None
    assert by["rejectsNegativeQuantity"]["message"] == "expected: <400> but was: <200>"
    trace = by["rejectsNegativeQuantity"]["stack_trace"]
    assert trace.startswith("org.opentest4j.AssertionFailedError: expected: <400> but was: <200>")
    assert "CartServiceTest.java:58" in trace and "sku=A-100" not in trace  # system-out is not the trace
    assert by["retriesPaymentOnTimeout"]["message"] == "payment was not retried"
    assert by["calculatesTaxForEuAddress"]["message"] == (
        'Cannot invoke "com.example.checkout.TaxRate.percent()" because "rate" is null')
    assert by["usesLegacyPricing"]["message"] == "Disabled until PRICING-88 ships"
    assert by["usesLegacyPricing"]["duration_s"] == "0"
    for row in rows:
        assert row["suite"] == "com.example.checkout.CartServiceTest"
        assert row["commit_sha"] == "4be1f0c2d7a9e3b5f6c8d0e2a4b6c8d0e1f2a3b4"  # GIT_COMMIT
        assert row["environment"] == "staging"  # env
        assert row["executed_at"] is None  # Surefire writes no timestamp
    assert json.loads(rows[0]["properties"])["java.version"] == "17.0.10"


def test_testng_gmt_timestamp_becomes_utc():
    rows = _cases(FIXTURES / "testng-junitreports.xml")
    assert _counts(rows) == {"total": 5, "passed": 3, "failed": 1, "error": 0, "skipped": 1}
    by = _by_name(rows)
    assert by["countsTermsInBooleanQuery"]["message"] == "expected [3] but found [2]"
    assert by["countsTermsInBooleanQuery"]["stack_trace"].startswith(
        "java.lang.AssertionError: expected [3] but found [2]\n\tat org.testng.Assert.fail")
    assert by["rankingUsesParsedTerms"]["message"] is None and by["rankingUsesParsedTerms"]["duration_s"] == "0.0"
    assert {row["executed_at"] for row in rows} == {"2026-03-02T09:14:03+00:00"}
    assert {row["suite"] for row in rows} == {"com.example.search.QueryParserTest"}


def test_jest_failures_take_their_message_from_the_text():
    rows = _cases(FIXTURES / "jest-junit.xml")
    assert [row["status"] for row in rows] == ["passed", "passed", "failed", "passed", "skipped", "error"]
    assert [row["suite"] for row in rows] == ["src/cart/cart.test.ts"] * 3 + ["src/checkout/price.test.ts"] * 2 + [
        "src/legacy/legacy.test.ts"]
    assert rows[2]["message"] == "Error: expect(received).toBe(expected) // Object.is equality"
    assert "cart.test.ts:41:28" in rows[2]["stack_trace"]
    assert rows[5]["message"] == "Cannot find module '../legacy/api' from 'src/legacy/legacy.test.ts'"
    assert rows[0]["classname"] == rows[0]["name"] == "Cart adds an item"
    assert [row["executed_at"] for row in rows] == ["2026-03-02T10:05:41"] * 3 + ["2026-03-02T10:05:42"] * 3


def test_pytest_error_failure_and_properties():
    parsed = _xml(junit, FIXTURES / "pytest-error.xml")
    rows = parsed.tables["test_cases"]
    assert [row["status"] for row in rows] == [
        "passed", "failed", "error", "passed", "failed", "skipped", "skipped"]
    assert parsed.notes == ["the file's summary says 8 tests; 7 test cases listed (counted from the cases)"]
    by = _by_name(rows)
    assert by["test_charge_with_sandbox"]["message"] == (
        'failed on setup with "ConnectionRefusedError: [Errno 111] Connection refused"')
    assert by["test_charge_with_sandbox"]["stack_trace"].endswith(
        "E   ConnectionRefusedError: [Errno 111] Connection refused")
    # A failure with a teardown error is the failure.
    assert by["test_balance_after_reversal"]["message"] == "AssertionError: balance drifted by 0.01"
    assert "teardown" not in by["test_balance_after_reversal"]["stack_trace"]
    assert by["test_multi_currency"]["message"] == "FX rates not mocked yet"
    assert by["test_export_csv"]["message"] == "needs S3 credentials"
    assert {row["commit_sha"] for row in rows} == {"9c1d5e7a3b2f4c6d8e0a1b3c5d7e9f0a2b4c6d8e"}
    # The case's own property wins over the suite's.
    assert by["test_charge_declined_card"]["environment"] == "sandbox"
    assert {by[n]["environment"] for n in by if n != "test_charge_declined_card"} == {"ci"}
    assert json.loads(by["test_charge_declined_card"]["properties"]) == {
        "card": "4000000000000002", "commit": "9c1d5e7a3b2f4c6d8e0a1b3c5d7e9f0a2b4c6d8e", "environment": "sandbox"}
    assert {row["executed_at"] for row in rows} == {"2026-03-02T11:20:07.412907"}


@pytest.mark.parametrize("written, expected", [("0.25", "0.25"), ("0,25", "0.25"), ("1,234", "1234"),
                                               ("1.234,5", "1234.5"), ("", None)])
def test_junit_durations_in_any_locale(tmp_path, written, expected):
    path = tmp_path / "t.xml"
    path.write_text(f'<testsuite name="s"><testcase name="t" time="{written}"/></testsuite>', encoding="utf-8")
    assert _cases(path)[0]["duration_s"] == expected


# --------------------------------------------------------------------------- coverage: real samples


def test_each_coverage_adapter_recognises_only_its_format():
    junit_root = SafeET.parse(str(FIXTURES / "jest-junit.xml")).getroot()
    cobertura_root = SafeET.parse(str(COVERAGE / "cobertura.xml")).getroot()
    assert cobertura.matches(cobertura_root) and not junit.matches(cobertura_root)
    assert junit.matches(junit_root) and not cobertura.matches(junit_root)
    assert lcov.matches((COVERAGE / "real_python_coverage.lcov").read_text(encoding="utf-8"))
    assert not lcov.matches("defect_id,title\nA-1,x\n") and not lcov.matches("")
    report = json.loads((COVERAGE / "coverage_py.json").read_text(encoding="utf-8"))
    assert coverage_py.matches(report)
    assert not coverage_py.matches({"files": {}}) and not coverage_py.matches([report])


def test_cobertura_merges_classes_of_one_file_and_counts_lines_and_branches():
    path = COVERAGE / "cobertura.xml"
    parsed = _xml(cobertura, path)
    rows = parsed.tables["coverage"]
    # Main.java: 11 lines of Main + 4 of Main$Helper; every line is listed twice (method and class).
    assert _coverage(rows) == {
        "Main.java": (15, 15, 0, 0),
        "search/BinarySearch.java": (12, 11, 6, 5),  # line 24 missed; branches 2/2, 1/2, 2/2
        "search/ISortedArraySearch.java": (0, 0, 0, 0),
        "search/LinearSearch.java": (7, 5, 6, 4),  # lines 19, 24 missed; branches 1/2, 2/2, 1/2
    }
    assert {row["reported_at"] for row in rows} == {"2007-08-17T11:41:45.008000+00:00"}  # 1187350905008 ms
    assert {row["report_id"] for row in rows} == {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
    assert {row["commit_sha"] for row in rows} == {None}
    assert parsed.notes == [
        "the report's line-rate 0.9 disagrees with its lines (31/34 covered); counts come from the lines"]


def test_cobertura_from_coverage_py_counts_its_lines_not_its_line_rate():
    parsed = _xml(cobertura, COVERAGE / "coverage.xml")
    assert _coverage(parsed.tables["coverage"]) == {"test_src.txt": (10, 5, 0, 0)}  # says 0.8792
    assert parsed.tables["coverage"][0]["reported_at"] == "2013-06-17T12:21:46.873000+00:00"
    assert len(parsed.notes) == 1


def test_lcov_sample():
    path = COVERAGE / "real_python_coverage.lcov"
    parsed = lcov.parse(path.read_text(encoding="utf-8"), _ctx(lcov, path))
    rows = parsed.tables["coverage"]
    assert _coverage(rows) == {"calculator.py": (22, 22, 0, 0), "test_calculator.py": (23, 23, 0, 0)}
    assert {row["reported_at"] for row in rows} == {None} and parsed.notes == []


def test_lcov_merges_records_and_reads_branches(tmp_path):
    text = (
        "TN:unit\nSF:src/a.py\nDA:1,1\nDA:2,0\nBRDA:2,0,0,-\nBRDA:2,0,1,3\nLF:9\nLH:9\nend_of_record\n"
        "TN:integration\nSF:src/a.py\nDA:2,4\nDA:3,0\nBRDA:2,0,0,0\nend_of_record\n"
        "SF:src/b.py\nDA:1,x\nDA:2,1\n"
    )
    path = tmp_path / "lcov.info"
    path.write_text(text, encoding="utf-8")
    parsed = lcov.parse(text, _ctx(lcov, path))
    rows = {row["file"]: row for row in parsed.tables["coverage"]}
    # a.py: lines 1, 2, 3 (2 covered by the second record); branch (2,0,0) never taken, (2,0,1) taken.
    assert _coverage(parsed.tables["coverage"])["src/a.py"] == (3, 2, 2, 1)
    assert "_reason" not in rows["src/a.py"]
    assert rows["src/b.py"]["_reason"] == "line 1: hits 'x' is not a number"
    assert parsed.notes == ["the last record has no end_of_record (truncated file?)"]


def test_coverage_py_json_sample():
    path = COVERAGE / "coverage_py.json"
    parsed = coverage_py.parse(json.loads(path.read_text(encoding="utf-8")), _ctx(coverage_py, path))
    rows = parsed.tables["coverage"]
    assert _coverage(rows) == {
        "pricing/__init__.py": (0, 0, 0, 0),
        "pricing/discount.py": (14, 13, 8, 7),  # 13 executed + line 10 missing; line 17 excluded
        "test_discount.py": (11, 11, 0, 0),
    }
    assert {row["reported_at"] for row in rows} == {"2026-11-26T15:53:02.999351"}


def test_coverage_py_without_branch_measurement_leaves_branches_empty(tmp_path):
    report = {"meta": {"format": 2, "version": "6.5.0", "timestamp": "2024-01-02T03:04:05", "branch_coverage": False},
              "files": {"app.py": {"executed_lines": [1, 2], "missing_lines": [3], "excluded_lines": [4]},
                        "broken.py": {"summary": {}}}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    rows = coverage_py.parse(report, _ctx(coverage_py, path)).tables["coverage"]
    assert _coverage(rows)["app.py"] == (3, 2, None, None)
    assert rows[1]["_reason"] == "no executed_lines/missing_lines lists for this file"


# --------------------------------------------------------------------------- the CI writer


@pytest.fixture(scope="module")
def frames(canonical_sample) -> dict[str, pd.DataFrame]:
    sample = canonical_sample
    return {name: pd.read_csv(sample / f"{name}.csv", dtype=str) for name in ("deployments", "commits", "defects")}


def _parse_written(out: Path, name: str):
    module = junit if name.startswith("junit/") else cobertura
    root = SafeET.parse(str(out / name)).getroot()
    assert module.matches(root)
    return module.parse(root, _ctx(module, out / name)), root


def test_writer_is_deterministic(frames, tmp_path):
    first = ci.write(frames, tmp_path / "a")
    second = ci.write(frames, tmp_path / "b")
    assert first == second and first
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert sum((tmp_path / "a" / name).stat().st_size for name in first) < 120_000  # the sample stays small


def test_writer_round_trips_through_the_adapters(frames, tmp_path, monkeypatch):
    # Every run, not only the retained ones, so every outcome and both layouts appear.
    monkeypatch.setattr(ci, "RETENTION_DAYS", 10_000)
    written = ci.write(frames, tmp_path)
    deployments = frames["deployments"]
    first_sha = deployments.drop_duplicates(["service", "release"]).set_index(["service", "release"])["commit_sha"]
    source_files = set(frames["commits"]["files"].dropna().str.split(";").explode())
    statuses = Counter()
    for name, rows in written.items():
        parsed, root = _parse_written(tmp_path, name)
        service, _, release = Path(name).stem.rpartition("-")
        if name.startswith("junit/"):
            cases = parsed.tables["test_cases"]
            assert len(cases) == rows and parsed.notes == []
            suites = [root] if root.tag == "testsuite" else list(root)
            stated = {key: sum(int(s.get(key)) for s in suites) for key in ("tests", "failures", "errors", "skipped")}
            counts = _counts(cases)
            assert (counts["total"], counts["failed"], counts["error"], counts["skipped"]) == tuple(stated.values())
            assert {case["commit_sha"] for case in cases} == {first_sha[(service, release)]}
            assert {case["environment"] for case in cases} == {"ci"}
            statuses.update(case["status"] for case in cases)
        else:
            files = parsed.tables["coverage"]
            assert len(files) == rows and parsed.notes == []
            assert {row["file"] for row in files} <= source_files
            totals = _coverage(files).values()
            assert [sum(t[i] for t in totals) for i in range(4)] == [
                int(root.get(k)) for k in ("lines-valid", "lines-covered", "branches-valid", "branches-covered")]
    assert set(statuses) == set(STATUSES)
    assert {name.partition("/")[0] for name in written} == {"junit", "coverage"}
    assert len(written) == 2 * len(deployments.drop_duplicates(["service", "release"]))
