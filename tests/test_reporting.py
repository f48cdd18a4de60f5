"""Tests for the pipelines.reporting modules and the executive briefing notebook.

The warehouse here is built by hand (not by dbt) with numbers chosen so every
expected value below can be checked with pencil and paper:

release_escape_rate            pre  esc.def  esc.inc  rate
  payments 1.9.0                 8        1        0  1/9  = 11.1%
  payments 1.10.0                4        1        1  2/6  = 33.3%  RCA required, no link
  payments 1.11.0                0        0        0  NULL (nothing found)
  EVIL     EVIL_RELEASE          9        0        0  0/9  = 0.0%
  payments NULL (unattributed)   1        1        0
  EVIL     NULL (unattributed)   0        0        2
  payments ALL                  12        2        1  3/15 = 20.0%
  EVIL     ALL                   9        0        0  0.0%
  ALL      ALL                  21        2        1  3/24 = 12.5%

Release dates (first served production deployment): 1.9.0 2024-05-01,
EVIL_RELEASE 2024-05-15 (rolled back: it still served), 1.10.0 2024-06-03
(the failed 06-01 deployment never served); 1.11.0 only reached staging.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from pipelines.reporting import formatting, fragments, queries, render

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVIL_RELEASE = 'r1<img src=x onerror="alert(2)">'
AS_OF_DATE = "2024-06-30"

_SCHEMA = """
create schema marts;
create table marts.release_escape_rate (
    service varchar, release varchar, pre_release_defects bigint, escaped_defects bigint,
    escaped_incidents bigint, escape_rate double, rca_required boolean, rca_link varchar);
create table marts.detection_resolution_by_environment (
    record_type varchar, environment varchar, severity varchar, n_detect bigint,
    mttd_hours double, median_ttd_hours double, p90_ttd_hours double, n_resolve bigint,
    mttr_hours double, median_ttr_hours double, p90_ttr_hours double, n_not_measurable bigint);
create table marts.fct_deployments (
    deployment_id varchar, service varchar, release varchar, environment varchar,
    segment varchar, started_at timestamptz, finished_at timestamptz, status varchar,
    served boolean, is_hotfix boolean, rollback_of varchar);
create table marts.fct_defects (
    defect_id varchar, title varchar, severity varchar, status varchar, resolution varchar,
    service varchar, environment varchar, created_at timestamptz, resolved_at timestamptz,
    is_duplicate boolean, is_open boolean, attributed_release varchar);
create table marts.build_metadata (as_of timestamptz, policy_sha256 varchar);
create table marts.release_order (
    service varchar, release varchar, first_production_at timestamptz, release_order_at timestamptz);
create table marts.headline_metrics (
    metric varchar, service varchar, record_type varchar, environment varchar, severity varchar,
    value double, n bigint);
"""


def _build_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_SCHEMA)
        # Rates are SQL divisions, so they are the exact doubles a dbt model would store.
        con.executemany(
            "insert into marts.release_escape_rate values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ["payments", "1.9.0", 8, 1, 0, 1 / 9, False, None],
                ["payments", "1.10.0", 4, 1, 1, 2 / 6, True, None],
                ["payments", "1.11.0", 0, 0, 0, None, None, None],
                [EVIL, EVIL_RELEASE, 9, 0, 0, 0.0, False, None],
                ["payments", None, 1, 1, 0, 0.5, True, None],
                [EVIL, None, 0, 0, 2, 1.0, True, None],
                ["payments", "ALL", 12, 2, 1, 3 / 15, True, None],
                [EVIL, "ALL", 9, 0, 0, 0.0, False, None],
                ["ALL", "ALL", 21, 2, 1, 3 / 24, False, None],
            ],
        )
        con.executemany(
            "insert into marts.detection_resolution_by_environment values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ["defect", "staging", "ALL", 4, 10.0, 8.0, 20.0, 3, 30.0, 24.0, 50.0, 1],
                ["defect", "production", "ALL", 2, 5.5, 5.5, 9.1, 2, 48.5, 48.5, 70.1, 0],
                ["defect", "test", "ALL", 1, 2.0, 2.0, 2.0, 0, None, None, None, 0],
                ["defect", "production", "S1", 1, 1.0, 1.0, 1.0, 1, 6.0, 6.0, 6.0, 0],
                ["defect", "ALL", "ALL", 7, 7.0, 6.0, 15.0, 5, 37.4, 30.0, 60.0, 1],
                ["incident", "production", "ALL", 3, 0.5, 0.4, 0.9, 3, 4.5, 4.0, 7.0, 1],
                ["incident", "ALL", "ALL", 3, 0.5, 0.4, 0.9, 3, 4.5, 4.0, 7.0, 1],
            ],
        )
        con.executemany(
            "insert into marts.fct_deployments values (?, ?, ?, ?, 'full', ?::timestamptz, ?::timestamptz, ?, ?, false, null)",
            [
                ["d1", "payments", "1.9.0", "production", "2024-05-01 10:00Z", "2024-05-01 10:30Z", "succeeded", True],
                ["d2", "payments", "1.9.0", "staging", "2024-04-28 09:00Z", "2024-04-28 09:10Z", "succeeded", True],
                ["d3", "payments", "1.10.0", "production", "2024-06-01 10:00Z", "2024-06-01 10:20Z", "failed", False],
                ["d4", "payments", "1.10.0", "production", "2024-06-03 10:00Z", "2024-06-03 10:20Z", "succeeded", True],
                ["d5", EVIL, EVIL_RELEASE, "production", "2024-05-15 08:00Z", "2024-05-15 08:30Z", "rolled_back", True],
                ["d6", "payments", "1.11.0", "staging", "2024-06-20 08:00Z", "2024-06-20 08:30Z", "succeeded", True],
            ],
        )
        # Open and not duplicate: S1 x1 (D1), S2 x2 (D2, D3), S3 x1 (D5), S4 x0.
        con.executemany(
            "insert into marts.fct_defects values (?, ?, ?, ?, ?, ?, 'production', '2024-06-10 12:00Z', null, ?, ?, '1.10.0')",
            [
                ["D1", "Checkout fails", "S1", "in_progress", None, "payments", False, True],
                ["D2", "Slow page", "S2", "new", None, "payments", False, True],
                ["D3", EVIL, "S2", "triaged", None, EVIL, False, True],
                ["D4", "Slow page again", "S2", "new", "duplicate", "payments", True, True],
                ["D5", "Typo", "S3", "deferred", None, "payments", False, True],
                ["D6", "Crash", "S3", "resolved", "fixed", "payments", False, False],
                ["D7", "Label", "S4", "closed", "fixed", "payments", False, False],
                ["D8", "Old dup", "S1", "closed", "duplicate", "payments", True, False],
            ],
        )
        # The order of the deployments above (no planned dates): the served production ones.
        con.executemany(
            "insert into marts.release_order values (?, ?, ?::timestamptz, ?::timestamptz)",
            [
                ["payments", "1.9.0", "2024-05-01 10:30Z", "2024-05-01 10:30Z"],
                ["payments", "1.10.0", "2024-06-03 10:20Z", "2024-06-03 10:20Z"],
                ["payments", "1.11.0", None, None],
                [EVIL, EVIL_RELEASE, "2024-05-15 08:30Z", "2024-05-15 08:30Z"],
            ],
        )
        # The headline of the tables above: escape rate 3/24; RCA: 1.10.0 of the three
        # releases with a rate, without a link; open S1 1, S2 2 (D4 is a duplicate), S3 1.
        con.executemany(
            "insert into marts.headline_metrics values (?, ?, ?, ?, ?, ?, ?)",
            [
                ["escape_rate", "ALL", None, None, None, 3 / 24, 24],
                ["escaped_defects", "ALL", "defect", None, None, 2, 24],
                ["escaped_incidents", "ALL", "incident", None, None, 1, 24],
                ["mttd_hours", "ALL", "defect", "production", None, 5.5, 2],
                ["mttr_hours", "ALL", "defect", "production", None, 48.5, 2],
                ["mttd_hours", "ALL", "incident", "production", None, 0.5, 3],
                ["mttr_hours", "ALL", "incident", "production", None, 4.5, 3],
                ["mttd_hours", "ALL", "defect", "staging", None, 10.0, 4],
                ["open_defects", "ALL", "defect", None, "S1", 1, 1],
                ["open_defects", "ALL", "defect", None, "S2", 2, 2],
                ["open_defects", "ALL", "defect", None, "S3", 1, 1],
                ["rca_required_releases", "ALL", None, None, None, 1, 3],
                ["rca_link_missing", "ALL", None, None, None, 1, 1],
            ],
        )
        con.execute(
            "insert into marts.build_metadata values "
            "('2024-06-30 23:59:59.999999+00', 'policy-sha')"
        )
    finally:
        # The kernel opens the file from another process: our writer must be gone.
        con.close()
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return _build_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def con(warehouse: Path):
    connection = queries.open_warehouse(warehouse)
    yield connection
    connection.close()


# ---------------------------------------------------------------- queries








def test_service_rows_and_rca_table(con) -> None:
    services = queries.service_escape_rates(con)
    assert services["service"].tolist() == [EVIL, "payments", "ALL"]
    assert fragments.service_escape_table(services)["Escape rate"].tolist() == ["0.0%", "20.0%", "12.5%"]
    rca = queries.escape_rates(con).query("release == '1.10.0'")
    assert fragments.rca_table(rca).iloc[0]["RCA link"] == "missing"


def test_unattributed_counts(con) -> None:
    u = queries.unattributed_counts(con)
    assert (u.defects, u.incidents, u.total) == (2, 2, 4)
    assert "4 records (2 defects, 2 incidents)" in fragments.unattributed_note(u)


def test_detection_resolution_all_severities_in_environment_order(con) -> None:
    dr = queries.detection_resolution(con)
    assert list(zip(dr["record_type"], dr["environment"])) == [
        ("defect", "test"),
        ("defect", "staging"),
        ("defect", "production"),
        ("incident", "production"),
    ]
    table = fragments.detection_resolution_table(dr)
    assert table.loc[2, ["n detect", "Mean TTD", "n resolve", "Mean TTR"]].tolist() == [
        "2", "5.5 h", "2", "48.5 h"
    ]
    assert table.loc[0, "Mean TTR"] == "n/a"


def test_detection_resolution_puts_unknown_before_unlisted_environments(warehouse: Path) -> None:
    # `unknown` (no environment named) follows the policy's five; a verbatim name the
    # policy does not list (`qa`) comes after both, though it sorts first by name.
    writer = duckdb.connect(str(warehouse))
    writer.executemany(
        "insert into marts.detection_resolution_by_environment values "
        "('defect', ?, 'ALL', 1, 1.0, 1.0, 1.0, 0, null, null, null, 0)",
        [["qa"], ["unknown"]],
    )
    writer.close()
    con = queries.open_warehouse(warehouse)
    try:
        dr = queries.detection_resolution(con)
    finally:
        con.close()
    assert dr.loc[dr["record_type"] == "defect", "environment"].tolist() == [
        "test", "staging", "production", "unknown", "qa"
    ]


def test_formatting() -> None:
    assert formatting.fmt_pct(0.125) == "12.5%"
    assert formatting.fmt_pct(None) == "n/a"
    assert formatting.fmt_pct(float("nan")) == "n/a"
    assert formatting.fmt_hours(48.5) == "48.5 h"
    assert queries.natural_key("1.9.0") < queries.natural_key("1.10.0")


def test_html_table_escapes_and_only_links_http() -> None:
    frame = pd.DataFrame(
        {"Service": [EVIL, "ok"], "RCA link": ["javascript:alert(3)", 'https://wiki/x?a=1&b="2"']}
    )
    out = fragments.html_table(frame, link_columns={"RCA link"})
    assert EVIL not in out and EVIL_ESCAPED in out
    assert '<a href="javascript' not in out
    assert '<a href="https://wiki/x?a=1&amp;b=&quot;2&quot;"' in out


def test_missing_warehouse_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(queries.WarehouseError, match=re.escape(str(missing))):
        queries.open_warehouse(missing)


def test_missing_mart_names_the_table(tmp_path: Path) -> None:
    path = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create table marts.build_metadata (as_of timestamptz, policy_sha256 varchar)")
    con.close()
    with pytest.raises(queries.WarehouseError, match=r"lacks table\(s\) marts\.release_escape_rate") as info:
        queries.open_warehouse(path, required=("build_metadata", "release_escape_rate"))
    assert str(path) in str(info.value)


def test_show_embeds_plotlyjs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import plotly.graph_objects as go

    shown: list[str] = []
    monkeypatch.setattr(fragments, "_plotlyjs_emitted", False)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    fig = go.Figure(go.Bar(x=["a"], y=[1]))
    fragments.show(fig)
    fragments.show(fig)
    bundle = get_plotlyjs()
    assert [s.count(bundle) for s in shown] == [1, 0]
    assert all("Plotly.newPlot" in s for s in shown)


# ---------------------------------------------------------------- rendering








@pytest.mark.slow
def test_render_fails_clearly_without_warehouse(tmp_path: Path) -> None:
    with pytest.raises(render.ReportRenderError, match=r"WarehouseError.*nope\.duckdb"):
        render.render_notebook(
            "executive_briefing", {"warehouse": str(tmp_path / "nope.duckdb")}, tmp_path / "r", AS_OF_DATE
        )


def test_render_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render.render_notebook("../etc/passwd", {}, tmp_path, AS_OF_DATE)
    with pytest.raises(ValueError):
        render.render_notebook("executive_briefing", {}, tmp_path, "30/06/2024")
    with pytest.raises(FileNotFoundError, match="executive_briefing"):
        render.render_notebook("no_such_report", {}, tmp_path, AS_OF_DATE)
