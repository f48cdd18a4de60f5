"""Great Expectations data-quality checks: a suite names the broken rule, its GX expectation and
exactly the offending rows; a clean table passes; through Dagster a forced-in bad value fails the
named blocking check, and `defectflow build` exits 2 naming it."""

import dataclasses
import shutil

import dagster as dg
import duckdb
import pytest

from pipelines.defs import quality
from pipelines.defs.quality import not_null, rate, run_suite, suite

SUITES = {s.check_name: s for s in quality.SUITES}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'; create schema marts; create schema raw")
    yield con
    con.close()


def failures(outcome):
    return {f.rule.name: (f.expectation, f.unexpected, f.rows) for f in outcome.failures}


def test_release_escape_rate_names_the_rate_the_duplicate_and_nothing_else(con):
    con.execute("""
        create table marts.release_escape_rate as select * from (values
            ('pay', '1.0', 2, 2, 0, 0.5),
            ('pay', '1.1', 0, 1, 1, 1.5),     -- rate above 1
            ('pay', null, 1, 0, 1, 0.5),      -- unattributed row: NULL release is fine
            ('web', '2.0', 0, 1, 1, 1.0),
            ('web', '2.0', 0, 0, 0, null),    -- second row for web 2.0
            ('ALL', 'ALL', 3, 4, 3, 0.7)
        ) as t (service, release, pre_release_defects, escaped_defects, escaped_incidents, escape_rate)
    """)
    outcome = run_suite(con, SUITES["gx_release_escape_rate"])
    assert outcome.rows_checked == 6
    assert not outcome.passed and outcome.severity == dg.AssetCheckSeverity.ERROR
    assert failures(outcome) == {
        "escape_rate in [0, 1]": (
            "expect_column_values_to_be_between", 1, [{"service": "pay", "release": "1.1", "escape_rate": 1.5}]
        ),
        "service, release unique": (
            "expect_column_values_to_be_between", 1, [{"service": "web", "release": "2.0", "rows_with_key": 2}]
        ),
    }
    text = outcome.failures_text()
    assert "[blocking] escape_rate in [0, 1]: expect_column_values_to_be_between(column=escape_rate" in text
    assert "service=pay, release=1.1, escape_rate=1.5" in text
    metadata = outcome.check_result().metadata
    assert metadata["failed_rules"].value[0]["offending_rows"] == [
        {"service": "pay", "release": "1.1", "escape_rate": 1.5}
    ]


def test_clean_table_passes(con):
    con.execute("""
        create table marts.release_gate as select * from (values
            ('pay', '1.0', 'staging', 'PASS'), ('pay', '1.0', 'production', 'HOLD')
        ) as t (service, release, environment, verdict)
    """)
    outcome = run_suite(con, SUITES["gx_release_gate"])
    assert outcome.passed and outcome.rows_checked == 2 and outcome.failures == []
    assert outcome.check_result().passed


def test_verdict_outside_pass_hold(con):
    con.execute("""
        create table marts.release_gate as select * from (values
            ('pay', '1.0', 'staging', 'PASS'), ('pay', '1.1', 'production', 'MAYBE'),
            ('web', '2.0', 'production', null)
        ) as t (service, release, environment, verdict)
    """)
    got = failures(run_suite(con, SUITES["gx_release_gate"]))
    # the NULL verdict breaks not-null only; in-set ignores missing values
    assert got == {
        "verdict not null": ("expect_column_values_to_not_be_null", 1,
                             [{"service": "web", "release": "2.0", "environment": "production", "verdict": None}]),
        "verdict in {PASS, HOLD}": ("expect_column_values_to_be_in_set", 1,
                                    [{"service": "pay", "release": "1.1", "environment": "production",
                                      "verdict": "MAYBE"}]),
    }


def test_chunks_sum_counts_and_keys_are_unique_across_chunks(con, monkeypatch):
    # 5000 defects read one DuckDB vector (2048 rows) at a time: three chunks. Bad rows: a
    # negative ttr_hours in chunk 1 (D00010) and chunk 3 (D04500); D02047 appears twice, once at the
    # end of chunk 1 and once at the end of the table, so only a table-wide count can see it.
    monkeypatch.setattr(quality, "CHUNK_VECTORS", 1)
    con.execute("""
        create table marts.fct_defects as
        select printf('D%05d', i) as defect_id, 'S2' as severity, 'new' as status, 'pay' as service,
            'production' as environment, timestamptz '2026-03-01 00:00:00+00' as created_at,
            null::timestamptz as resolved_at, false as is_duplicate, 'unattributed' as attribution_method,
            true as is_open, false as is_pre_release, true as is_escaped, 'full' as segment,
            null::bigint as users_affected, null::double as ttd_hours,
            case when i in (10, 4500) then -1.5 else 2.0 end as ttr_hours, 24.0 as sla_target_hours
        from range(5000) as r (i)
    """)
    con.execute("insert into marts.fct_defects select * replace ('D02047' as defect_id) "
                "from marts.fct_defects where defect_id = 'D00000'")
    outcome = run_suite(con, SUITES["gx_fct_defects"])
    assert outcome.rows_checked == 5001
    assert failures(outcome) == {
        "ttr_hours >= 0": ("expect_column_values_to_be_between", 2,
                           [{"defect_id": "D00010", "ttr_hours": -1.5}, {"defect_id": "D04500", "ttr_hours": -1.5}]),
        "defect_id unique": ("expect_column_values_to_be_between", 1, [{"defect_id": "D02047", "rows_with_key": 2}]),
    }


def test_warning_rules_alone_fail_with_severity_warn(con):
    con.execute("""
        create table marts.fct_deployments as select * from (values
            ('d1', 'pay', 'production', timestamptz '2026-03-01 00:00:00+00', timestamptz '2026-03-01 01:00:00+00',
             date '2026-02-23', 'deployed', true, false, 'full')
        ) as t (deployment_id, service, environment, started_at, finished_at, week_start, status, served,
                is_hotfix, segment)
    """)
    outcome = run_suite(con, SUITES["gx_fct_deployments"])
    assert [f.rule.name for f in outcome.failures] == ["status in {succeeded, failed, rolled_back}"]
    assert outcome.severity == dg.AssetCheckSeverity.WARN


def test_durations_and_dates_in_the_report(con):
    con.execute("""
        create table marts.defect_aging as select * from (values
            (date '2026-03-01', 'S1', '0-7d', 2, 3.5),
            (date '2026-03-08', 'S1', '8-30d', 1, -4.0)
        ) as t (snapshot_date, severity, age_bucket, open_defects, mean_age_days)
    """)
    outcome = run_suite(con, SUITES["gx_defect_aging"])
    assert failures(outcome) == {
        "mean_age_days >= 0": ("expect_column_values_to_be_between", 1, [
            {"snapshot_date": "2026-03-08", "severity": "S1", "age_bucket": "8-30d", "mean_age_days": -4.0}
        ]),
    }


def test_cumulative_flow_totals_against_creations(con):
    # Created (non-duplicate): 1 on 03-01, 2 on 03-02, 0 on 03-03 (d4 is a duplicate), so
    # created so far: 1, 3, 3. The flow says 1, 3, 4: only 03-03 is off.
    con.execute("""
        create table marts.fct_defects as select * from (values
            ('d1', timestamptz '2026-03-01 10:00:00+00', false),
            ('d2', timestamptz '2026-03-02 00:00:00+00', false),
            ('d3', timestamptz '2026-03-02 23:59:00+00', false),
            ('d4', timestamptz '2026-03-03 09:00:00+00', true)
        ) as t (defect_id, created_at, is_duplicate);
        create table marts.cumulative_flow as select * from (values
            (date '2026-03-01', 'new', 1), (date '2026-03-01', 'resolved', 0),
            (date '2026-03-02', 'new', 2), (date '2026-03-02', 'resolved', 1),
            (date '2026-03-03', 'new', 2), (date '2026-03-03', 'resolved', 2)
        ) as t (day, status, defects)
    """)
    outcome = run_suite(con, SUITES["gx_cumulative_flow_totals"])
    assert outcome.rows_checked == 3
    assert failures(outcome) == {
        "defects_in_flow = defects_created": ("expect_column_pair_values_to_be_equal", 1,
                                              [{"day": "2026-03-03", "defects_in_flow": 4, "defects_created": 3}]),
    }


def test_raw_suite_follows_the_canonical_entity(con):
    raw = SUITES["gx_defects"]
    assert {r.name for r in raw.rules} >= {
        "defect_id not null", "title not null", "created_at not null", "users_affected >= 0",
        "resolved_at >= created_at",
    }
    assert not raw.unique_key  # raw may hold a key twice across files
    con.execute("""
        create table raw.defects as select * from (values
            ('D1', 'ok', timestamptz '2026-03-01 00:00:00+00', timestamptz '2026-03-02 00:00:00+00', 1, 'a.csv', 1),
            ('D2', 'ok', timestamptz '2026-03-01 00:00:00+00', timestamptz '2026-02-01 00:00:00+00', 1, 'a.csv', 2),
            ('D1', 'ok', timestamptz '2026-03-01 00:00:00+00', null, 1, 'b.csv', 1)
        ) as t (defect_id, title, created_at, resolved_at, users_affected, source_file, source_row)
    """)
    con.execute("alter table raw.defects add column source_updated_at timestamptz")
    got = failures(run_suite(con, raw))
    assert got == {
        "resolved_at >= created_at": ("expect_column_pair_values_a_to_be_greater_than_b", 1, [
            {"defect_id": "D2", "source_file": "a.csv", "source_row": 2,
             "resolved_at": "2026-02-01T00:00:00+00:00", "created_at": "2026-03-01T00:00:00+00:00"}
        ]),
    }


def test_a_new_suite_is_a_few_lines(con):
    mine = suite("marts.my_mart", ("team",), not_null("team"), rate("share"))
    con.execute("create table marts.my_mart as select * from (values ('a', 0.2), ('b', 2.0)) as t (team, share)")
    assert failures(run_suite(con, mine)) == {
        "share in [0, 1]": ("expect_column_values_to_be_between", 1, [{"team": "b", "share": 2.0}])
    }
    assert quality._asset_check(mine).check_keys == {dg.AssetCheckKey(dg.AssetKey(["marts", "my_mart"]), "gx_my_mart")}


def test_validation_prints_no_progress_bars(con, capfd):
    quality._batch_definition.cache_clear()  # the context is created under capture too
    con.execute("create table marts.my_mart as select 'a' as team, 0.5 as share")
    run_suite(con, suite("marts.my_mart", ("team",), rate("share")))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_every_check_is_named_once_and_every_contract_mart_has_a_suite():
    checks = [s.check_name for s in quality.SUITES]
    assert len(checks) == len(set(checks))
    assert all(s.blocking for s in quality.SUITES)  # every suite has at least one blocking rule
    contract_marts = {"fct_defects", "fct_incidents", "fct_deployments", "fct_test_cases", "fct_coverage",
                      "release_escape_rate", "detection_resolution_by_environment", "defect_aging",
                      "cumulative_flow", "change_failure_rate", "delivery_metrics", "release_gate",
                      "release_gate_findings"}
    assert contract_marts <= {s.table.split(".")[1] for s in quality.MART_SUITES}


# -- through Dagster, on the tiny fixture built for real --------------------------------------------

def run_checks(warehouse):
    """Only the GX asset checks, against an existing warehouse, through Dagster."""
    from pipelines.settings import BuildSettings

    checks = list(quality.defs.asset_checks)
    targets = {s.asset_key for s in quality.SUITES} | {dg.AssetKey(t.split(".")) for s in quality.SUITES
                                                       for t in s.reads}
    return dg.materialize(
        [*checks, *(dg.AssetSpec(key) for key in targets)],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"build": BuildSettings(warehouse=str(warehouse))},
        raise_on_error=False,
    )


@pytest.mark.slow
def test_all_checks_pass_on_the_tiny_build(tiny_build, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    result = run_checks(warehouse)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(SUITES)
    assert all(e.passed for e in evaluations.values())
    assert evaluations["gx_release_escape_rate"].metadata["rows_checked"].value == 11  # the 11 rows by hand


@pytest.mark.slow
def test_rate_above_one_fails_the_named_blocking_check(tiny_build, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:  # pay 1.0 is 0.5 by hand
        con.execute("update marts.release_escape_rate set escape_rate = 1.5 where service = 'pay' and release = '1.0'")
    result = run_checks(warehouse)
    assert not result.success  # a failed blocking (ERROR) check fails its step and the run
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.check_name, e.asset_key.to_user_string(), e.severity) for e in failed] == [
        ("gx_release_escape_rate", "marts/release_escape_rate", dg.AssetCheckSeverity.ERROR)
    ]
    (rule,) = failed[0].metadata["failed_rules"].value
    assert rule["rule"] == "escape_rate in [0, 1]"
    assert rule["expectation"] == "expect_column_values_to_be_between"
    assert rule["unexpected_count"] == 1
    assert rule["offending_rows"] == [{"service": "pay", "release": "1.0", "escape_rate": 1.5}]


@pytest.mark.slow
def test_build_exits_2_naming_the_check_the_expectation_and_the_row(tmp_path, monkeypatch, capsys):
    """An ingest bug lets a negative count through (the entity's non-negative rule switched off
    for the loader only); the raw GX check stops the build before dbt runs."""
    from pipelines.cli import main
    from pipelines.defs.ingest import canonical
    from tests.conftest import TINY, TINY_AS_OF

    exports = tmp_path / "exports"
    shutil.copytree(TINY, exports)
    (exports / "more_defects.csv").write_text(
        "defect_id,title,created_at,users_affected\nD99,Negative users,2026-03-10T00:00:00Z,-5\n"
    )
    monkeypatch.setitem(canonical.ENTITIES, "defects",
                        dataclasses.replace(canonical.ENTITIES["defects"], non_negative=()))
    code = main(["build", "--exports", str(exports), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF])
    assert code == 2
    err = capsys.readouterr().err
    assert "check gx_defects failed on raw/defects" in err
    assert "[blocking] users_affected >= 0: expect_column_values_to_be_between(column=users_affected, min_value=0)" \
        in err
    assert f"defect_id=D99, source_file={exports / 'more_defects.csv'}, source_row=1, users_affected=-5" in err
    assert "built marts." not in err  # blocked before dbt
    assert not (tmp_path / "w.duckdb").exists()  # a failed build leaves no warehouse behind


def test_warnings_are_printed_in_the_build_summary(capsys):
    from pipelines.cli import print_check_warnings

    def evaluation(name, passed, severity):
        return dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(["marts", "fct_deployments"]), check_name=name, passed=passed,
            severity=severity,
            metadata={"failures": dg.MetadataValue.text("  [warning] status in {...}: ...\n      deployment_id=d1")},
        )

    print_check_warnings([evaluation("gx_fct_deployments", False, dg.AssetCheckSeverity.WARN),
                          evaluation("gx_passed", True, dg.AssetCheckSeverity.WARN)])
    out = capsys.readouterr().out
    assert "Data-quality warnings" in out
    assert "check gx_fct_deployments warning on marts/fct_deployments" in out and "deployment_id=d1" in out
    assert "gx_passed" not in out
