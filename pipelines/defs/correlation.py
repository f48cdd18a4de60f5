"""Deployment frequency vs recurrence: Spearman correlation per service and pooled
(docs/metrics.md "Deployment frequency vs recurrence").

dbt builds the weekly series (marts.deploy_frequency_recurrence); the rank
correlation and its p-value come from scipy, which SQL has no equivalent for.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
from scipy import stats

from pipelines import progress
from pipelines.defs.warehouse import Warehouse

WEEKLY_SERIES = ["marts", "deploy_frequency_recurrence"]
MIN_WEEKS = 8
METHOD = "spearman"
COLUMNS = {"service": "object", "n_weeks": "int64", "rho": "float64", "p_value": "float64", "method": "object"}

_READ = """
select service, week_start, production_deployments, recurrences
from marts.deploy_frequency_recurrence
order by service, week_start
"""

_CREATE = """
create schema if not exists marts;
create or replace table marts.deploy_recurrence_correlation (
    service varchar not null,
    n_weeks bigint not null,
    rho double,
    p_value double,
    method varchar not null
);
"""

_INSERT = """
insert into marts.deploy_recurrence_correlation
select service, n_weeks, rho, p_value, method from correlation_rows
"""


def _spearman(deployments: pd.Series, recurrences: pd.Series) -> tuple[float | None, float | None]:
    """rho and two-sided p-value; None when fewer than MIN_WEEKS weeks or a side is constant
    (a constant side has no ranks to correlate)."""
    if len(deployments) < MIN_WEEKS or deployments.nunique() < 2 or recurrences.nunique() < 2:
        return None, None
    # ties get average ranks (scipy's default); the p-value is two-sided
    result = stats.spearmanr(deployments, recurrences)
    return float(result.statistic), float(result.pvalue)


def spearman_by_service(weeks: pd.DataFrame) -> pd.DataFrame:
    """Weekly rows (service, production_deployments, recurrences) -> one row per service plus
    'ALL' (every service's weeks pooled), with n_weeks, rho, p_value and method.

    No rows in, no rows out: a group exists when it has a week.
    """
    if weeks.empty:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})
    groups = [(str(service), frame) for service, frame in weeks.groupby("service", sort=True)]
    groups.append(("ALL", weeks))
    rows = []
    for service, frame in groups:
        rho, p_value = _spearman(frame["production_deployments"], frame["recurrences"])
        rows.append({"service": service, "n_weeks": len(frame), "rho": rho, "p_value": p_value, "method": METHOD})
    return pd.DataFrame(rows).astype(COLUMNS)


@dg.asset(
    key=["marts", "deploy_recurrence_correlation"],
    deps=[WEEKLY_SERIES],
    group_name="marts",
    kinds={"python", "duckdb"},
)
def deploy_recurrence_correlation(warehouse: Warehouse) -> dg.MaterializeResult:
    """Spearman rho and two-sided p-value of weekly production deployments vs recurrences,
    per service and 'ALL'; NULL when n_weeks < 8 or either side is constant."""
    with progress.stage("correlation"), warehouse.connect() as con:
        weeks = con.execute(_READ).df()
        correlation_rows = spearman_by_service(weeks)
        con.execute(_CREATE)
        con.register("correlation_rows", correlation_rows)
        try:
            con.execute(_INSERT)
        finally:
            con.unregister("correlation_rows")
    return dg.MaterializeResult(metadata={
        "rows": len(correlation_rows),
        "rows_with_rho": int(correlation_rows["rho"].notna().sum()),
    })


defs = dg.Definitions(assets=[deploy_recurrence_correlation])
