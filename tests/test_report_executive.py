"""The executive briefing: its period tiles, page figures and rendered page.

The warehouse is tests/test_reporting.py's hand-built one plus the tables the
briefing's one page reads. As-of 2024-06-30 23:59:59.999999 (a Sunday), four-week
periods: this period is 2024-06-03 .. the as-of, the previous 2024-05-06 .. 06-02.

Release order (first production deployment): 1.9.0 05-01 (in neither period),
EVIL_RELEASE 05-15 (previous), 1.10.0 06-03 (this period), 1.11.0 never.

tile                  this period                 previous period
escape rate           1.10.0: 2 of 6 = 33.3%      EVIL_RELEASE: 0 of 9 = 0.0%      worse
production MTTR       D6 48 h (staging D7 12 h)   D9 30 h (staging none)           worse
open S1/S2            06-30 snapshot: 1 + 2 = 3   06-02 snapshot: 1 (S2)           worse
held by the gate      1.10.0 HOLD: 1 of 1         EVIL_RELEASE PASS: 0 of 1        worse
change failure rate   weeks 06-03, 06-24: 1 / 4   weeks 05-13, 05-27: 2 / 5        better
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from pipelines.reporting import catalog, charts, executive, fragments, queries, render
from tests.test_reporting import EVIL, EVIL_ESCAPED, EVIL_RELEASE, _build_warehouse

AS_OF = datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)

_EXTRA = """
alter table marts.fct_defects add column ttr_hours double;
alter table marts.fct_defects add column priority_score double;
create table marts.defect_aging (
    snapshot_date date, severity varchar, age_bucket varchar, open_defects bigint, mean_age_days double);
create table marts.release_gate (service varchar, release varchar, environment varchar, verdict varchar);
create table marts.change_failure_rate (
    service varchar, week_start date, production_deployments bigint, failed_deployments bigint,
    change_failure_rate double);
create table marts.cumulative_flow (day date, status varchar, defects bigint);
create table marts.cumulative_flow_markers (day date, service varchar, release varchar, gate varchar);
create table marts.defect_clusters (
    defect_id varchar, cluster_id varchar, cluster_size bigint, is_recurrence boolean);
create table marts.compliance_findings (
    rule varchar, entity_type varchar, entity_id varchar, service varchar, since timestamptz);
"""


def _extend(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_EXTRA)
        # Fixed in this period: D6 production 48 h, D7 staging 12 h; D8 is a duplicate (not
        # counted); D9 production, fixed in the previous period, 30 h.
        con.execute("update marts.fct_defects set resolved_at = '2024-06-12 12:00Z', ttr_hours = 48 where defect_id = 'D6'")
        con.execute("update marts.fct_defects set environment = 'staging', resolved_at = '2024-06-11 00:00Z', ttr_hours = 12 where defect_id = 'D7'")
        con.execute("update marts.fct_defects set resolved_at = '2024-06-15 00:00Z', ttr_hours = 100 where defect_id = 'D8'")
        con.execute(
            "insert into marts.fct_defects (defect_id, title, severity, status, resolution, service, environment, "
            "created_at, resolved_at, is_duplicate, is_open, attributed_release, ttr_hours) values "
            "('D9', 'Old bug', 'S3', 'closed', 'fixed', 'payments', 'production', '2024-05-01 00:00Z', '2024-05-20 00:00Z', "
            "false, false, '1.9.0', 30)"
        )
        con.executemany(
            "update marts.fct_defects set priority_score = ? where defect_id = ?",
            [[90, "D1"], [50, "D2"], [20, "D3"], [70, "D4"], [10, "D5"], [95, "D6"]],
        )
        con.executemany(
            "insert into marts.defect_aging values (?, ?, ?, ?, ?)",
            [
                ["2024-06-30", "S1", "0-7d", 1, 2.0],
                ["2024-06-30", "S2", "8-30d", 2, 20.0],
                ["2024-06-30", "S3", ">90d", 1, 100.0],
                ["2024-06-02", "S2", "0-7d", 1, 1.0],
                ["2024-06-02", "S4", "0-7d", 3, 1.0],
                ["2024-05-26", "S1", "0-7d", 7, 1.0],
            ],
        )
        con.executemany(
            "insert into marts.release_gate values (?, ?, ?, ?)",
            [
                ["payments", "1.10.0", "production", "HOLD"],
                ["payments", "1.10.0", "staging", "PASS"],
                ["payments", "1.9.0", "production", "HOLD"],
                [EVIL, EVIL_RELEASE, "production", "PASS"],
            ],
        )
        con.executemany(
            "insert into marts.change_failure_rate values (?, ?, ?, ?, ?)",
            [
                ["payments", "2024-06-03", 2, 1, 0.5],
                ["payments", "2024-06-24", 2, 0, 0.0],
                ["payments", "2024-05-27", 4, 1, 0.25],
                [EVIL, "2024-05-13", 1, 1, 1.0],
                ["payments", "2024-04-29", 5, 5, 1.0],
                ["payments", None, 13, 7, 7 / 13],
            ],
        )
        con.executemany(
            "insert into marts.cumulative_flow values (?, ?, ?)",
            [["2024-06-29", "new", 2], ["2024-06-29", "resolved", 1], ["2024-06-30", "new", 1], ["2024-06-30", "resolved", 2]],
        )
        con.execute("insert into marts.cumulative_flow_markers values ('2024-06-29', 'payments', '1.10.0', 'code_freeze')")
        con.executemany(
            "insert into marts.defect_clusters values (?, ?, ?, ?)",
            [
                ["D1", "C1", 2, True],
                ["D6", "C1", 2, False],
                ["D2", "C2", 2, False],
                ["D4", "C2", 2, False],
                ["D3", "C3", 2, False],
                ["D5", "C3", 2, False],
                ["D7", "D7", 1, False],
            ],
        )
        con.executemany(
            "insert into marts.compliance_findings values (?, 'defect', ?, ?, ?::timestamptz)",
            [
                ["RCA_MISSING", "D1", "payments", "2024-06-12 00:00Z"],
                ["RCA_MISSING", "D2", "payments", "2024-05-02 00:00Z"],
                ["TRIAGE_UNOWNED", "D3", EVIL, "2024-06-20 00:00Z"],
            ],
        )
    finally:
        con.close()
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return _extend(_build_warehouse(tmp_path / "warehouse.duckdb"))


@pytest.fixture
def con(warehouse: Path):
    connection = queries.open_warehouse(warehouse, executive.TABLES)
    yield connection
    connection.close()


def test_periods_are_whole_iso_weeks_ending_with_the_as_of_week() -> None:
    current, previous = executive.periods(AS_OF, 4)
    assert (current.start, previous.start, previous.end) == (
        datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 5, 6, tzinfo=UTC), datetime(2024, 6, 3, tzinfo=UTC)
    )
    assert current.end > AS_OF  # the as-of itself is inside
    assert current.label == "03 Jun – 30 Jun 2024"
    # A Wednesday as-of: this period is its partial week and the one before.
    wednesday, before = executive.periods(datetime(2024, 7, 3, 12, tzinfo=UTC), 2)
    assert (wednesday.start, before.start) == (datetime(2024, 6, 24, tzinfo=UTC), datetime(2024, 6, 10, tzinfo=UTC))


def test_tiles_compare_this_period_with_the_previous(con) -> None:
    tiles = {t.label: t for t in executive.tiles(con, AS_OF, [], 4)}
    escape = tiles["Escape rate"]
    assert (escape.current.value, escape.previous.value, escape.trend) == (pytest.approx(2 / 6), 0.0, "worse")
    assert escape.current.detail == "2 of 6 found in production · 1 releases"
    mttr = tiles["Production MTTR"]
    assert (mttr.current.value, mttr.previous.value, mttr.trend) == (48.0, 30.0, "worse")
    assert mttr.current.detail == "n=1 · staging 12.0 h (n=1)"
    assert mttr.previous.detail == "n=1 · staging n/a (n=0)"
    high = tiles["Open S1/S2"]
    assert (high.current.value, high.previous.value, high.trend) == (3, 1, "worse")
    assert high.previous.detail == "open on 02 Jun 2024, all services"
    held = tiles["Held by the gate"]
    assert (held.current.value, held.previous.value, held.current.detail) == (1, 0, "of 1 releases due")
    cfr = tiles["Change failure rate"]
    assert (cfr.current.value, cfr.previous.value, cfr.trend) == (0.25, 0.4, "better")


def test_tiles_for_one_service(con) -> None:
    tiles = {t.label: t for t in executive.tiles(con, AS_OF, ["payments"], 4)}
    # EVIL's release was the previous period's only one: nothing to compare with.
    assert tiles["Escape rate"].previous.value is None
    assert tiles["Escape rate"].trend == "n/a"
    assert (tiles["Change failure rate"].current.value, tiles["Change failure rate"].previous.value) == (0.25, 0.25)
    assert tiles["Change failure rate"].trend == "same"


def test_tiles_html_says_good_or_bad(con) -> None:
    html = fragments.tiles_html(executive.tiles(con, AS_OF, [], 4), "previous 06 May – 02 Jun 2024")
    assert html.count('class="tile worse"') == 4 and html.count('class="tile better"') == 1
    assert "▲ worse · previous 06 May – 02 Jun 2024: 0.0%" in html
    assert "▼ better · previous 06 May – 02 Jun 2024: 40.0%" in html


def test_monthly_escape_rates_per_service_and_overall(con) -> None:
    monthly = executive.monthly_escape_rates(con, [])
    rows = {(r.service, f"{r.month:%Y-%m-%d}"): (r.escaped, r.found) for r in monthly.itertuples()}
    assert rows == {
        ("payments", "2024-05-01"): (1, 9),
        ("payments", "2024-06-01"): (2, 6),
        (EVIL, "2024-05-01"): (0, 9),
        ("ALL", "2024-05-01"): (1, 18),
        ("ALL", "2024-06-01"): (2, 6),
    }
    only = executive.monthly_escape_rates(con, [EVIL])
    assert set(only["service"]) == {EVIL, "ALL"} and only["found"].tolist() == [9, 9]


def test_escape_trend_keeps_a_page_of_panels_for_the_services_with_most_defects() -> None:
    # 12 services, one month each; svc-k found k defects: svc-4 .. svc-12 get the 9 panels.
    names = [f"svc-{k}" for k in range(1, 13)]
    monthly = pd.DataFrame({
        "service": [*names, "ALL"], "month": [pd.Timestamp("2024-06-01")] * 13,
        "releases": [1] * 12 + [12], "escaped": [0] * 13, "found": [*range(1, 13), 78],
        "escape_rate": [0.0] * 13,
    })
    fig = charts.escape_trend_chart(monthly)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:9] == [f"svc-{k}" for k in range(4, 13)]
    assert titles[9] == "The 9 services with the most defects found; 3 more are in the grey line only."
    assert len(fig.data) == 18  # a reference and a service line per panel



def test_flow_chart_marks_each_day_once_naming_its_first_releases() -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.cumulative_flow_markers (day date, service varchar, release varchar, gate varchar)")
    # 06-03: five code freezes (a..e) and one planned release; 06-10: one code freeze of svc z
    rows = [("2024-06-03", s, "1.0", "code_freeze") for s in "edcba"]
    rows += [("2024-06-03", "a", "1.0", "planned_release"), ("2024-06-10", "z", "2.0", "code_freeze")]
    con.executemany("insert into marts.cumulative_flow_markers values (?, ?, ?, ?)", rows)

    markers = executive.gate_markers(con, [])
    assert markers[["gate", "releases", "named", "names"]].values.tolist() == [
        ["code_freeze", 5, 3, "a 1.0, b 1.0, c 1.0"], ["planned_release", 1, 1, "a 1.0"],
        ["code_freeze", 1, 1, "z 2.0"]]
    assert executive.gate_markers(con, ["z"])["names"].tolist() == ["z 2.0"]

    fig = charts.cumulative_flow_chart(pd.DataFrame(columns=["day", "status", "defects"]), markers)
    freeze, planned = fig.data[-2:]
    assert [c[0] for c in freeze.customdata] == ["a 1.0, b 1.0, c 1.0 and 2 more", "z 2.0"]
    assert [c[0] for c in planned.customdata] == ["a 1.0"]


def test_appendix_tables_list_the_first_rows_and_count_the_rest(con, monkeypatch) -> None:
    monkeypatch.setattr(executive, "APPENDIX_ROWS", 1)
    # payments has 12 + 2 + 1 = 15 records, EVIL 9: payments is listed, EVIL counted
    services = executive.appendix_services_html(con)
    assert re.findall(r"<tr><td>([^<]*)</td>", services) == ["payments", "All services"]
    assert services.endswith('<p class="note">…and 1 more services: marts.release_escape_rate, release &#x27;ALL&#x27;.</p>')
    rca = executive.rca_worst_first(con, [])
    assert "…and" not in executive.appendix_rca_html(rca)  # one release needs an RCA: no note
    twice = executive.appendix_rca_html(pd.concat([rca, rca]))
    assert twice.count("<tr><td>payments</td>") == 1 and "…and 1 more releases" in twice


def test_top_clusters_by_open_priority(con) -> None:
    top = executive.top_clusters(con, [])
    # C1: D6 (95) is closed, so D1's 90; C2: open D4 70 over D2 50; C3: 20; the singleton is no cluster.
    assert top["cluster_id"].tolist() == ["C1", "C2", "C3"]
    assert top["priority_score"].tolist() == [90, 70, 20]
    assert top["top_title"].tolist() == ["Checkout fails", "Slow page again", EVIL]
    assert top["recurrences"].tolist() == [1, 0, 0]
    assert top["open_defects"].tolist() == [1, 2, 2]
    assert executive.top_clusters(con, [EVIL])["cluster_id"].tolist() == ["C3"]
    assert EVIL_ESCAPED in fragments.html_table(fragments.clusters_table(top))


def test_compliance_and_rca(con) -> None:
    rules = executive.compliance_by_rule(con, [])
    assert list(zip(rules["rule"], rules["findings"])) == [("RCA_MISSING", 2), ("TRIAGE_UNOWNED", 1)]
    assert fragments.compliance_table(rules)["Oldest since"].tolist() == ["2024-05-02", "2024-06-20"]
    assert executive.compliance_by_rule(con, ["payments"])["rule"].tolist() == ["RCA_MISSING"]
    rca = executive.rca_worst_first(con, [])
    assert list(zip(rca["service"], rca["release"])) == [("payments", "1.10.0")]


def test_rca_short_list_counts_the_rest() -> None:
    rca = pd.DataFrame(
        {
            "service": ["a", "b", "c"], "release": ["1", "2", "3"], "release_date": [None] * 3,
            "escape_rate": [0.9, 0.5, 0.4], "escaped_defects": [9, 1, 2], "escaped_incidents": [0, 0, 0],
            "pre_release_defects": [1, 1, 3], "rca_link": [None, "https://wiki/rca", "javascript:alert(1)"],
        }
    )
    html = fragments.rca_short_list(rca, 1, "appendix-rca")
    assert html.count("<tr>") == 2  # header and the worst release
    assert '…and 2 more (3 in all, 1 without an RCA link): <a href="#appendix-rca">' in html
    assert '<a href="javascript' not in fragments.rca_short_list(rca, 3, "x")


def test_parameters_are_checked_against_the_warehouse(con) -> None:
    report = executive.REPORT
    assert catalog.resolve(report, con, {"services": "payments, payments", "period_weeks": "2"}) == {
        "as_of": None, "services": ["payments"], "period_weeks": 2
    }
    with pytest.raises(catalog.ReportParameterError, match=r"unknown service 'paymnets': did you mean payments\?"):
        catalog.resolve(report, con, {"services": "paymnets"})
    with pytest.raises(catalog.ReportParameterError, match=r"period_weeks must be a whole number"):
        catalog.resolve(report, con, {"period_weeks": "4; import os"})
    with pytest.raises(catalog.ReportParameterError, match=r"unknown parameter .*did you mean services\?"):
        catalog.resolve(report, con, {"service": "payments"})
    with pytest.raises(catalog.ReportParameterError, match=r"as_of must be YYYY-MM-DD"):
        catalog.resolve(report, con, {"as_of": "yesterday"})


# ---------------------------------------------------------------- rendering


@pytest.mark.slow
def test_render_briefing(warehouse: Path, tmp_path: Path, capfd, monkeypatch) -> None:
    page_path = render.render_report(executive.REPORT, {}, warehouse, tmp_path / "reports")
    assert page_path == (tmp_path / "reports").resolve() / "2024-06-30" / "executive_briefing.html"
    assert "without encryption" not in capfd.readouterr().err
    page = page_path.read_text(encoding="utf-8")
    for text in (
        "33.3%", "2 of 6 found in production", "48.0 h", "staging 12.0 h (n=1)",
        "▼ better · previous 06 May – 02 Jun 2024: 40.0%", "this period 03 Jun – 30 Jun 2024",
        "Slow page again", '<h2 class="appendix" id="appendix">', "4 records (2 defects, 2 incidents)",
    ):
        assert text in page, text
    assert "<script>alert(1)" not in page and EVIL_ESCAPED in page
    # Four charts (trend, detect/resolve, aging, flow), numbered in display order.
    assert re.findall(r'class="plotly-graph-div" id="(chart-\d+)"', page) == [f"chart-{i}" for i in range(1, 5)]
    # No code reaches the page.
    assert "open_warehouse" not in page and "rp.show" not in page
    # Offline: plotly.js inline once, nothing loaded from elsewhere; hostile text escaped in
    # chart data too (plotly would render a raw tag in a label).
    bundle = get_plotlyjs()
    assert page.count(bundle) == 1
    rest = page.replace(bundle, "").lower()
    assert not re.search(r"<script[^>]*\bsrc\s*=|<link[^>]*href", rest)
    for banned in ("cdn.", "require.js", "mathjax", "http://", "https://", "\\u003cscript\\u003e"):
        assert banned not in rest, banned

    # The same page from a kernel shared by several renders, as a build renders, started from
    # another directory (the kernel runs in the repository root): the other render's parameters
    # leave nothing behind.
    monkeypatch.chdir(tmp_path)
    with render.kernel_session() as kernel:
        render.render_report(executive.REPORT, {"services": EVIL}, warehouse, tmp_path / "other", kernel)
        again = render.render_report(executive.REPORT, {}, warehouse, tmp_path / "again", kernel).read_text(
            encoding="utf-8")
    generated = re.compile(r'<p class="generated">Generated [^<]*</p>')
    assert generated.sub("", again) == generated.sub("", page)
    assert len(generated.findall(page)) == 1


@pytest.mark.slow
def test_render_one_service_warns_on_other_as_of(warehouse: Path, tmp_path: Path) -> None:
    page = render.render_report(
        executive.REPORT, {"services": EVIL, "as_of": "2024-06-23"}, warehouse, tmp_path / "reports"
    ).read_text(encoding="utf-8")
    assert "Requested as-of 2024-06-23, but the warehouse was built as of 2024-06-30 23:59 UTC" in page
    assert f"{EVIL_ESCAPED} · this period" in page
    assert "TRIAGE_UNOWNED" in page and "RCA_MISSING" not in page
