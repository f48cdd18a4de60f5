"""`defectflow gate` logic (pipelines/gate.py) against a small hand-made warehouse:
verdicts and exit codes, waivers, staleness, unknown keys (no dbt, fast)."""

import io
import json
from datetime import UTC, datetime

import duckdb
import pytest

from pipelines.gate import (
    EXIT_ERROR,
    EXIT_HOLD,
    EXIT_PASS,
    GateError,
    evaluate,
    format_text,
    run,
    to_json,
)

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
SOON = datetime(2026, 4, 1, tzinfo=UTC)  # 24 h after the as-of
POLICY_MAX_AGE = 168.0


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema marts")
    con.execute("create table marts.build_metadata as select ?::timestamptz as as_of, 'x' as policy_sha256",
                [AS_OF])
    con.execute("""create table marts.release_gate (service varchar, release varchar, environment varchar,
        verdict varchar, previous_release varchar)""")
    con.executemany("insert into marts.release_gate values (?, ?, ?, ?, ?)", [
        ("payments", "3.9.0", "production", "HOLD", "3.8.0"),
        ("payments", "3.9.0", "staging", "PASS", "3.8.0"),
        ("payments", "3.10.0", "production", "PASS", "3.9.0"),
        ("payments", "3.11.0", "production", "HOLD", "3.10.0"),
        ("search", "1.0", "production", "HOLD", None),
    ])
    con.execute("""create table marts.release_gate_findings (service varchar, release varchar,
        environment varchar, rule varchar, severity varchar, observed double, threshold double,
        defect_ids varchar[], incident_ids varchar[], is_waived boolean, waiver_approver varchar,
        waiver_reason varchar, waiver_expires_at timestamptz)""")
    con.executemany("insert into marts.release_gate_findings values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        ("payments", "3.9.0", "production", "BLOCKING_SEVERITY_OPEN", None, 2, 0, ["D2", "D7"], [],
         False, None, None, None),
        ("payments", "3.9.0", "production", "STOP_THE_LINE", None, 1, 0, [], ["I3"], False, None, None, None),
        # waived until after "soon": PASS
        ("payments", "3.10.0", "production", "FREEZE_INTAKE", None, 1, 0, ["D9"], [],
         True, "alice", "low risk", datetime(2026, 4, 30, tzinfo=UTC)),
        # expired at the as-of already: the mart says HOLD
        ("payments", "3.11.0", "production", "PREVIOUS_ESCAPE_RCA_MISSING", None, 0.5, 0.15, [], [],
         False, "bob", "hotfix", datetime(2026, 3, 30, tzinfo=UTC)),
        # waived at the as-of, expires between the build and the gate run
        ("search", "1.0", "production", "OPEN_TOLERANCE_EXCEEDED", "S3", 3, 1, ["S1", "S2", "S3"], [],
         True, "carol", "known", datetime(2026, 3, 31, 12, tzinfo=UTC)),
    ])
    con.close()
    return path


def test_hold_lists_each_rule_with_its_ids(warehouse):
    result = evaluate(warehouse, "payments", "3.9.0", "production", None, POLICY_MAX_AGE, now=SOON)
    assert result.verdict == "HOLD" and result.exit_code == EXIT_HOLD
    assert [(f.rule, f.defect_ids, f.incident_ids) for f in result.findings] == [
        ("BLOCKING_SEVERITY_OPEN", ("D2", "D7"), ()),
        ("STOP_THE_LINE", (), ("I3",)),
    ]
    assert result.age_hours == 24.0 and result.warnings == ()
    text = format_text(result)
    assert "payments 3.9.0 -> production: HOLD" in text
    assert "D2, D7" in text and "I3" in text


def test_pass_without_findings(warehouse):
    result = evaluate(warehouse, "payments", "3.9.0", "staging", None, POLICY_MAX_AGE, now=SOON)
    assert (result.verdict, result.exit_code, result.findings) == ("PASS", EXIT_PASS, ())
    assert to_json(result)["reasons"] == []


def test_waived_rule_is_reported_and_passes(warehouse):
    result = evaluate(warehouse, "payments", "3.10.0", "production", None, POLICY_MAX_AGE, now=SOON)
    assert result.verdict == "PASS"
    payload = to_json(result)
    assert payload["reasons"] == [{
        "rule": "FREEZE_INTAKE", "severity": None, "observed": 1.0, "threshold": 0.0,
        "defect_ids": ["D9"], "incident_ids": [], "waived": True,
        "waiver": {"approver": "alice", "reason": "low risk", "expires_at": "2026-04-30T00:00:00Z"},
    }]
    assert "waived by alice" in format_text(result)


def test_expired_waiver_holds(warehouse):
    result = evaluate(warehouse, "payments", "3.11.0", "production", None, POLICY_MAX_AGE, now=SOON)
    assert result.verdict == "HOLD"
    assert "expired waiver by bob" in format_text(result)
    assert "release 3.10.0" in format_text(result)


def test_waiver_expired_after_the_build_holds_with_a_warning(warehouse):
    result = evaluate(warehouse, "search", "1.0", "production", None, POLICY_MAX_AGE, now=SOON)
    assert result.verdict == "HOLD"
    assert result.findings[0].waived is False
    assert any("carol" in w and "expired" in w for w in result.warnings)
    # Before it expires the build's waiver still holds.
    early = evaluate(warehouse, "search", "1.0", "production", None, POLICY_MAX_AGE,
                     now=datetime(2026, 3, 31, 6, tzinfo=UTC))
    assert early.verdict == "PASS"


def test_stale_warehouse_warns_against_policy_age(warehouse):
    later = datetime(2026, 4, 10, tzinfo=UTC)  # 240 h after the as-of
    result = evaluate(warehouse, "payments", "3.9.0", "staging", None, POLICY_MAX_AGE, now=later)
    assert result.verdict == "PASS"
    assert result.warnings and "240.0 h old" in result.warnings[0] and "168" in result.warnings[0]


def test_max_age_makes_staleness_an_error(warehouse):
    with pytest.raises(GateError, match="--max-age 12 h"):
        evaluate(warehouse, "payments", "3.9.0", "staging", 12, POLICY_MAX_AGE, now=SOON)
    # within --max-age: no error
    assert evaluate(warehouse, "payments", "3.9.0", "staging", 48, POLICY_MAX_AGE, now=SOON).verdict == "PASS"


def test_unknown_service_lists_near_matches(warehouse):
    with pytest.raises(GateError, match=r"unknown service 'payment'.*payments"):
        evaluate(warehouse, "payment", "3.9.0", "production", None, POLICY_MAX_AGE, now=SOON)


def test_unknown_release_lists_near_matches(warehouse):
    with pytest.raises(GateError, match=r"unknown release of payments '3\.9'.*3\.9\.0"):
        evaluate(warehouse, "payments", "3.9", "production", None, POLICY_MAX_AGE, now=SOON)


def test_unknown_environment_is_an_error(warehouse):
    with pytest.raises(GateError, match=r"unknown gate environment.*'prod'.*production"):
        evaluate(warehouse, "payments", "3.9.0", "prod", None, POLICY_MAX_AGE, now=SOON)


def test_missing_warehouse_is_an_error(tmp_path):
    with pytest.raises(GateError, match="does not exist"):
        evaluate(tmp_path / "nope.duckdb", "payments", "3.9.0", "production", None, POLICY_MAX_AGE)


def test_warehouse_without_gate_tables_is_an_error(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(GateError, match="rebuild"):
        evaluate(path, "payments", "3.9.0", "production", None, POLICY_MAX_AGE)


def test_run_exit_codes_and_json(warehouse, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert run(warehouse, "payments", "3.9.0", "production", None, POLICY_MAX_AGE,
               as_json=True, out=out, err=err, now=SOON) == EXIT_HOLD
    payload = json.loads(out.getvalue())
    assert payload["verdict"] == "HOLD" and payload["exit_code"] == 1
    assert payload["as_of"] == "2026-03-31T00:00:00Z"
    assert run(warehouse, "payments", "3.10.0", "production", None, POLICY_MAX_AGE,
               out=io.StringIO(), err=io.StringIO(), now=SOON) == EXIT_PASS
    err = io.StringIO()
    assert run(tmp_path / "nope.duckdb", "payments", "3.9.0", "production", None, POLICY_MAX_AGE,
               out=io.StringIO(), err=err) == EXIT_ERROR
    assert "does not exist" in err.getvalue()


def test_gate_reads_the_warehouse_read_only(warehouse):
    # DuckDB refuses a read-write connection to a file this process holds read-only:
    # evaluating while a read-only reader is open shows the gate opens it read-only too.
    reader = duckdb.connect(str(warehouse), read_only=True)
    try:
        result = evaluate(warehouse, "payments", "3.9.0", "production", None, POLICY_MAX_AGE, now=SOON)
    finally:
        reader.close()
    assert result.verdict == "HOLD"
