"""Data-quality checks, one layer per concern: Great Expectations suites on the raw tables (and on
the one mart dbt cannot test) name the broken rule, its GX expectation and exactly the offending
rows; the marts' dbt tests fail with their offending rows too; through `defectflow build` either
kind of failure exits 2 naming the check."""

import dataclasses
import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from pipelines.defs.quality import checks, dbt_tests, rules
from pipelines.defs.quality.rules import non_negative, not_before, not_null, rate, run_suite, suite
from pipelines.defs.quality.suites import MART_SUITES, RAW_SUITES, SUITES
from pipelines.warehouse import DBT_PROJECT_DIR

BY_NAME = {s.check_name: s for s in SUITES}

# A mart in the shape of release_escape_rate, checked by an ad-hoc suite: the machinery, not a real mart.
RATES = suite("marts.rates", ("service", "release"),
              not_null("service"), non_negative("escaped_defects"), rate("escape_rate"))


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'; create schema marts; create schema raw")
    yield con
    con.close()


def failures(outcome):
    return {f.rule.name: (f.expectation, f.unexpected, f.rows) for f in outcome.failures}


def test_a_suite_names_the_rate_the_duplicate_and_nothing_else(con):
    con.execute("""
        create table marts.rates as select * from (values
            ('pay', '1.0', 2, 0.5),
            ('pay', '1.1', 1, 1.5),     -- rate above 1
            ('pay', null, 0, 0.5),      -- NULL is a key value like any other
            ('web', '2.0', 1, 1.0),
            ('web', '2.0', 0, null),    -- second row for web 2.0
            ('ALL', 'ALL', 4, 0.7)
        ) as t (service, release, escaped_defects, escape_rate)
    """)
    outcome = run_suite(con, RATES)
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
    assert outcome.failures_text() == (
        "  [blocking] escape_rate in [0, 1]: expect_column_values_to_be_between(column=escape_rate, min_value=0, "
        "max_value=1): 1 of 6 rows\n"
        "      service=pay, release=1.1, escape_rate=1.5\n"
        "  [blocking] service, release unique: expect_column_values_to_be_between(column=rows_with_key, "
        "min_value=1, max_value=1): 1 key(s) on more than one row\n"
        "      service=web, release=2.0, rows_with_key=2"
    )
    metadata = outcome.check_result().metadata
    assert metadata["failed_rules"].value[0]["offending_rows"] == [
        {"service": "pay", "release": "1.1", "escape_rate": 1.5}
    ]


def test_clean_correlation_passes(con):
    con.execute("""
        create table marts.deploy_recurrence_correlation as select * from (values
            ('pay', 12, -0.4, 0.2, 'spearman'), ('ALL', 3, null, null, 'spearman')
        ) as t (service, n_weeks, rho, p_value, method)
    """)
    outcome = run_suite(con, BY_NAME["gx_deploy_recurrence_correlation"])
    assert outcome.passed and outcome.rows_checked == 2 and outcome.failures == []
    assert outcome.check_result().passed


def test_correlation_out_of_range_and_missing_method(con):
    con.execute("""
        create table marts.deploy_recurrence_correlation as select * from (values
            ('pay', 12, 1.2, 0.2, 'spearman'), ('web', 9, 0.1, 0.5, null)
        ) as t (service, n_weeks, rho, p_value, method)
    """)
    assert failures(run_suite(con, BY_NAME["gx_deploy_recurrence_correlation"])) == {
        "method not null": ("expect_column_values_to_not_be_null", 1, [{"service": "web", "method": None}]),
        "rho in [-1, 1]": ("expect_column_values_to_be_between", 1, [{"service": "pay", "rho": 1.2}]),
    }


def test_chunks_sum_counts_and_keys_are_unique_across_chunks(con, monkeypatch):
    # 5000 defects read one DuckDB vector (2048 rows) at a time: three chunks. Bad rows: a
    # negative ttr_hours in chunk 1 (D00010) and chunk 3 (D04500); D02047 appears twice, once at the
    # end of chunk 1 and once at the end of the table, so only a table-wide count can see it.
    monkeypatch.setattr(rules, "CHUNK_VECTORS", 1)
    con.execute("""
        create table marts.facts as
        select printf('D%05d', i) as defect_id, case when i in (10, 4500) then -1.5 else 2.0 end as ttr_hours
        from range(5000) as r (i)
    """)
    con.execute("insert into marts.facts values ('D02047', 2.0)")
    outcome = run_suite(con, suite("marts.facts", ("defect_id",), non_negative("ttr_hours"), chunked=True))
    assert outcome.rows_checked == 5001
    assert failures(outcome) == {
        "ttr_hours >= 0": ("expect_column_values_to_be_between", 2,
                           [{"defect_id": "D00010", "ttr_hours": -1.5}, {"defect_id": "D04500", "ttr_hours": -1.5}]),
        "defect_id unique": ("expect_column_values_to_be_between", 1, [{"defect_id": "D02047", "rows_with_key": 2}]),
    }


def test_warning_rules_alone_fail_with_severity_warn(con):
    con.execute("create table marts.rates as select 'pay' as service, '1.0' as release, -1 as escaped_defects")
    lenient = suite("marts.rates", ("service", "release"), non_negative("escaped_defects", blocking=False),
                    unique_key=False)
    outcome = run_suite(con, lenient)
    assert [f.rule.name for f in outcome.failures] == ["escaped_defects >= 0"]
    assert outcome.severity == dg.AssetCheckSeverity.WARN
    assert [spec.blocking for spec in checks.asset_check(lenient).check_specs] == [False]
    assert outcome.failures_text().startswith("  [warning] escaped_defects >= 0:")


def test_dates_and_instants_in_the_report(con):
    con.execute("""
        create table marts.spans as select * from (values
            (date '2026-03-01', timestamptz '2026-03-01 10:00:00+00', timestamptz '2026-03-01 12:00:00+00'),
            (date '2026-03-08', timestamptz '2026-03-08 10:00:00+00', timestamptz '2026-03-08 09:30:00+00')
        ) as t (day, started_at, finished_at)
    """)
    outcome = run_suite(con, suite("marts.spans", ("day",), not_before("finished_at", "started_at")))
    assert failures(outcome) == {
        "finished_at >= started_at": ("expect_column_pair_values_a_to_be_greater_than_b", 1, [
            {"day": "2026-03-08", "finished_at": "2026-03-08T09:30:00+00:00",
             "started_at": "2026-03-08T10:00:00+00:00"}
        ]),
    }


def test_raw_suite_follows_the_canonical_entity(con):
    raw = BY_NAME["gx_defects"]
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
    mine = suite("raw.my_table", ("team",), not_null("team"), rate("share"))
    con.execute("create table raw.my_table as select * from (values ('a', 0.2), ('b', 2.0)) as t (team, share)")
    assert failures(run_suite(con, mine)) == {
        "share in [0, 1]": ("expect_column_values_to_be_between", 1, [{"team": "b", "share": 2.0}])
    }
    assert checks.asset_check(mine).check_keys == {dg.AssetCheckKey(dg.AssetKey(["raw", "my_table"]), "gx_my_table")}


def test_validation_prints_no_progress_bars(con, capfd):
    rules._batch_definition.cache_clear()  # the context is created under capture too
    con.execute("create table marts.rates as select 'a' as service, '1' as release, 0.5 as escape_rate")
    run_suite(con, suite("marts.rates", ("service", "release"), rate("escape_rate")))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_gx_guards_raw_and_only_the_mart_dbt_cannot_test():
    assert [s.check_name for s in RAW_SUITES] == [
        "gx_defects", "gx_defect_status_history", "gx_deployments", "gx_incidents", "gx_releases", "gx_commits",
        "gx_waivers", "gx_defect_links", "gx_test_cases", "gx_coverage", "gx_key_mappings",
    ]
    assert [s.check_name for s in MART_SUITES] == ["gx_deploy_recurrence_correlation"]
    assert all(s.blocking for s in SUITES)
    for mart in MART_SUITES:  # written by Python after dbt: no dbt model of that name, and it says so
        assert not list(DBT_PROJECT_DIR.glob(f"models/**/{mart.table.split('.')[1]}.sql"))
        assert "no dbt test" in mart.description


# -- the marts' dbt tests -----------------------------------------------------------------------------

# Every public mart (docs/contract.md, Public tables) and release_gate_findings: its key, and the
# key columns that may be NULL (a roll-up or unattributed row). fct_test_cases has no key: one
# report may hold the same case twice, so its whole-row uniqueness only warns.
KEYS = {
    "fct_defects": (("defect_id",), ()),
    "fct_incidents": (("incident_id",), ()),
    "fct_deployments": (("deployment_id",), ()),
    "fct_test_cases": (("run_id", "source_file", "suite", "classname", "name", "executed_at", "status",
                        "duration_s", "message"), ("suite", "classname", "executed_at", "duration_s", "message")),
    "fct_coverage": (("report_id", "file"), ()),
    "release_escape_rate": (("service", "release"), ("release",)),
    "detection_resolution_by_environment": (("record_type", "environment", "severity"), ()),
    "defect_aging": (("snapshot_date", "severity", "age_bucket"), ()),
    "cumulative_flow": (("day", "status"), ()),
    "change_failure_rate": (("service", "week_start"), ("week_start",)),
    "defect_clusters": (("defect_id",), ()),
    "duplicate_candidates": (("defect_id", "candidate_id"), ()),
    "deploy_frequency_recurrence": (("service", "week_start"), ()),
    "release_gate": (("service", "release", "environment"), ()),
    "release_gate_findings": (("service", "release", "environment", "rule", "severity"), ("severity",)),
    "compliance_findings": (("rule", "entity_type", "entity_id"), ()),
    "escape_coverage_gaps": (("service", "release", "defect_id", "incident_id", "file"),
                             ("release", "incident_id", "file")),
    "delivery_metrics": (("service", "week_start"), ("week_start",)),
}


@pytest.fixture(scope="module")
def mart_tests():
    """(model, test name, column or None, arguments, severity) of every dbt test on a mart."""
    from pipelines.cli import parse_dbt_project

    parse_dbt_project()
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            model = node["attached_node"].rsplit(".", 1)[1]
            severity = node["config"]["severity"].lower()
            if node["test_metadata"]["name"] == dbt_tests.ROW_RULES:  # each rule as the test it stands for
                found += [(model, rule.kind, None if rule.kind == "expression_is_true" else rule.key,
                           rule.arguments, severity) for rule in dbt_tests.row_rules(node)]
            else:
                found.append((model, node["test_metadata"]["name"], node.get("column_name"),
                              node["test_metadata"]["kwargs"], severity))
    return found


def test_every_public_mart_has_dbt_tests_for_its_key(mart_tests):
    for mart, (key, nullable) in KEYS.items():
        unique = [severity for model, test, column, arguments, severity in mart_tests if model == mart and (
            (test == "unique" and (column,) == key)
            or (test == "unique_combination_of_columns" and tuple(arguments["combination_of_columns"]) == key))]
        assert unique == ["warn" if mart == "fct_test_cases" else "error"], mart
        not_null = {column for model, test, column, _, severity in mart_tests
                    if model == mart and test == "not_null" and severity == "error"}
        assert set(key) - set(nullable) <= not_null, (mart, set(key) - set(nullable) - not_null)


def test_what_the_mart_suites_asserted_is_a_dbt_test_now(mart_tests):
    """A sample of the rules the mart GX suites held, each now a dbt test of the same severity."""
    def has(model, test, column, severity="error", **arguments):
        return any(m == model and t == test and c == column and s == severity
                   and all(a.get(k) == v for k, v in arguments.items())
                   for m, t, c, a, s in mart_tests)

    assert has("release_escape_rate", "accepted_range", "escape_rate", min_value=0, max_value=1)
    assert has("fct_defects", "accepted_values", "severity", values=["S1", "S2", "S3", "S4"])
    assert has("fct_defects", "accepted_values", "segment", "warn", values=["canary", "blue", "green", "full"])
    assert has("fct_deployments", "accepted_values", "status", "warn",
               values=["succeeded", "failed", "rolled_back"])
    assert has("fct_defects", "expression_is_true", None,
               expression="resolved_at is null or resolved_at >= created_at")
    assert has("fct_incidents", "expression_is_true", None,
               expression="acknowledged_at is null or acknowledged_at >= detected_at")
    assert has("rollback_hotfix_summary", "accepted_range", "max_hours_to_rollback", min_value=0)
    assert has("release_gate", "accepted_values", "verdict", values=["PASS", "HOLD"])


@pytest.fixture(scope="module")
def row_rules_sql():
    """The project's row_rules test as dbt compiles it: row_rules_sql(model, **rules) -> SQL. dbt's
    Jinja environment turns `{% test row_rules %}` into the macro `dbt_macro__test_row_rules`;
    `ref` resolves to the marts schema."""
    from dbt.context.exceptions_jinja import wrapped_exports
    from dbt_common.clients.jinja import get_environment

    source = (DBT_PROJECT_DIR / "tests" / "generic" / "row_rules.sql").read_text(encoding="utf-8")
    context = {"ref": lambda name: f"marts.{name}", "exceptions": wrapped_exports(None)}
    macros = get_environment().from_string(source, globals=context).module
    return lambda model, **rules: macros.dbt_macro__test_row_rules(model=model, **rules)


# One rule of each kind, on a table with an as-of of 2026-03-31 and a parent table holding 1 and NULL.
CHECKED = {
    "not_null": ["id", "status"],
    "accepted_values": {"status": ["open", "closed"]},
    "accepted_range": {"score": {"min_value": 0, "max_value": 1}},
    "not_after_as_of": ["seen_at"],
    "relationships": {"parent_id": {"to": "marts.parents", "field": "id"}},
    "expression_is_true": {"closed_has_score": "status <> 'closed' or score is not null"},
}


@pytest.mark.parametrize(("row", "broken"), [
    ((1, None, 0.5, "2026-03-01", 1), ["not_null(status)"]),  # NULL passes accepted_values and the expression
    ((1, "pending", 0.5, "2026-03-01", 1), ["accepted_values(status)"]),
    ((1, "open", 1.5, "2026-03-01", 1), ["accepted_range(score)"]),
    ((1, "open", -0.5, None, None), ["accepted_range(score)"]),  # NULL passes not_after_as_of and relationships
    ((1, "open", 0.5, "2026-03-31 00:00:01", 1), ["not_after_as_of(seen_at)"]),
    ((1, "open", 0.5, "2026-03-01", 7), ["relationships(parent_id)"]),  # the parent's NULL matches nothing
    ((1, "closed", None, "2026-03-01", 1), ["expression_is_true(closed_has_score)"]),  # NULL passes the range
    # a NULL expression fails: `NULL <> 'closed' or NULL is not null` is NULL
    ((None, None, None, "2026-03-01", 1),
     ["not_null(id)", "not_null(status)", "expression_is_true(closed_has_score)"]),
])
def test_row_rules_returns_the_offending_row_naming_each_rule_it_breaks(con, row_rules_sql, row, broken):
    con.execute("create table marts.int_as_of as select timestamptz '2026-03-31 00:00:00+00' as as_of")
    con.execute("create table marts.parents as select * from (values (1), (null)) as p (id)")
    con.execute("create table marts.t (id integer, status varchar, score double, seen_at timestamptz, parent_id integer)")
    good = [(2, "open", 0.0, "2026-03-31 00:00:00", 1), (3, "closed", 1.0, None, None)]  # on the bounds: they pass
    con.executemany("insert into marts.t values (?, ?, ?, ?, ?)", [*good, row])
    failing = con.sql(row_rules_sql("marts.t", **CHECKED))
    assert failing.columns == ["failed_rules", "id", "status", "score", "seen_at", "parent_id"]
    assert failing.project("failed_rules, id").fetchall() == [(broken, row[0])]


def test_row_rules_needs_a_rule_and_a_bound(row_rules_sql):
    from dbt_common.exceptions import CompilationError

    with pytest.raises(CompilationError, match="declares no rule"):
        row_rules_sql("marts.t")
    with pytest.raises(CompilationError, match=r"accepted_range on marts\.t\.score needs min_value or max_value"):
        row_rules_sql("marts.t", accepted_range={"score": {"inclusive": False}})


# The rates' row-level rules, as a model's YAML would declare them.
RATE_RULES = {
    "not_null": ["service"],
    "accepted_range": {"escape_rate": {"min_value": 0, "max_value": 1}},
    "expression_is_true": {"rates_release_named": "release is not null or service = 'ALL'"},
}


@pytest.fixture
def rates_warehouse(tmp_path):
    """A warehouse file with one bad rate."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("""
            create schema marts;
            create table marts.rates as select * from (values ('pay', '1.0', 0.5), ('pay', '1.1', 1.5))
                as t (service, release, escape_rate)
        """)
    return path


def dbt_run(results, returncode=1):
    """What the dbt asset sees of a finished `dbt test`: the manifest's test nodes, run_results.json
    and dbt's exit."""
    model = "{{ get_where_subquery(ref('rates')) }}"
    nodes = {
        "test.rules": {"column_name": None, "original_file_path": "models/marts/_marts.yml",
                       "test_metadata": {"name": "row_rules", "kwargs": {**RATE_RULES, "model": model}}},
        "test.unique": {"column_name": None, "original_file_path": "models/marts/_marts.yml",
                        "test_metadata": {"name": "unique_combination_of_columns", "kwargs": {
                            "combination_of_columns": ["service"], "model": model}}},
        "test.singular": {"column_name": None, "original_file_path": "tests/assert_rates_sum.sql"},
    }
    error = RuntimeError("dbt test failed") if returncode else None
    return SimpleNamespace(manifest={"nodes": nodes}, get_artifact=lambda _: {"results": results},
                           get_error=lambda: error)


def failed_check(unique_id, name, severity=dg.AssetCheckSeverity.ERROR):
    return dg.AssetCheckResult(asset_key=dg.AssetKey(["marts", "rates"]), check_name=name, passed=False,
                               severity=severity, metadata={"unique_id": unique_id})


def test_a_failed_dbt_test_carries_its_offending_rows(rates_warehouse, row_rules_sql):
    invocation = dbt_run([
        {"unique_id": "test.rules", "status": "fail", "failures": 1,
         "compiled_code": row_rules_sql("marts.rates", **RATE_RULES) + "\n-- a trailing comment"},
        {"unique_id": "test.unique", "status": "fail", "failures": 1,
         "compiled_code": "select service, count(*) as n_rows from marts.rates group by service having count(*) > 1"},
        {"unique_id": "test.singular", "status": "warn", "failures": 12,
         "compiled_code": "select i as n from range(12) as r (i)"},
        {"unique_id": "model.rates", "status": "success", "failures": None, "compiled_code": "select 1"},
    ])
    rules_check = failed_check("test.rules", "rates_row_rules")
    unique_check = failed_check("test.unique", "unique_combination_of_columns_rates_service")
    singular_check = failed_check("test.singular", "assert_rates_sum", dg.AssetCheckSeverity.WARN)
    reported = list(dbt_tests.with_offending_rows(invocation, [rules_check, unique_check, singular_check],
                                                  rates_warehouse))
    rules_text, unique_text, singular_text = (c.metadata["failures"].value for c in reported)
    # the one broken rule of three, as a test of its own would have read, and the row names it
    assert rules_text == ("  [blocking] escape_rate: accepted_range(min_value=0, max_value=1): 1 row\n"
                          "      failed_rules=['accepted_range(escape_rate)'], service=pay, release=1.1, "
                          "escape_rate=1.5")
    assert unique_text == ("  [blocking] rates: unique_combination_of_columns(combination_of_columns=['service']): "
                           "1 row\n      service=pay, n_rows=2")
    assert singular_text == "  [warning] rates: tests/assert_rates_sum.sql: 12 rows\n" + "\n".join(
        f"      n={n}" for n in range(10))  # at most 10 rows
    assert reported[0].metadata["offending_rows"].value == [
        {"failed_rules": ["accepted_range(escape_rate)"], "service": "pay", "release": "1.1", "escape_rate": 1.5}
    ]
    assert reported[0].metadata["unique_id"].value == "test.rules"  # dagster-dbt's metadata kept
    assert (reported[0].check_name, reported[0].severity) == (rules_check.check_name, dg.AssetCheckSeverity.ERROR)
    # every failure is a reported check: they stop the build, not dbt's exit code
    assert dbt_tests.unreported_error(invocation, reported) is None


def test_each_broken_rule_lists_its_rows_and_each_row_every_rule_it_breaks(rates_warehouse, row_rules_sql):
    """A third rate has no service and is negative: two rules; the 1.5 rate breaks one of them."""
    with duckdb.connect(str(rates_warehouse)) as con:
        con.execute("insert into marts.rates values (null, '2.0', -0.5)")
    invocation = dbt_run([{"unique_id": "test.rules", "status": "fail", "failures": 2,
                           "compiled_code": row_rules_sql("marts.rates", **RATE_RULES)}])
    (reported,) = dbt_tests.with_offending_rows(invocation, [failed_check("test.rules", "rates_row_rules")],
                                                rates_warehouse)
    both = "failed_rules=['not_null(service)', 'accepted_range(escape_rate)'], service=NULL, release=2.0, " \
           "escape_rate=-0.5"
    assert reported.metadata["failures"].value == (
        "  [blocking] service: not_null(): 1 row\n"
        f"      {both}\n"
        "  [blocking] escape_rate: accepted_range(min_value=0, max_value=1): 2 rows\n"
        "      failed_rules=['accepted_range(escape_rate)'], service=pay, release=1.1, escape_rate=1.5\n"
        f"      {both}"
    )
    assert [row["release"] for row in reported.metadata["offending_rows"].value] == ["1.1", "2.0"]


def test_a_test_that_did_not_run_shows_dbt_message_and_other_failures_raise(rates_warehouse):
    invocation = dbt_run([
        {"unique_id": "test.rules", "status": "error", "failures": None,
         "message": "Runtime Error\n  column \"escape_rate\" not found", "compiled_code": "select nothing"},
        {"unique_id": "model.rates", "status": "error", "failures": None, "message": "model failed"},
    ])
    (reported,) = dbt_tests.with_offending_rows(invocation, [failed_check("test.rules", "rules")], rates_warehouse)
    assert reported.metadata["failures"].value == (
        "  [blocking] rates: row_rules(not_null(service), accepted_range(escape_rate), "
        'expression_is_true(rates_release_named)): Runtime Error column "escape_rate" not found'
    )
    # the model's error is no check: dbt's own error fails the step
    assert str(dbt_tests.unreported_error(invocation, [reported])) == "dbt test failed"
    assert dbt_tests.unreported_error(dbt_run([], returncode=0), []) is None


# -- through Dagster and the CLI, on the tiny fixture built for real ---------------------------------

def run_checks(warehouse):
    """Only the GX asset checks, against an existing warehouse, through Dagster."""
    from pipelines.defs.warehouse import Warehouse

    return dg.materialize(
        [*checks.defs.asset_checks, *(dg.AssetSpec(s.asset_key) for s in SUITES)],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"warehouse": Warehouse(path=str(warehouse))},
        raise_on_error=False,
    )


@pytest.mark.slow
def test_all_checks_pass_on_the_tiny_build(tiny_build, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    result = run_checks(warehouse)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(BY_NAME)
    assert all(e.passed for e in evaluations.values())
    assert evaluations["gx_defects"].metadata["rows_checked"].value == 11  # 12 rows, 1 quarantined
    assert evaluations["gx_deploy_recurrence_correlation"].metadata["rows_checked"].value == 3  # pay, web, ALL


@pytest.mark.slow
def test_rho_out_of_range_fails_the_named_blocking_check(tiny_build, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:  # too few weeks on the tiny fixture: rho is NULL
        con.execute("update marts.deploy_recurrence_correlation set rho = 1.5 where service = 'pay'")
    result = run_checks(warehouse)
    assert not result.success  # a failed blocking (ERROR) check fails its step and the run
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.check_name, e.asset_key.to_user_string(), e.severity) for e in failed] == [
        ("gx_deploy_recurrence_correlation", "marts/deploy_recurrence_correlation", dg.AssetCheckSeverity.ERROR)
    ]
    (rule,) = failed[0].metadata["failed_rules"].value
    assert (rule["rule"], rule["expectation"], rule["unexpected_count"]) == (
        "rho in [-1, 1]", "expect_column_values_to_be_between", 1)
    assert rule["offending_rows"] == [{"service": "pay", "rho": 1.5}]


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


# The build reads the dbt project from pipelines.warehouse.DBT_PROJECT_DIR when it is imported, so
# a fresh interpreter points it at a broken copy of the project before anything imports it.
WITH_PROJECT = """
import sys
from pathlib import Path
import pipelines.warehouse
pipelines.warehouse.DBT_PROJECT_DIR = Path(sys.argv[1])
from pipelines.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_broken_mart_fails_its_dbt_test_and_the_build_exits_2_with_the_row(tmp_path):
    """A model bug puts pay 1.0's escape rate (0.5 by hand) at 1.5: the mart's row rules stop the
    build, and the error names the test, the model, the two rules the row breaks and the row."""
    from tests.conftest import TINY, TINY_AS_OF

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "release_escape_rate.sql"
    model.write_text(
        "select * replace (case when service = 'pay' and release = '1.0' then 1.5 else escape_rate end "
        f"as escape_rate)\nfrom (\n{model.read_text()}\n) as model\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", WITH_PROJECT, str(project), "build", "--exports", str(TINY),
         "--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF],
        capture_output=True, text=True, timeout=1200, check=False,
    )
    err = done.stderr
    assert done.returncode == 2, err
    row = ("      failed_rules=['accepted_range(escape_rate)', "
           "'expression_is_true(release_escape_rate_rate_matches_counts)'], service=pay, release=1.0, "
           "pre_release_defects=2, escaped_defects=2, escaped_incidents=0, escape_rate=1.5, rca_required=True, "
           "rca_link=NULL\n")
    assert (
        "error: check release_escape_rate_row_rules failed on marts/release_escape_rate\n"
        "  [blocking] escape_rate: accepted_range(min_value=0, max_value=1): 1 row\n" + row
        + "  [blocking] release_escape_rate_rate_matches_counts: expression_is_true(expression=escape_rate is null "
        "or abs(escape_rate - (escaped_defects + escaped_incidents)::double / (pre_release_defects + "
        "escaped_defects + escaped_incidents)) < 1e-9): 1 row\n" + row
    ) in err
    assert "DagsterDbtCliRuntimeError" not in err  # the failed tests say it all
    assert not (tmp_path / "w.duckdb").exists()
    assert not (tmp_path / "r").exists()  # the reports downstream never ran


def test_warnings_are_printed_in_the_build_summary(capsys):
    from pipelines.cli import print_check_warnings

    def evaluation(name, passed, severity):
        return dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(["marts", "fct_deployments"]), check_name=name, passed=passed,
            severity=severity,
            metadata={"failures": dg.MetadataValue.text("  [warning] status: accepted_values(...): 1 row\n"
                                                        "      value_field=deployed, n_records=1")},
        )

    print_check_warnings([
        evaluation("accepted_values_fct_deployments_status__succeeded__failed__rolled_back", False,
                   dg.AssetCheckSeverity.WARN),
        evaluation("passed_check", True, dg.AssetCheckSeverity.WARN),
    ])
    out = capsys.readouterr().out
    assert "Data-quality warnings" in out
    assert ("check accepted_values_fct_deployments_status__succeeded__failed__rolled_back warning on "
            "marts/fct_deployments") in out
    assert "value_field=deployed, n_records=1" in out
    assert "passed_check" not in out
