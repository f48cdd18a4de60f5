"""The rows behind a failed dbt test, so it reads like a failed Great Expectations rule.

dagster-dbt reports a dbt test as an asset check with its status and failure count
only. dbt holds the DuckDB file while it runs, so the dbt asset holds a failed
test's check back until the dbt process has exited; then the test's compiled SQL
(run_results.json) runs again, limited to MAX_ROWS rows, against the build's copy
of the warehouse that dbt wrote, and the check carries the rows in its `failures`
metadata.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from pipelines.defs.quality.failures import MAX_ROWS, call_text, failure_lines, jsonable, rows_text
from pipelines.warehouse import connect

FAILING_STATUSES = ("fail", "error")  # dbt result statuses that fail a build; `warn` does not


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


def _failure_metadata(con: duckdb.DuckDBPyConnection, check: dg.AssetCheckResult, node: Mapping[str, Any],
                      result: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    rows: list[dict[str, Any]] = []
    if result["status"] == "error":  # the test's SQL did not run: dbt's message says why
        outcome = " ".join(str(result["message"]).split())
    else:
        outcome = rows_text(result["failures"])
        try:
            rows = _offending_rows(con, result["compiled_code"])
        except duckdb.Error as exc:
            outcome += f" (the rows could not be read: {exc})"
    blocking = check.severity == dg.AssetCheckSeverity.ERROR
    text = "\n".join(failure_lines(blocking, _subject(check, node), _test_call(node), outcome, rows))
    return {"failures": dg.MetadataValue.text(text), "offending_rows": dg.MetadataValue.json(rows)}


def _offending_rows(con: duckdb.DuckDBPyConnection, compiled_sql: str) -> list[dict[str, Any]]:
    # The SQL is the project's own test as dbt compiled it, not input; the relation API adds the limit.
    failing = con.sql(compiled_sql).limit(MAX_ROWS)
    return [dict(zip(failing.columns, jsonable(list(row)))) for row in failing.fetchall()]


def _subject(check: dg.AssetCheckResult, node: Mapping[str, Any]) -> str:
    """The tested column, or the model for a test of whole rows."""
    return node.get("column_name") or check.asset_key.path[-1]


def _test_call(node: Mapping[str, Any]) -> str:
    """A generic test with its arguments, or a singular test's file."""
    metadata = node.get("test_metadata")
    if not metadata:
        return node["original_file_path"]
    arguments = {k: v for k, v in metadata["kwargs"].items() if k not in ("model", "column_name")}
    return call_text(metadata["name"], arguments)
