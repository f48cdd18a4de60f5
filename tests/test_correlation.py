"""Spearman correlation of weekly deployments vs recurrences (docs/metrics.md "Deployment frequency
vs recurrence"): the pure function against scipy and by hand, and the asset's table."""

from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.defs.correlation import (
    deploy_recurrence_correlation,
    spearman_by_service,
)
from pipelines.defs.warehouse import Warehouse


def weeks(service: str, deployments: list[int], recurrences: list[int]) -> pd.DataFrame:
    start = date(2026, 1, 5)  # a Monday
    return pd.DataFrame({
        "service": service,
        "week_start": [start + timedelta(weeks=i) for i in range(len(deployments))],
        "production_deployments": deployments,
        "recurrences": recurrences,
    })


def row(result: pd.DataFrame, service: str) -> pd.Series:
    matches = result[result["service"] == service]
    assert len(matches) == 1, service
    return matches.iloc[0]


def test_hand_computed_rho_without_ties():
    # no ties, so ranks equal the values; d = x - y = -1, 1, -1, 1, -1, 1, -1, 1 -> sum d^2 = 8,
    # n = 8: rho = 1 - 6 * 8 / (8 * (8^2 - 1)) = 1 - 48 / 504 = 456 / 504 = 19 / 21 = 0.904762
    result = spearman_by_service(weeks("s", [1, 2, 3, 4, 5, 6, 7, 8], [2, 1, 4, 3, 6, 5, 8, 7]))
    assert row(result, "s")["rho"] == pytest.approx(19 / 21)
    assert row(result, "s")["n_weeks"] == 8


def test_ties_match_scipy_average_ranks():
    deployments = [0, 1, 1, 2, 0, 3, 1, 2, 0, 1]
    recurrences = [0, 0, 1, 1, 0, 2, 0, 1, 1, 0]
    result = row(spearman_by_service(weeks("s", deployments, recurrences)), "s")
    expected = stats.spearmanr(deployments, recurrences)
    assert result["rho"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    # ties take average ranks: Pearson's r of the averaged ranks is the same rho
    averaged = np.corrcoef(stats.rankdata(deployments), stats.rankdata(recurrences))[0, 1]
    assert result["rho"] == pytest.approx(averaged)
    assert 0 < result["p_value"] < 1
    assert result["method"] == "spearman"


def test_p_value_is_two_sided():
    # a perfectly reversed order: rho = -1; a one-sided "greater" test would give p = 1
    result = row(spearman_by_service(weeks("s", list(range(10)), list(range(9, -1, -1)))), "s")
    assert result["rho"] == pytest.approx(-1.0)
    assert result["p_value"] == pytest.approx(stats.spearmanr(range(10), range(9, -1, -1)).pvalue)
    assert result["p_value"] < 0.01


def test_constant_side_is_null():
    result = spearman_by_service(pd.concat([
        weeks("no_recurrences", [1, 2, 3, 4, 5, 6, 7, 8, 9], [0] * 9),
        weeks("steady", [2] * 9, [0, 1, 0, 2, 0, 1, 0, 0, 1]),
    ]))
    for service in ["no_recurrences", "steady"]:
        assert row(result, service)["n_weeks"] == 9
        assert pd.isna(row(result, service)["rho"]) and pd.isna(row(result, service)["p_value"])


def test_seven_weeks_is_null_eight_weeks_is_a_value():
    deployments, recurrences = [3, 1, 4, 1, 5, 9, 2, 6], [1, 0, 2, 0, 1, 3, 0, 2]
    seven = row(spearman_by_service(weeks("s", deployments[:7], recurrences[:7])), "s")
    assert seven["n_weeks"] == 7
    assert pd.isna(seven["rho"]) and pd.isna(seven["p_value"])
    eight = row(spearman_by_service(weeks("s", deployments, recurrences)), "s")
    assert eight["n_weeks"] == 8
    assert eight["rho"] == pytest.approx(stats.spearmanr(deployments, recurrences).statistic)


def test_all_pools_every_service_week():
    a = weeks("a", [1, 2, 3, 4, 5], [0, 1, 1, 2, 3])
    b = weeks("b", [0, 2, 1, 3, 0], [1, 1, 0, 2, 0])
    result = spearman_by_service(pd.concat([a, b]))
    assert list(result["service"]) == ["a", "b", "ALL"]
    # five weeks each: too few per service, ten pooled
    assert pd.isna(row(result, "a")["rho"]) and pd.isna(row(result, "b")["rho"])
    pooled = row(result, "ALL")
    assert pooled["n_weeks"] == 10
    expected = stats.spearmanr([1, 2, 3, 4, 5, 0, 2, 1, 3, 0], [0, 1, 1, 2, 3, 1, 1, 0, 2, 0])
    assert pooled["rho"] == pytest.approx(expected.statistic)
    assert pooled["p_value"] == pytest.approx(expected.pvalue)


def test_no_weeks_no_rows():
    empty = weeks("s", [], [])
    result = spearman_by_service(empty)
    assert result.empty
    assert list(result.columns) == ["service", "n_weeks", "rho", "p_value", "method"]


def _warehouse(path, frame: pd.DataFrame) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.deploy_frequency_recurrence "
            "(service varchar, week_start date, production_deployments bigint, recurrences bigint)"
        )
        con.register("frame", frame)
        con.execute("insert into marts.deploy_frequency_recurrence select * from frame")


def _materialize(path) -> None:
    result = dg.materialize(
        [deploy_recurrence_correlation], resources={"warehouse": Warehouse(path=str(path))}
    )
    assert result.success


EXPECTED_SCHEMA = [
    ("service", "VARCHAR"), ("n_weeks", "BIGINT"), ("rho", "DOUBLE"), ("p_value", "DOUBLE"), ("method", "VARCHAR"),
]


def test_asset_writes_the_table(tmp_path):
    path = tmp_path / "w.duckdb"
    _warehouse(path, pd.concat([
        weeks("s", [1, 2, 3, 4, 5, 6, 7, 8], [2, 1, 4, 3, 6, 5, 8, 7]),
        weeks("t", [1, 0, 2], [0, 0, 1]),
    ]))
    _materialize(path)
    with duckdb.connect(str(path), read_only=True) as con:
        schema = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'deploy_recurrence_correlation' order by ordinal_position"
        ).fetchall()
        rows = con.execute(
            "select service, n_weeks, rho, p_value is null, method from marts.deploy_recurrence_correlation "
            "order by service"
        ).fetchall()
    assert schema == EXPECTED_SCHEMA
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("ALL", 11, False, "spearman"), ("s", 8, False, "spearman"), ("t", 3, True, "spearman"),
    ]
    assert rows[1][2] == pytest.approx(19 / 21)
    assert rows[2][2] is None


def test_asset_writes_an_empty_table_with_its_columns(tmp_path):
    path = tmp_path / "w.duckdb"
    _warehouse(path, weeks("s", [], []))
    _materialize(path)
    _materialize(path)  # create or replace: a rebuild does not append
    with duckdb.connect(str(path), read_only=True) as con:
        schema = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'deploy_recurrence_correlation' order by ordinal_position"
        ).fetchall()
        count = con.execute("select count(*) from marts.deploy_recurrence_correlation").fetchone()[0]
    assert schema == EXPECTED_SCHEMA
    assert count == 0
