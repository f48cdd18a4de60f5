"""Data-quality checks: Great Expectations 1.x suites on the raw tables and the public marts,
run as Dagster asset checks (one check per suite, named `gx_<table>`).

Wired by hand rather than through GX's SQL datasource or dagster-ge: GX 1.x's
SQL datasource over DuckDB (duckdb-engine) returns no rows and fails every
expectation (great_expectations#11579), and dagster-ge pins GX < 1. So each
check reads the columns its expectations need from DuckDB into pandas and
validates them with an in-memory (ephemeral) GX context, one per process.

Suites are data: a table, the columns that identify a row in a failure report,
and rules, each a GX expectation with a short name and a severity. A failed
blocking rule fails the check with severity ERROR, which stops the build (the
check is `blocking`); a failed warning rule fails it with severity WARN, which
the build reports and goes on. Adding a suite for a new mart is one `suite(...)`
entry in MART_SUITES.

Tables that grow with the exports (raw entities, `fct_*`) are validated in
bounded chunks. Key uniqueness is not a row-level property, so it is not checked
chunk by chunk: DuckDB groups the table by its key and hands GX only the keys
held by more than one row (a frame that is empty when the data is right), which
works the same for a mart of ten rows and a fact table of millions. Row-level
invariants that join tables (attribution, as-of filtering) stay in dbt tests, which run inside DuckDB.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import dagster as dg

from pipelines.defs.ingest.canonical import ENTITIES, Entity
from pipelines.defs.ingest.rules import EARLIEST, LATEST
from pipelines.defs.warehouse import Warehouse

log = logging.getLogger("defectflow")

MAX_ROWS = 10  # offending rows reported per failed rule
CHUNK_VECTORS = 64  # DuckDB vectors (2048 rows each) per chunk: about 130k rows
KEY_COUNT = "rows_with_key"  # the column of the duplicate-key frame


@dataclass(frozen=True)
class Rule:
    """One GX expectation: `expectation` is its class in `great_expectations.expectations`."""

    name: str  # shown in failures, e.g. "escape_rate in [0, 1]"
    expectation: str
    kwargs: dict[str, Any]
    blocking: bool = True

    @property
    def columns(self) -> list[str]:
        kw = self.kwargs
        return [kw[k] for k in ("column", "column_A", "column_B") if k in kw] + list(kw.get("column_list", []))


@dataclass(frozen=True)
class Suite:
    """The rules for one table (or for a frame derived from it by `query`)."""

    table: str  # "<schema>.<name>": the checked asset, and the data unless `query` is given
    key: tuple[str, ...]  # identify an offending row in failure reports
    rules: tuple[Rule, ...]
    unique_key: bool = True  # the key columns identify one row (a blocking rule)
    chunked: bool = False  # read in bounded chunks: tables that grow with the exports
    query: str | None = None  # a derived frame for a cross-row invariant; the rules name its columns
    reads: tuple[str, ...] = ()  # other tables `query` reads (the check runs after them)
    name: str | None = None
    description: str = ""

    @property
    def check_name(self) -> str:
        return self.name or "gx_" + self.table.split(".", 1)[1]

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))

    @property
    def blocking(self) -> bool:
        return self.unique_key or any(r.blocking for r in self.rules)

    @property
    def key_rule(self) -> Rule:
        return Rule(f"{', '.join(self.key)} unique", "ExpectColumnValuesToBeBetween",
                    {"column": KEY_COUNT, "min_value": 1, "max_value": 1})

    def rows_sql(self) -> str:
        if self.query:
            return self.query
        columns = list(dict.fromkeys([*self.key, *(c for r in self.rules for c in r.columns)]))
        # Identifiers come from the declarations in this module, never from input.
        return f"select {', '.join(_quote(c) for c in columns)} from {self.table}"

    def duplicate_keys_sql(self) -> str:
        key = ", ".join(_quote(c) for c in self.key)
        return (f"select {key}, count(*) as {KEY_COUNT} from {self.table} "
                f"group by {key} having count(*) > 1 order by {key}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# -- rule helpers: each returns the rules for the columns it is given ------------------------------

def not_null(*columns: str, blocking: bool = True) -> tuple[Rule, ...]:
    return tuple(Rule(f"{c} not null", "ExpectColumnValuesToNotBeNull", {"column": c}, blocking) for c in columns)


def non_negative(*columns: str, blocking: bool = True) -> tuple[Rule, ...]:
    return tuple(Rule(f"{c} >= 0", "ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0}, blocking)
                 for c in columns)


def rate(*columns: str, blocking: bool = True) -> tuple[Rule, ...]:
    return tuple(Rule(f"{c} in [0, 1]", "ExpectColumnValuesToBeBetween",
                      {"column": c, "min_value": 0, "max_value": 1}, blocking) for c in columns)


def at_least(column: str, minimum: float, blocking: bool = True) -> tuple[Rule, ...]:
    return (Rule(f"{column} >= {minimum}", "ExpectColumnValuesToBeBetween",
                 {"column": column, "min_value": minimum}, blocking),)


def in_set(column: str, values: list[str], blocking: bool = True) -> tuple[Rule, ...]:
    return (Rule(f"{column} in {{{', '.join(values)}}}", "ExpectColumnValuesToBeInSet",
                 {"column": column, "value_set": values}, blocking),)


def not_before(later: str, earlier: str, blocking: bool = True) -> tuple[Rule, ...]:
    """later >= earlier where both are given."""
    return (Rule(f"{later} >= {earlier}", "ExpectColumnPairValuesAToBeGreaterThanB",
                 {"column_A": later, "column_B": earlier, "or_equal": True,
                  "ignore_row_if": "either_value_is_missing"}, blocking),)


def equal(column_a: str, column_b: str, blocking: bool = True) -> tuple[Rule, ...]:
    return (Rule(f"{column_a} = {column_b}", "ExpectColumnPairValuesToBeEqual",
                 {"column_A": column_a, "column_B": column_b}, blocking),)


def in_range(column: str, low: Any, high_exclusive: Any, blocking: bool = True) -> tuple[Rule, ...]:
    return (Rule(f"{column} in [{low}, {high_exclusive})", "ExpectColumnValuesToBeBetween",
                 {"column": column, "min_value": low, "max_value": high_exclusive, "strict_max": True}, blocking),)


def suite(table: str, key: tuple[str, ...], *rules: tuple[Rule, ...], **options: Any) -> Suite:
    return Suite(table, key, tuple(r for group in rules for r in group), **options)


# -- the suites ------------------------------------------------------------------------------------

def raw_suite(entity: Entity) -> Suite:
    """What ingest guarantees for every loaded row (CONTRACT.md "Bad input"): a broken row
    goes to raw.quarantine, so a failure here is an ingest bug and stops the build before dbt.
    No uniqueness: raw may hold a key twice across files (staging keeps the newest)."""
    stamps = [c.name for c in entity.columns if c.type == "timestamp"]
    earliest, latest = datetime.fromisoformat(EARLIEST), datetime.fromisoformat(LATEST)
    return suite(
        f"raw.{entity.name}", (*entity.key, "source_file", "source_row"),
        not_null(*entity.required, "source_file", "source_row"),
        non_negative(*entity.non_negative),
        *(not_before(later, earlier) for later, earlier in entity.ordered),
        *(in_range(name, earliest, latest) for name in stamps),
        unique_key=False, chunked=True,
        description=f"Ingest's guarantees for raw.{entity.name}: required columns, counts, time order.",
    )


SEVERITIES = ["S1", "S2", "S3", "S4"]
STATUSES = ["new", "triaged", "in_progress", "resolved", "closed", "deferred"]
SEGMENTS = ["canary", "blue", "green", "full"]
GATE_RULES = ["BLOCKING_SEVERITY_OPEN", "OPEN_TOLERANCE_EXCEEDED", "STOP_THE_LINE",
              "PREVIOUS_ESCAPE_RCA_MISSING", "FREEZE_INTAKE"]

# Cumulative flow's invariant (METRICS.md "Cumulative flow"): each day, the defects in all
# statuses add up to the non-duplicate defects created so far. The running count of creations
# comes from a daily count and a window sum, not a per-day scan of fct_defects.
CUMULATIVE_FLOW_TOTALS = """
with flow as (
    select day, sum(defects) as defects_in_flow from marts.cumulative_flow group by day
),
created as (
    select cast(created_at as date) as day, count(*) as created
    from marts.fct_defects where not is_duplicate group by 1
),
days as (
    select day, defects_in_flow, 0 as created from flow
    union all
    select day, null, created from created
),
running as (
    select day, cast(max(defects_in_flow) as bigint) as defects_in_flow,
        sum(sum(created)) over (order by day) as defects_created
    from days group by day
)
select day, defects_in_flow, cast(defects_created as bigint) as defects_created
from running where defects_in_flow is not null order by day
"""

MART_SUITES = [
    # Fact tables: one row per record, so they grow with the exports.
    suite("marts.fct_defects", ("defect_id",),
          not_null("defect_id", "severity", "status", "service", "environment", "created_at", "is_duplicate",
                   "attribution_method", "is_open", "is_pre_release", "is_escaped"),
          in_set("severity", SEVERITIES), in_set("status", STATUSES),
          in_set("attribution_method", ["found_in_release", "deployment", "unattributed"]),
          in_set("segment", SEGMENTS, blocking=False),
          non_negative("users_affected", "ttd_hours", "ttr_hours", "sla_target_hours"),
          not_before("resolved_at", "created_at"),
          chunked=True),
    suite("marts.fct_incidents", ("incident_id",),
          not_null("incident_id", "detected_at", "environment", "is_open", "attribution_method"),
          in_set("severity", SEVERITIES),
          in_set("attribution_method", ["deployment_id", "window", "unattributed"]),
          non_negative("ttd_hours", "ttr_hours", "tta_hours", "sla_target_hours"),
          not_before("resolved_at", "detected_at"), not_before("acknowledged_at", "detected_at"),
          chunked=True),
    suite("marts.fct_deployments", ("deployment_id",),
          not_null("deployment_id", "service", "environment", "finished_at", "week_start", "served", "is_hotfix"),
          in_set("segment", SEGMENTS, blocking=False),
          in_set("status", ["succeeded", "failed", "rolled_back"], blocking=False),
          not_before("finished_at", "started_at"),
          chunked=True),
    # No key: the same case may legitimately appear twice in one report (dbt warns).
    suite("marts.fct_test_cases", ("source_file", "run_id", "classname", "name"),
          not_null("source_file", "run_id", "name", "status"),
          in_set("status", ["passed", "failed", "error", "skipped"]),
          non_negative("duration_s"),
          unique_key=False, chunked=True),
    suite("marts.fct_coverage", ("report_id", "file"),
          not_null("report_id", "file", "lines_valid", "lines_covered"),
          non_negative("lines_valid", "lines_covered", "branches_valid", "branches_covered"),
          rate("line_coverage"),
          chunked=True),
    # Aggregates: bounded by services x releases / weeks / days, validated whole.
    suite("marts.release_escape_rate", ("service", "release"),
          not_null("service", "pre_release_defects", "escaped_defects", "escaped_incidents"),
          non_negative("pre_release_defects", "escaped_defects", "escaped_incidents"),
          rate("escape_rate")),
    suite("marts.detection_resolution_by_environment", ("record_type", "environment", "severity"),
          not_null("record_type", "environment", "severity", "n_detect", "n_resolve", "n_not_measurable"),
          in_set("record_type", ["defect", "incident"]), in_set("severity", [*SEVERITIES, "ALL"]),
          non_negative("n_detect", "n_resolve", "n_not_measurable", "mttd_hours", "median_ttd_hours",
                       "p90_ttd_hours", "mttr_hours", "median_ttr_hours", "p90_ttr_hours")),
    suite("marts.defect_aging", ("snapshot_date", "severity", "age_bucket"),
          not_null("snapshot_date", "severity", "age_bucket", "open_defects", "mean_age_days"),
          in_set("age_bucket", ["0-7d", "8-30d", "31-90d", ">90d"]),
          at_least("open_defects", 1), non_negative("mean_age_days")),
    suite("marts.cumulative_flow", ("day", "status"),
          not_null("day", "status", "defects"), in_set("status", STATUSES), non_negative("defects")),
    suite("marts.cumulative_flow", ("day",),
          equal("defects_in_flow", "defects_created"),
          query=CUMULATIVE_FLOW_TOTALS, reads=("marts.fct_defects",), unique_key=False,
          name="gx_cumulative_flow_totals",
          description="Each day, the defects in all statuses add up to the non-duplicate defects created so far."),
    suite("marts.change_failure_rate", ("service", "week_start"),
          not_null("service", "production_deployments", "failed_deployments"),
          non_negative("production_deployments", "failed_deployments"),
          not_before("production_deployments", "failed_deployments"),
          rate("change_failure_rate")),
    suite("marts.delivery_metrics", ("service", "week_start"),
          not_null("service", "deployments", "n_lead_time", "n_recovery", "n_mtta"),
          non_negative("deployments", "n_lead_time", "n_recovery", "n_mtta",
                       "lead_time_hours_median", "recovery_hours_median", "mtta_hours"),
          rate("change_failure_rate", "reopen_rate")),
    suite("marts.release_gate", ("service", "release", "environment"),
          not_null("service", "release", "environment", "verdict"),
          in_set("verdict", ["PASS", "HOLD"])),
    suite("marts.release_gate_findings", ("service", "release", "environment", "rule", "severity"),
          not_null("service", "release", "environment", "rule", "observed", "is_waived"),
          in_set("rule", GATE_RULES),
          non_negative("observed", "threshold")),
    suite("marts.compliance_findings", ("rule", "entity_type", "entity_id"),
          not_null("rule", "entity_type", "entity_id", "detail"),
          in_set("rule", ["RCA_MISSING", "DEFERRAL_RATIONALE_MISSING", "COMMIT_UNLINKED", "TRIAGE_UNOWNED"]),
          in_set("entity_type", ["defect", "incident", "commit"])),
    suite("marts.escape_coverage_gaps", ("service", "release", "defect_id", "incident_id", "file"),
          not_null("service", "defect_id"), rate("line_coverage"), at_least("commits", 1)),
    suite("marts.escape_coverage_gap_summary", ("service", "component"),
          not_null("service", "component", "escaped_defects", "files", "measured_files", "gap_files"),
          non_negative("escaped_defects", "files", "measured_files", "gap_files", "n_line_coverage"),
          not_before("files", "measured_files"), not_before("measured_files", "gap_files"),
          rate("gap_rate", "mean_line_coverage")),
    suite("marts.defect_clusters", ("defect_id",),
          not_null("defect_id", "cluster_id", "cluster_size", "is_recurrence", "cluster_method"),
          at_least("cluster_size", 1),
          in_set("cluster_method", ["explicit_link", "similarity", "explicit_link+similarity", "singleton"])),
    suite("marts.duplicate_candidates", ("defect_id", "candidate_id"),
          not_null("defect_id", "candidate_id", "rank", "score", "reasons", "above_threshold"),
          at_least("rank", 1), rate("score")),
    suite("marts.deploy_frequency_recurrence", ("service", "week_start"),
          not_null("service", "week_start", "production_deployments", "recurrences"),
          non_negative("production_deployments", "recurrences")),
    suite("marts.deploy_recurrence_correlation", ("service",),
          not_null("service", "n_weeks", "method"), non_negative("n_weeks"), rate("p_value"),
          (Rule("rho in [-1, 1]", "ExpectColumnValuesToBeBetween",
                {"column": "rho", "min_value": -1, "max_value": 1}),)),
    suite("marts.release_segment_defects", ("service", "release"),
          not_null("service", "release", "production_defects", "defects_during_canary", "defects_after_full"),
          non_negative("canary_hours", "production_defects", "defects_during_canary", "defects_after_full",
                       "defects_outside_rollout"),
          rate("canary_catch_rate")),
    suite("marts.config_drift_suspects", ("service", "release", "cluster_key"),
          not_null("service", "release", "cluster_key", "environment_seen", "environments_deployed"),
          at_least("environments_deployed_count", 2), non_negative("defects", "reports")),
    suite("marts.version_skew", ("environment", "service", "day"),
          not_null("environment", "service", "day", "releases_running", "is_skewed", "defects_found"),
          non_negative("releases_running", "defects_found"),
          chunked=True),
    suite("marts.rollback_hotfix_events", ("deployment_id",),
          not_null("deployment_id", "service", "finished_at", "is_rolled_back"),
          non_negative("hours_to_rollback", "hours_to_hotfix", "linked_defects", "matching_failed_tests")),
    suite("marts.rollback_hotfix_summary", ("service", "release"),
          not_null("service", "release", "failed_deployments", "rollbacks", "hotfix_deployments"),
          non_negative("failed_deployments", "rollbacks", "hotfix_deployments", "median_hours_to_rollback",
                       "max_hours_to_rollback", "median_hours_to_hotfix", "max_hours_to_hotfix",
                       "bypassed_failures")),
    *(suite(f"marts.escape_rate_by_{dim}", (dim, "service", "release"),
            not_null(dim, "service", "pre_release_defects", "escaped_defects"),
            non_negative("pre_release_defects", "escaped_defects"), rate("defect_escape_rate"))
      for dim in ("team", "component")),
    *(suite(f"marts.detection_resolution_by_{dim}", (dim, "environment", "severity"),
            not_null(dim, "environment", "severity", "n_detect", "n_resolve", "n_not_measurable"),
            in_set("severity", [*SEVERITIES, "ALL"]),
            non_negative("n_detect", "n_resolve", "n_not_measurable", "mttd_hours", "median_ttd_hours",
                         "p90_ttd_hours", "mttr_hours", "median_ttr_hours", "p90_ttr_hours"))
      for dim in ("team", "component")),
]

RAW_SUITES = [raw_suite(entity) for entity in ENTITIES.values()]
SUITES = RAW_SUITES + MART_SUITES


# -- running a suite -------------------------------------------------------------------------------

@dataclass
class RuleFailure:
    rule: Rule
    expectation: str  # GX's snake-case name, e.g. expect_column_values_to_be_between
    unexpected: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def describe(self, rows_checked: int) -> list[str]:
        args = ", ".join(f"{k}={_text(v)}" for k, v in self.rule.kwargs.items())
        level = "blocking" if self.rule.blocking else "warning"
        if self.rule.kwargs.get("column") == KEY_COUNT:
            what = self.error or f"{self.unexpected} key(s) on more than one row"
        else:
            what = self.error or f"{self.unexpected} of {rows_checked} rows"
        lines = [f"  [{level}] {self.rule.name}: {self.expectation}({args}): {what}"]
        lines += ["      " + ", ".join(f"{k}={_text(v)}" for k, v in row.items()) for row in self.rows]
        return lines


@dataclass
class Outcome:
    suite: Suite
    rows_checked: int = 0
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        only_warnings = self.failures and not any(f.rule.blocking for f in self.failures)
        return dg.AssetCheckSeverity.WARN if only_warnings else dg.AssetCheckSeverity.ERROR

    def failures_text(self) -> str:
        """The failed rules, each with its GX expectation and offending rows."""
        return "\n".join(line for f in self.failures for line in f.describe(self.rows_checked))

    def check_result(self) -> dg.AssetCheckResult:
        metadata: dict[str, Any] = {"rows_checked": self.rows_checked}
        if self.failures:
            metadata["failed_rules"] = dg.MetadataValue.json([
                {"rule": f.rule.name, "expectation": f.expectation, "kwargs": _jsonable(f.rule.kwargs),
                 "severity": "blocking" if f.rule.blocking else "warning", "unexpected_count": f.unexpected,
                 "offending_rows": f.rows, "error": f.error}
                for f in self.failures
            ])
            metadata["failures"] = dg.MetadataValue.text(self.failures_text())
        return dg.AssetCheckResult(
            check_name=self.suite.check_name,
            asset_key=self.suite.asset_key,
            passed=self.passed,
            severity=self.severity,
            metadata=metadata,
        )


def run_suite(con, suite: Suite) -> Outcome:
    """Validate a suite against the warehouse behind `con`."""
    outcome = Outcome(suite)
    failures: dict[str, RuleFailure] = {}
    if suite.rules:
        result = con.execute(suite.rows_sql())
        for frame in _frames(result, suite.chunked):
            outcome.rows_checked += len(frame)
            _validate(frame, suite.check_name, suite.rules, suite.key, failures)
    if suite.unique_key:
        for frame in _frames(con.execute(suite.duplicate_keys_sql()), suite.chunked):
            _validate(frame, suite.check_name + "__key", (suite.key_rule,), suite.key, failures)
    order = {r.name: i for i, r in enumerate((*suite.rules, suite.key_rule))}
    outcome.failures = sorted(failures.values(), key=lambda f: order[f.rule.name])
    return outcome


def _frames(result, chunked: bool) -> Iterator[Any]:
    # Dates as dates (not midnight timestamps), so a failure report shows what the table holds.
    if not chunked:
        yield result.df(date_as_object=True)
        return
    while len(chunk := result.fetch_df_chunk(CHUNK_VECTORS, date_as_object=True)):
        yield chunk


def _validate(frame, suite_name: str, rules: tuple[Rule, ...], key: tuple[str, ...],
              failures: dict[str, RuleFailure]) -> None:
    """Validate one frame and add what failed to `failures` (summed over chunks)."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    with warnings.catch_warnings():
        # GX 1.24 compares timestamp-with-time-zone columns through Series.values, which
        # pandas 3.1 deprecates (both sides become UTC instants, so the comparison holds).
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
        result = batch.validate(
            _gx_suite(suite_name, rules),
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": [c for c in key if c in frame.columns],
                "partial_unexpected_count": MAX_ROWS,
            },
        )
    by_name = {r.name: r for r in rules}
    for evr in result.results:
        if evr.success:
            continue
        rule = by_name[evr.expectation_config.meta["rule"]]
        failure = failures.setdefault(rule.name, RuleFailure(rule, evr.expectation_config.type))
        failure.unexpected += evr.result.get("unexpected_count") or 0
        for row in evr.result.get("partial_unexpected_index_list") or []:
            if len(failure.rows) < MAX_ROWS:
                failure.rows.append(_offending_row(row, key))
        if evr.exception_info and evr.exception_info.get("raised_exception"):
            failure.error = str(evr.exception_info.get("exception_message"))


def _offending_row(row: Any, key: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(row, dict):  # no key column in the frame: GX gives the row index
        return {"row": _jsonable(row)}
    ordered = [c for c in key if c in row] + [c for c in row if c not in key]
    return {c: _jsonable(row[c]) for c in ordered}


@functools.cache
def _batch_definition():
    """The process's one GX context (ephemeral: nothing on disk), quiet: no progress bars,
    no analytics, no INFO logging."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    frames = context.data_sources.add_pandas("warehouse").add_dataframe_asset("frame")
    return frames.add_batch_definition_whole_dataframe("whole frame")


_GX_SUITES: dict[tuple[str, str], Any] = {}


def _gx_suite(name: str, rules: tuple[Rule, ...]):
    cache_key = (name, repr(rules))
    if cache_key not in _GX_SUITES:
        import great_expectations as gx
        import great_expectations.expectations as gxe

        gx_suite = gx.ExpectationSuite(name=name)
        for rule in rules:
            gx_suite.add_expectation(getattr(gxe, rule.expectation)(**rule.kwargs, meta={"rule": rule.name}))
        _GX_SUITES[cache_key] = gx_suite
    return _GX_SUITES[cache_key]


def _jsonable(value: Any) -> Any:
    """Metadata must be JSON: numpy scalars to Python, missing values to None, instants to ISO text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (datetime, date)):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (datetime, date)):
        return None if str(value) == "NaT" else value.isoformat()
    if isinstance(value, (int, float)):
        return value
    return None if str(value) in ("<NA>", "NaT", "nan") else str(value)


def _text(value: Any) -> str:
    value = _jsonable(value)
    return "NULL" if value is None else str(value)


# -- the Dagster asset checks ----------------------------------------------------------------------

def _asset_check(suite: Suite) -> dg.AssetChecksDefinition:
    rules = "\n".join(f"- {r.name} ({'blocking' if r.blocking else 'warning'})" for r in suite.rules)
    if suite.unique_key:
        rules += f"\n- {suite.key_rule.name} (blocking)"

    @dg.asset_check(
        asset=suite.asset_key,
        name=suite.check_name,
        blocking=suite.blocking,
        additional_deps=[dg.AssetKey(t.split(".")) for t in suite.reads],
        description=f"Great Expectations suite. {suite.description}\n\n{rules}".strip(),
    )
    def gx_check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            outcome = run_suite(con, suite)
        if not outcome.passed:
            log.warning("  check failed: %s on %s", suite.check_name, suite.asset_key.to_user_string())
        return outcome.check_result()

    return gx_check


defs = dg.Definitions(asset_checks=[_asset_check(s) for s in SUITES])
