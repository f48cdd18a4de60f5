"""The rows behind a failed dbt test, so it reads like a failed Great Expectations rule.

dagster-dbt reports a dbt test as an asset check with its status and failure count
only. dbt holds the DuckDB file while it runs, so the dbt asset holds a failed
test's check back until the dbt process has exited; then the test's compiled SQL
(run_results.json) runs again, limited to MAX_ROWS rows, against the build's copy
of the warehouse that dbt wrote, and the check carries the rows in its `failures`
metadata. A row_rules test (a model's row-level rules in one scan) is reported rule
by rule: each broken rule with its count and its first MAX_ROWS rows, every row
with the names of all the rules it breaks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from pipelines.defs.quality.failures import MAX_ROWS, call_text, failure_lines, jsonable, rows_text
from pipelines.warehouse import connect

FAILING_STATUSES = ("fail", "error")  # dbt result statuses that fail a build; `warn` does not
ROW_RULES = "row_rules"  # dbt_project/tests/generic/row_rules.sql; its rows carry `failed_rules`


def with_offending_rows(invocation: DbtCliInvocation, failed: Sequence[dg.AssetCheckResult],
                        warehouse: Path) -> Iterator[dg.AssetCheckResult]:
    """Each failed (or warning) test's check, with its offending rows read from `warehouse`, the
    file dbt wrote. Call once the dbt process has exited."""
    if not failed:
        return
    results = _run_results(invocation)
    with connect(warehouse, read_only=True) as con:
        for check in failed:
            unique_id = check.metadata["unique_id"].value
            node = invocation.manifest["nodes"][unique_id]
            yield check.with_metadata({**check.metadata, **_failure_metadata(con, check, node, results[unique_id])})


def unreported_error(invocation: DbtCliInvocation, reported: Sequence[dg.AssetCheckResult]) -> Exception | None:
    """dbt's own error when the build failed for more than the failed tests reported as checks
    (a model that did not build, a test that is not an asset check); None otherwise, when the
    failed blocking checks stop the build themselves."""
    error = invocation.get_error()
    if error is None:
        return None
    results = _run_results(invocation)
    failed = {unique_id for unique_id, result in results.items() if result["status"] in FAILING_STATUSES}
    accounted = {check.metadata["unique_id"].value for check in reported}
    return error if not results or failed - accounted else None


def _run_results(invocation: DbtCliInvocation) -> dict[str, Mapping[str, Any]]:
    try:
        artifact = invocation.get_artifact("run_results.json")
    except FileNotFoundError:  # dbt stopped before running a node
        return {}
    return {result["unique_id"]: result for result in artifact["results"]}


@dataclass(frozen=True)
class _Failure:
    """A failed test, or one broken rule of a row_rules test, as failure_lines prints it."""

    subject: str  # the column, the expression's name, or the model
    call: str
    outcome: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class RowRule:
    """One rule of a row_rules test: the test it stands for, its column (or an expression's
    name) and the arguments that test would take."""

    kind: str
    key: str
    arguments: Mapping[str, Any]

    @property
    def name(self) -> str:
        """As the test's `failed_rules` column names it."""
        return f"{self.kind}({self.key})"


def row_rules(node: Mapping[str, Any]) -> list[RowRule]:
    """A row_rules test's rules (its manifest node), in declaration order."""
    found = []
    for kind, declared in node["test_metadata"]["kwargs"].items():
        # accepted_values, accepted_range, relationships and expression_is_true map a column or a
        # name to the rule's argument; not_null and not_after_as_of list columns
        if kind == "model":
            continue
        entries = declared.items() if isinstance(declared, Mapping) else ((column, None) for column in declared)
        found += [RowRule(kind, key, _rule_arguments(kind, argument)) for key, argument in entries]
    return found


def _rule_arguments(kind: str, argument: Any) -> dict[str, Any]:
    if kind == "accepted_values":
        return {"values": argument}
    if kind == "expression_is_true":
        return {"expression": argument}
    return dict(argument or {})  # accepted_range's bounds, relationships' to and field; the others take none


def _failure_metadata(con: duckdb.DuckDBPyConnection, check: dg.AssetCheckResult, node: Mapping[str, Any],
                      result: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    rows: list[dict[str, Any]] = []
    if result["status"] == "error":  # the test's SQL did not run: dbt's message says why
        failures = [_Failure(_subject(check, node), _test_call(node), " ".join(str(result["message"]).split()), [])]
    else:
        try:
            # The SQL is the project's own test as dbt compiled it, not input.
            failing = con.sql(result["compiled_code"])
            rows = _rows(failing)
            failures = (_broken_rules(failing, row_rules(node)) if _is_row_rules(node)
                        else [_Failure(_subject(check, node), _test_call(node), rows_text(result["failures"]), rows)])
        except duckdb.Error as exc:
            outcome = f"{rows_text(result['failures'])} (the rows could not be read: {exc})"
            failures = [_Failure(_subject(check, node), _test_call(node), outcome, [])]
    blocking = check.severity == dg.AssetCheckSeverity.ERROR
    text = "\n".join(line for f in failures for line in failure_lines(blocking, f.subject, f.call, f.outcome, f.rows))
    return {"failures": dg.MetadataValue.text(text), "offending_rows": dg.MetadataValue.json(rows)}


def _rows(failing: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    limited = failing.limit(MAX_ROWS)
    return [dict(zip(limited.columns, jsonable(list(row)))) for row in limited.fetchall()]


def _broken_rules(failing: duckdb.DuckDBPyRelation, rules: Sequence[RowRule]) -> list[_Failure]:
    """Each rule some row breaks, in declaration order, with its count and its first rows."""
    per_rule = failing.project("unnest(failed_rules) as rule").aggregate("rule, count(*) as n_rows", "rule")
    counts = dict(per_rule.fetchall())
    return [
        _Failure(rule.key, call_text(rule.kind, rule.arguments), rows_text(counts[rule.name]),
                 _rows(failing.filter(_breaks(rule.name))))
        for rule in rules if rule.name in counts
    ]


def _breaks(rule: str) -> duckdb.Expression:
    return duckdb.FunctionExpression("list_contains", duckdb.ColumnExpression("failed_rules"),
                                     duckdb.ConstantExpression(rule))


def _is_row_rules(node: Mapping[str, Any]) -> bool:
    return (node.get("test_metadata") or {}).get("name") == ROW_RULES


def _subject(check: dg.AssetCheckResult, node: Mapping[str, Any]) -> str:
    """The tested column, or the model for a test of whole rows."""
    return node.get("column_name") or check.asset_key.path[-1]


def _test_call(node: Mapping[str, Any]) -> str:
    """A generic test with its arguments (a row_rules test with its rules' names), or a singular
    test's file."""
    metadata = node.get("test_metadata")
    if not metadata:
        return node["original_file_path"]
    if _is_row_rules(node):
        return f"{ROW_RULES}({', '.join(rule.name for rule in row_rules(node))})"
    arguments = {k: v for k, v in metadata["kwargs"].items() if k not in ("model", "column_name")}
    return call_text(metadata["name"], arguments)
