"""Great Expectations rules and suites, and running a suite against the warehouse.

Wired by hand rather than through GX's SQL datasource or dagster-ge: GX 1.x's
SQL datasource over DuckDB (duckdb-engine) returns no rows and fails every
expectation (great_expectations#11579), and dagster-ge pins GX < 1. So a suite
reads the columns its expectations need from DuckDB into pandas and validates
them with an in-memory (ephemeral) GX context, one per process. DuckDB first
narrows, in one scan, to the rows that may break a rule (`_may_fail`): GX
judges those, and a table of millions of good rows costs one scan, not a
pandas copy of the table.

Suites are data: a table, the columns that identify a row in a failure report,
and rules, each a GX expectation with a short name and a severity. A failed
blocking rule fails the check with severity ERROR, which stops the build; a
failed warning rule fails it with severity WARN, which the build reports and
goes on.

Tables that grow with the exports are validated in bounded chunks. Key
uniqueness is not a row-level property, so it is not checked chunk by chunk:
DuckDB groups the table by its key and hands GX only the keys held by more than
one row (a frame that is empty when the data is right), which works the same
for ten rows and for millions.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb

from pipelines.defs.quality.failures import MAX_ROWS, call_text, failure_lines, jsonable, rows_text

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
        return [kw[k] for k in ("column", "column_A", "column_B") if k in kw]


@dataclass(frozen=True)
class Suite:
    """The rules for one table."""

    table: str  # "<schema>.<name>": the checked asset and the data
    key: tuple[str, ...]  # identify an offending row in failure reports
    rules: tuple[Rule, ...]
    unique_key: bool = True  # the key columns identify one row (a blocking rule)
    chunked: bool = False  # read in bounded chunks: tables that grow with the exports
    description: str = ""  # why the suite exists: shown in the Dagster UI

    @property
    def check_name(self) -> str:
        return "gx_" + self.table.split(".", 1)[1]

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

    # Identifiers in these statements come from the suite declarations in code, never from input.
    def rows_sql(self) -> tuple[str, list[Any]]:
        """The rows GX has to look at: only those that may break a rule (DuckDB narrows in one
        scan, GX judges), so a suite over millions of good rows hands GX an empty frame."""
        columns = list(dict.fromkeys([*self.key, *(c for r in self.rules for c in r.columns)]))
        narrowed = [_may_fail(rule) for rule in self.rules]
        where = " or ".join(f"({sql})" for sql, _ in narrowed)
        return (f"select {', '.join(_quote(c) for c in columns)} from {self.table} where {where}",
                [value for _, values in narrowed for value in values])

    def count_sql(self) -> str:
        return f"select count(*) from {self.table}"

    def duplicate_keys_sql(self) -> str:
        key = ", ".join(_quote(c) for c in self.key)
        return (f"select {key}, count(*) as {KEY_COUNT} from {self.table} "
                f"group by {key} having count(*) > 1 order by {key}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _may_fail(rule: Rule) -> tuple[str, list[Any]]:
    """A predicate true for every row the rule's expectation could count as unexpected (GX
    leaves NULLs to the not-null rules), with its bound values; `true` for an expectation this
    does not know, which hands GX every row."""
    kw = rule.kwargs
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        return f"{_quote(kw['column'])} is null", []
    if rule.expectation == "ExpectColumnValuesToBeBetween" and not kw.get("strict_min"):
        column, parts, values = _quote(kw["column"]), [], []
        if kw.get("min_value") is not None:
            parts.append(f"{column} < ?")
            values.append(kw["min_value"])
        if kw.get("max_value") is not None:
            parts.append(f"{column} {'>=' if kw.get('strict_max') else '>'} ?")
            values.append(kw["max_value"])
        return " or ".join(parts) or "false", values
    if rule.expectation == "ExpectColumnPairValuesAToBeGreaterThanB" and \
            kw.get("ignore_row_if") == "either_value_is_missing":
        return f"{_quote(kw['column_A'])} {'<' if kw.get('or_equal') else '<='} {_quote(kw['column_B'])}", []
    return "true", []


# -- rule constructors: each returns the rules for the columns it is given -------------------------

def not_null(*columns: str, blocking: bool = True) -> tuple[Rule, ...]:
    return tuple(Rule(f"{c} not null", "ExpectColumnValuesToNotBeNull", {"column": c}, blocking) for c in columns)


def non_negative(*columns: str, blocking: bool = True) -> tuple[Rule, ...]:
    return tuple(Rule(f"{c} >= 0", "ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0}, blocking)
                 for c in columns)


def between(column: str, low: float, high: float, blocking: bool = True) -> tuple[Rule, ...]:
    return (Rule(f"{column} in [{low}, {high}]", "ExpectColumnValuesToBeBetween",
                 {"column": column, "min_value": low, "max_value": high}, blocking),)


def rate(*columns: str, blocking: bool = True) -> tuple[Rule, ...]:
    return tuple(rule for c in columns for rule in between(c, 0, 1, blocking))


def not_before(later: str, earlier: str, blocking: bool = True) -> tuple[Rule, ...]:
    """later >= earlier where both are given."""
    return (Rule(f"{later} >= {earlier}", "ExpectColumnPairValuesAToBeGreaterThanB",
                 {"column_A": later, "column_B": earlier, "or_equal": True,
                  "ignore_row_if": "either_value_is_missing"}, blocking),)


def in_range(column: str, low: Any, high_exclusive: Any, blocking: bool = True) -> tuple[Rule, ...]:
    return (Rule(f"{column} in [{low}, {high_exclusive})", "ExpectColumnValuesToBeBetween",
                 {"column": column, "min_value": low, "max_value": high_exclusive, "strict_max": True}, blocking),)


def suite(table: str, key: tuple[str, ...], *rules: tuple[Rule, ...], **options: Any) -> Suite:
    return Suite(table, key, tuple(r for group in rules for r in group), **options)


# -- running a suite -------------------------------------------------------------------------------

@dataclass
class RuleFailure:
    rule: Rule
    expectation: str  # GX's snake-case name, e.g. expect_column_values_to_be_between
    unexpected: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def describe(self, rows_checked: int) -> list[str]:
        if self.rule.kwargs.get("column") == KEY_COUNT:
            outcome = self.error or f"{self.unexpected} key(s) on more than one row"
        else:
            outcome = self.error or f"{self.unexpected} of {rows_text(rows_checked)}"
        return failure_lines(self.rule.blocking, self.rule.name, call_text(self.expectation, self.rule.kwargs),
                             outcome, self.rows)


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
                {"rule": f.rule.name, "expectation": f.expectation, "kwargs": jsonable(f.rule.kwargs),
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


def run_suite(con: duckdb.DuckDBPyConnection, suite: Suite) -> Outcome:
    """Validate a suite against the warehouse behind `con`."""
    outcome = Outcome(suite)
    failures: dict[str, RuleFailure] = {}
    if suite.rules:
        (outcome.rows_checked,) = con.execute(suite.count_sql()).fetchone()
        for frame in _frames(con.execute(*suite.rows_sql()), suite.chunked):
            _validate(frame, suite.check_name, suite.rules, suite.key, failures)
    if suite.unique_key:
        for frame in _frames(con.execute(suite.duplicate_keys_sql()), suite.chunked):
            _validate(frame, suite.check_name + "__key", (suite.key_rule,), suite.key, failures)
    order = {r.name: i for i, r in enumerate((*suite.rules, suite.key_rule))}
    outcome.failures = sorted(failures.values(), key=lambda f: order[f.rule.name])
    return outcome


def _frames(result: duckdb.DuckDBPyConnection, chunked: bool) -> Iterator[Any]:
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
        return {"row": jsonable(row)}
    ordered = [c for c in key if c in row] + [c for c in row if c not in key]
    return {c: jsonable(row[c]) for c in ordered}


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
