"""`defectflow gate` as a CI step would call it, on the tiny hand-computed fixture's warehouse.

By hand (tests/fixtures/tiny, as of 2026-03-31):
- pay 1.0 -> production: D4 (Critical = S1, resolved only on 2026-04-05, after the as-of) is an open
  blocking defect of release 1.0: HOLD, BLOCKING_SEVERITY_OPEN, D4. D2 (P3) and D10 (Medium) are S3.
- web 2.0: incident I6 (P1 = S1, production, unresolved) is attributed to 2.0: HOLD, STOP_THE_LINE.
- pay 1.1: the previous release 1.0 escaped above the RCA threshold and has no rca_link: HOLD,
  PREVIOUS_ESCAPE_RCA_MISSING.
- web 2.1: previous release 2.0 needed an RCA and has its link; no open defect, no incident: PASS.
"""

import json

import pytest

from pipelines.cli import main
from tests.conftest import TINY, TINY_AS_OF, modelled_warehouse

pytestmark = pytest.mark.slow


def _gate(tiny_build, capsys, *args):
    code = main(["gate", "--warehouse", str(tiny_build.warehouse), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_blocking_defect_holds_the_release(tiny_build, capsys):
    code, out, _ = _gate(tiny_build, capsys, "--service", "pay", "--release", "1.0", "--environment", "production")
    assert code == 1
    assert "HOLD" in out and "BLOCKING_SEVERITY_OPEN" in out and "D4" in out
    assert "2026-03-31" in out  # the warehouse's as-of is printed


def test_stop_the_line_and_missing_rca_hold(tiny_build, capsys):
    code, out, _ = _gate(tiny_build, capsys, "--service", "web", "--release", "2.0", "--environment", "staging")
    assert code == 1 and "STOP_THE_LINE" in out
    code, out, _ = _gate(tiny_build, capsys, "--service", "pay", "--release", "1.1", "--environment", "production")
    assert code == 1 and "PREVIOUS_ESCAPE_RCA_MISSING" in out


def test_clean_release_passes_and_json_is_machine_readable(tiny_build, capsys):
    code, out, _ = _gate(tiny_build, capsys, "--service", "web", "--release", "2.1", "--environment",
                         "production", "--json")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["verdict"] == "PASS" and verdict["exit_code"] == 0


def test_unknown_release_is_an_error_naming_near_matches(tiny_build, capsys):
    code, out, err = _gate(tiny_build, capsys, "--service", "pay", "--release", "1.3", "--environment", "production")
    assert code == 2
    assert "1.2" in out + err


def test_max_age_turns_staleness_into_an_error(tiny_build, capsys):
    # the fixture's as-of (2026-03-31) is months old whenever this runs
    code, out, err = _gate(tiny_build, capsys, "--service", "web", "--release", "2.1", "--environment",
                           "production", "--max-age", "24")
    assert code == 2 and "more than --max-age 24 h" in out + err


def test_missing_warehouse_is_an_error(tmp_path, capsys):
    code = main(["gate", "--warehouse", str(tmp_path / "none.duckdb"), "--service", "pay", "--release", "1.0",
                 "--environment", "production"])
    assert code == 2


@pytest.fixture(scope="module")
def waived_build(tmp_path_factory):
    """The tiny fixture plus a waivers.csv: one waiver for pay 1.0, one row without an approver."""
    import shutil

    out = tmp_path_factory.mktemp("waived")
    exports = out / "exports"
    shutil.copytree(TINY, exports)
    (exports / "waivers.csv").write_text(
        "rule,service,release,approver,reason,expires_at\n"
        "blocking_severity_open, pay ,1.0,alice,contained by feature flag,2099-12-31T00:00:00Z\n"
        "STOP_THE_LINE,web,2.0,,nobody approved this,2099-12-31T00:00:00Z\n",
        encoding="utf-8",
    )
    return modelled_warehouse(exports, out, policy=None, as_of_text=TINY_AS_OF)


def test_waivers_csv_waives_a_rule_and_names_the_approver(waived_build, capsys):
    # pay 1.0 holds only on BLOCKING_SEVERITY_OPEN (D4); the file's waiver covers it,
    # despite its lower-case rule and padded service.
    code, out, _ = _gate(waived_build, capsys, "--service", "pay", "--release", "1.0", "--environment",
                         "production", "--json")
    verdict = json.loads(out)
    assert code == 0 and verdict["verdict"] == "PASS"
    [finding] = verdict["reasons"]
    assert finding["rule"] == "BLOCKING_SEVERITY_OPEN" and finding["waived"] is True
    assert finding["waiver"]["approver"] == "alice"


def test_waiver_without_approver_is_quarantined_and_waives_nothing(waived_build, capsys):
    from pipelines.warehouse import connect

    with connect(waived_build.warehouse, read_only=True) as con:
        [(row_number, reason)] = con.execute(
            "select row_number, reason from raw.quarantine where entity = 'waivers'").fetchall()
    assert row_number == 2 and "approver" in reason
    code, out, _ = _gate(waived_build, capsys, "--service", "web", "--release", "2.0", "--environment", "staging")
    assert code == 1 and "STOP_THE_LINE" in out


@pytest.fixture(scope="module")
def rules_build(tmp_path_factory):
    """A small exports folder and policy for the two rules the tiny fixture cannot fire.

    By hand (as of 2026-03-31; policy: production max_open S3 = 1):
    - shop r1: E1 and E2 are open S3 defects of r1 -> production HOLD, OPEN_TOLERANCE_EXCEEDED,
      observed 2 > threshold 1, [E1, E2]; staging sets no max_open and S3 is not blocking -> PASS.
    - shop r2 (code freeze 03-20): E3 (S4, fixed in r2) was resolved 03-22, after the freeze ->
      FREEZE_INTAKE [E3]; E4 (S3, fixed in r2) was resolved 03-19, before it; E5 (S2, fixed in r2,
      resolved 03-23) is above the freeze bar. r1, the previous release, escaped nothing -> no RCA rule.
    """
    out = tmp_path_factory.mktemp("rules")
    exports = out / "exports"
    exports.mkdir()
    (exports / "releases.csv").write_text(
        "service,release,code_freeze_at,planned_release_at,rca_link\n"
        "shop,r1,2026-03-01T00:00:00Z,2026-03-05T00:00:00Z,\n"
        "shop,r2,2026-03-20T00:00:00Z,2026-03-25T00:00:00Z,\n", encoding="utf-8")
    (exports / "defects.csv").write_text(
        "defect_id,title,severity,status,resolution,service,environment,found_in_release,fixed_in_release,"
        "created_at,resolved_at\n"
        "E1,cart total wrong,S3,Open,,shop,staging,r1,,2026-03-02T00:00:00Z,\n"
        "E2,coupon ignored,S3,Open,,shop,staging,r1,,2026-03-03T00:00:00Z,\n"
        "E3,typo on receipt,S4,Resolved,Fixed,shop,staging,r2,r2,2026-03-18T00:00:00Z,2026-03-22T00:00:00Z\n"
        "E4,slow search,S3,Resolved,Fixed,shop,staging,r2,r2,2026-03-10T00:00:00Z,2026-03-19T00:00:00Z\n"
        "E5,checkout fails,S2,Resolved,Fixed,shop,staging,r2,r2,2026-03-19T00:00:00Z,2026-03-23T00:00:00Z\n",
        encoding="utf-8")
    policy = out / "policy.yml"
    policy.write_text(
        "gates:\n"
        "  staging: {blocking_severities: [S1], max_open: {}}\n"
        "  production: {blocking_severities: [S1, S2], max_open: {S3: 1}}\n", encoding="utf-8")
    return modelled_warehouse(exports, out, policy=policy, as_of_text="2026-03-31T00:00:00Z")


def test_open_defects_over_the_tolerance_hold_production_only(rules_build, capsys):
    code, out, _ = _gate(rules_build, capsys, "--service", "shop", "--release", "r1", "--environment",
                         "production", "--json")
    verdict = json.loads(out)
    assert code == 1 and verdict["verdict"] == "HOLD"
    [reason] = verdict["reasons"]
    assert (reason["rule"], reason["severity"], reason["observed"], reason["threshold"], reason["defect_ids"]) == (
        "OPEN_TOLERANCE_EXCEEDED", "S3", 2, 1, ["E1", "E2"])
    code, out, _ = _gate(rules_build, capsys, "--service", "shop", "--release", "r1", "--environment", "staging")
    assert code == 0 and "PASS" in out


def test_a_low_severity_fix_after_the_code_freeze_holds(rules_build, capsys):
    code, out, _ = _gate(rules_build, capsys, "--service", "shop", "--release", "r2", "--environment",
                         "production", "--json")
    verdict = json.loads(out)
    assert code == 1
    assert [(r["rule"], r["defect_ids"]) for r in verdict["reasons"]] == [("FREEZE_INTAKE", ["E3"])]
