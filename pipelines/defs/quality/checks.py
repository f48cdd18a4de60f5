"""The Great Expectations suites as Dagster asset checks, one per suite, named `gx_<table>`."""

from __future__ import annotations

import logging

import dagster as dg

from pipelines import progress
from pipelines.defs.quality.rules import Suite, run_suite
from pipelines.defs.quality.suites import SUITES
from pipelines.defs.warehouse import Warehouse

log = logging.getLogger("defectflow")


def asset_check(suite: Suite) -> dg.AssetChecksDefinition:
    """A check that validates `suite`; blocking when any of its rules is."""
    rules = "\n".join(f"- {r.name} ({'blocking' if r.blocking else 'warning'})" for r in suite.rules)
    if suite.unique_key:
        rules += f"\n- {suite.key_rule.name} (blocking)"

    @dg.asset_check(
        asset=suite.asset_key,
        name=suite.check_name,
        blocking=suite.blocking,
        description=f"Great Expectations suite. {suite.description}\n\n{rules}".strip(),
    )
    def gx_check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with progress.stage(f"check {suite.check_name}"), warehouse.connect(read_only=True) as con:
            outcome = run_suite(con, suite)
        if not outcome.passed:
            log.warning("  check failed: %s on %s", suite.check_name, suite.asset_key.to_user_string())
        return outcome.check_result()

    return gx_check


defs = dg.Definitions(asset_checks=[asset_check(s) for s in SUITES])
