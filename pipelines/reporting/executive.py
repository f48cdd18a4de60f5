"""The weekly executive briefing: its parameters, periods and the figures of its one page.

The layout is ``notebooks/executive_briefing.ipynb``; the definitions behind
each figure are in docs/reports/executive.md. Every figure here
filters and sums rows of the marts (a rate is recomputed from summed counts,
as the marts' roll-ups are); none redefines a metric.

Safety rule this module keeps: values reach SQL as bound parameters; the
service filter is a bound list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from pipelines.policy import PRODUCTION, SEVERITIES
from pipelines.reporting.catalog import Parameter, Report, ReportParameterError, check_as_of, suggest
from pipelines.reporting.formatting import as_utc, float_or_none, fmt_hours, int_or_zero
from pipelines.reporting.fragments import html_table, more_rows_note, rca_table, service_escape_table
from pipelines.reporting.queries import service_escape_rates

#: The briefing compares the last ``period_weeks`` ISO weeks (the as-of week included)
#: with the ``period_weeks`` weeks before them.
DEFAULT_PERIOD_WEEKS = 4

#: Open defects of these severities make the "open S1/S2" tile.
HIGH_SEVERITIES: tuple[str, ...] = SEVERITIES[:2]

#: ``marts`` tables the briefing reads; checked when the warehouse is opened.
TABLES: tuple[str, ...] = (
    "build_metadata",
    "headline_metrics",
    "release_escape_rate",
    "release_order",
    "release_gate",
    "detection_resolution_by_environment",
    "fct_defects",
    "defect_aging",
    "cumulative_flow",
    "cumulative_flow_markers",
    "change_failure_rate",
    "defect_clusters",
    "compliance_findings",
)

# The service filter of every query: an empty list means every service.
_SERVICE_FILTER = "(len(?::varchar[]) = 0 or list_contains(?::varchar[], {column}))"


def _services_sql(column: str) -> str:
    """The service filter on ``column`` (a fixed column name from this module, never input)."""
    return _SERVICE_FILTER.replace("{column}", column)


def known_services(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Services with a release or an escape-rate row (the roll-up 'ALL' excluded)."""
    rows = con.execute(
        "select distinct service from marts.release_escape_rate where service <> 'ALL' order by service"
    ).fetchall()
    return [r[0] for r in rows]


def _validate(con: duckdb.DuckDBPyConnection, given: dict[str, str]) -> dict[str, Any]:
    services = sorted({s.strip() for s in (given.get("services") or "").split(",") if s.strip()})
    valid = known_services(con)
    for service in services:
        if service not in valid:
            raise suggest(service, valid, "service")
    text = (given.get("period_weeks") or str(DEFAULT_PERIOD_WEEKS)).strip()
    if not text.isdigit() or not 1 <= int(text) <= 52:
        raise ReportParameterError(f"period_weeks must be a whole number of weeks from 1 to 52, got {text!r}")
    return {"as_of": check_as_of(given.get("as_of")), "services": services, "period_weeks": int(text)}


REPORT = Report(
    name="executive",
    notebook="executive_briefing",
    title="Weekly quality briefing",
    parameters=(
        Parameter("as_of", "the as-of the reader expects (the report warns when the warehouse's differs)"),
        Parameter("services", "comma-separated services to include (default: all)"),
        Parameter("period_weeks", f"weeks in each compared period (default {DEFAULT_PERIOD_WEEKS})"),
    ),
    validate=_validate,
    tables=TABLES,
)


# --- periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Instants ``start <= t < end`` (UTC)."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        last = self.end - timedelta(microseconds=1)
        return f"{self.start:%d %b} – {last:%d %b %Y}"


def periods(as_of: datetime, weeks: int) -> tuple[Period, Period]:
    """This period: the ``weeks`` ISO weeks ending with the as-of's week, up to the as-of
    (inclusive); the previous period: the ``weeks`` weeks before it."""
    at = as_utc(as_of).to_pydatetime()
    week_start = (at - timedelta(days=at.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    start = week_start - timedelta(weeks=weeks - 1)
    current = Period(start, at + timedelta(microseconds=1))
    return current, Period(start - timedelta(weeks=weeks), start)


# --- tiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure for one period, with what it is made of (e.g. '3 of 20 found in production')."""

    value: float | None
    detail: str


@dataclass(frozen=True)
class Tile:
    """A headline tile: this period against the previous one."""

    label: str
    measures: str
    current: Figure
    previous: Figure
    kind: str  # how the value reads: "rate", "hours" or "count"
    lower_is_better: bool = True

    @property
    def trend(self) -> str:
        """``better``, ``worse``, ``same`` or ``n/a`` (either period without a value)."""
        now, before = self.current.value, self.previous.value
        if now is None or before is None:
            return "n/a"
        if abs(now - before) < 1e-9:
            return "same"
        return "better" if (now < before) == self.lower_is_better else "worse"


def escape_rate_figure(con: duckdb.DuckDBPyConnection, period: Period, services: list[str]) -> Figure:
    """Escape rate of the releases first in production in the period (summed counts)."""
    row = con.execute(
        """
        select count(*),
               coalesce(sum(e.escaped_defects + e.escaped_incidents), 0),
               coalesce(sum(e.pre_release_defects + e.escaped_defects + e.escaped_incidents), 0)
        from marts.release_escape_rate as e
        inner join marts.release_order as o on o.service = e.service and o.release = e.release
        where o.first_production_at >= ? and o.first_production_at < ? and """
        + _services_sql("e.service"),
        [period.start, period.end, services, services],
    ).fetchone()
    releases, escaped, found = (int_or_zero(v) for v in row)
    rate = escaped / found if found else None
    return Figure(rate, f"{escaped:,} of {found:,} found in production · {releases:,} releases")


def mttr_figure(
    con: duckdb.DuckDBPyConnection, period: Period, services: list[str], environment: str
) -> tuple[float | None, int]:
    """Mean time to resolve (hours) of the non-duplicate defects found in ``environment`` and
    fixed in the period, and how many there were."""
    row = con.execute(
        """
        select avg(ttr_hours), count(ttr_hours)
        from marts.fct_defects
        where not is_duplicate and environment = ? and ttr_hours is not null
          and resolved_at >= ? and resolved_at < ? and """
        + _services_sql("service"),
        [environment, period.start, period.end, services, services],
    ).fetchone()
    return float_or_none(row[0]), int_or_zero(row[1])


def open_high_severity(con: duckdb.DuckDBPyConnection, on_or_before: date) -> Figure:
    """Open S1/S2 defects at the latest weekly aging snapshot on or before a day (all services:
    the aging mart has no service). None when no snapshot is that old."""
    row = con.execute(
        """
        with snapshot as (select max(snapshot_date) as day from marts.defect_aging where snapshot_date <= ?)
        select (select day from snapshot),
               coalesce(sum(open_defects) filter (where list_contains(?::varchar[], severity)), 0)
        from marts.defect_aging
        where snapshot_date = (select day from snapshot)
        """,
        [on_or_before, list(HIGH_SEVERITIES)],
    ).fetchone()
    if row[0] is None:
        return Figure(None, "no aging snapshot that early")
    return Figure(float(row[1]), f"open on {row[0]:%d %b %Y}, all services")


def releases_held(con: duckdb.DuckDBPyConnection, period: Period, services: list[str]) -> Figure:
    """Releases due in the period (by release order: planned date, else first production
    deployment) whose production gate verdict at the as-of is HOLD."""
    row = con.execute(
        """
        select count(*), count(*) filter (where g.verdict = 'HOLD')
        from marts.release_gate as g
        inner join marts.release_order as o on o.service = g.service and o.release = g.release
        where g.environment = ? and o.release_order_at >= ? and o.release_order_at < ? and """
        + _services_sql("g.service"),
        [PRODUCTION, period.start, period.end, services, services],
    ).fetchone()
    due, held = int_or_zero(row[0]), int_or_zero(row[1])
    return Figure(float(held) if due else None, f"of {due:,} releases due")


def change_failure(con: duckdb.DuckDBPyConnection, period: Period, services: list[str]) -> Figure:
    """Change failure rate over the weeks starting in the period (summed weekly counts)."""
    row = con.execute(
        """
        select coalesce(sum(failed_deployments), 0), coalesce(sum(production_deployments), 0)
        from marts.change_failure_rate
        where week_start >= ?::date and week_start < ? and """
        + _services_sql("service"),
        [period.start, period.end, services, services],
    ).fetchone()
    failed, deployed = int_or_zero(row[0]), int_or_zero(row[1])
    return Figure(failed / deployed if deployed else None, f"{failed:,} of {deployed:,} production deployments failed")


def tiles(con: duckdb.DuckDBPyConnection, as_of: datetime, services: list[str], weeks: int) -> list[Tile]:
    """The five headline tiles, this period against the previous one."""
    current, previous = periods(as_of, weeks)

    def mttr(period: Period) -> Figure:
        prod, n_prod = mttr_figure(con, period, services, PRODUCTION)
        staging, n_staging = mttr_figure(con, period, services, "staging")
        return Figure(prod, f"n={n_prod:,} · staging {fmt_hours(staging)} (n={n_staging:,})")

    return [
        Tile("Escape rate", "Share of defects and incidents of the releases first in production in the period "
             "that were found in production", escape_rate_figure(con, current, services),
             escape_rate_figure(con, previous, services), "rate"),
        Tile("Production MTTR", "Mean hours from report to fix of production defects fixed in the period, "
             "beside staging's", mttr(current), mttr(previous), "hours"),
        Tile("Open S1/S2", "High-severity defects open at the end of the period",
             open_high_severity(con, as_utc(as_of).date()),
             open_high_severity(con, current.start.date() - timedelta(days=1)), "count"),
        Tile("Held by the gate", "Releases due in the period that the production gate holds",
             releases_held(con, current, services), releases_held(con, previous, services), "count"),
        Tile("Change failure rate", "Share of production deployments rolled back or followed by an incident, "
             "in the weeks of the period", change_failure(con, current, services),
             change_failure(con, previous, services), "rate"),
    ]


# --- the page's charts and lists -------------------------------------------------------------


def monthly_escape_rates(con: duckdb.DuckDBPyConnection, services: list[str]) -> pd.DataFrame:
    """Escape rate per service and month of the releases' first production deployment, and
    per month over the chosen services (``service`` 'ALL'): summed counts; months without a
    release in production are absent."""
    return con.execute(
        """
        select coalesce(e.service, 'ALL') as service,
               date_trunc('month', o.first_production_at)::date as month,
               count(*) as releases,
               sum(e.escaped_defects + e.escaped_incidents) as escaped,
               sum(e.pre_release_defects + e.escaped_defects + e.escaped_incidents) as found
        from marts.release_escape_rate as e
        inner join marts.release_order as o on o.service = e.service and o.release = e.release
        where o.first_production_at is not null and """
        + _services_sql("e.service")
        + """
        group by grouping sets ((e.service, month), (month))
        order by service, month
        """,
        [services, services],
    ).df().assign(escape_rate=lambda df: (df["escaped"] / df["found"]).where(df["found"] > 0))


def latest_aging(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Open defects by severity and age bucket at the latest aging snapshot (the as-of)."""
    return con.execute(
        """
        select snapshot_date, severity, age_bucket, open_defects, mean_age_days
        from marts.defect_aging
        where snapshot_date = (select max(snapshot_date) from marts.defect_aging)
        order by severity, age_bucket
        """
    ).df()


def cumulative_flow(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Defects per status at the end of each day (every status of every day)."""
    return con.execute("select day, status, defects from marts.cumulative_flow order by day, status").df()


#: Rows of each appendix table (releases needing an RCA, services): a large organisation has
#: thousands of each, which would make the page tens of megabytes; the rest are counted.
APPENDIX_ROWS = 100


def appendix_rca_html(rca: pd.DataFrame) -> str:
    """The worst ``APPENDIX_ROWS`` releases needing an RCA, the rest counted."""
    table = html_table(rca_table(rca.head(APPENDIX_ROWS)), link_columns={"RCA link"},
                       empty="No release is above the RCA threshold.")
    return table + more_rows_note(len(rca) - APPENDIX_ROWS, "releases", "marts.release_escape_rate, rca_required")


def appendix_services_html(con: duckdb.DuckDBPyConnection) -> str:
    """The escape rate of the ``APPENDIX_ROWS`` services with the most records, by name, then
    all services together; the rest counted."""
    shown = service_escape_rates(con, most=APPENDIX_ROWS)
    (services,) = con.execute(
        "select count(*) from marts.release_escape_rate where release = 'ALL' and service <> 'ALL'"
    ).fetchone()
    rest = services - (len(shown) - 1)  # the last row shown is all services together
    table = html_table(service_escape_table(shown), caption="Escape rate by service, all time")
    return table + more_rows_note(rest, "services", "marts.release_escape_rate, release 'ALL'")


#: Releases a flow-chart marker names in its hover text; the rest are counted.
MARKER_NAMES = 3


def gate_markers(con: duckdb.DuckDBPyConnection, services: list[str]) -> pd.DataFrame:
    """The release milestones (code freeze, planned release) the flow chart marks: one row per
    day and milestone, with how many releases have it that day and the first few by name (a
    large organisation has hundreds of releases a week: a mark each would hide the chart)."""
    return con.execute(
        """
        with named as (
            select day, gate, service || ' ' || release as name,
                row_number() over (partition by day, gate order by service, release) as n
            from marts.cumulative_flow_markers
            where """ + _services_sql("service") + """
        )
        select day, gate, count(*) as releases, count(*) filter (where n <= ?) as named,
            string_agg(name, ', ' order by n) filter (where n <= ?) as names
        from named
        group by day, gate
        order by day, gate
        """,
        [services, services, MARKER_NAMES, MARKER_NAMES],
    ).df()


def top_clusters(con: duckdb.DuckDBPyConnection, services: list[str], limit: int = 5) -> pd.DataFrame:
    """Clusters of two or more defects, by the highest priority score among their open members
    (then their size), with the title of that member."""
    return con.execute(
        """
        with members as (
            select c.cluster_id, c.cluster_size, c.is_recurrence, d.defect_id, d.service, d.title,
                   d.is_open, d.priority_score
            from marts.defect_clusters as c
            inner join marts.fct_defects as d on d.defect_id = c.defect_id
            where c.cluster_size >= 2
        ),
        picked as (
            select cluster_id from members where """
        + _services_sql("service")
        + """
            group by cluster_id
        )
        select m.cluster_id,
               any_value(m.cluster_size) as defects,
               count(*) filter (where m.is_open) as open_defects,
               count(*) filter (where m.is_recurrence) as recurrences,
               string_agg(distinct m.service, ', ' order by m.service) as services,
               max(m.priority_score) filter (where m.is_open) as priority_score,
               arg_max(m.title, (m.is_open, m.priority_score, m.defect_id)) as top_title
        from members as m
        inner join picked using (cluster_id)
        group by m.cluster_id
        order by priority_score desc nulls last, defects desc, m.cluster_id
        limit ?
        """,
        [services, services, limit],
    ).df()


def compliance_by_rule(con: duckdb.DuckDBPyConnection, services: list[str]) -> pd.DataFrame:
    """Compliance findings per rule: how many, and since when the oldest one."""
    return con.execute(
        "select rule, count(*) as findings, min(since) as oldest from marts.compliance_findings where "
        + _services_sql("service")
        + " group by rule order by findings desc, rule",
        [services, services],
    ).df()


def rca_worst_first(con: duckdb.DuckDBPyConnection, services: list[str]) -> pd.DataFrame:
    """Releases above the RCA threshold, worst first: highest escape rate, then most escapes,
    then the latest in release order."""
    return con.execute(
        """
        select e.service, e.release, o.first_production_at as release_date, e.escape_rate,
               e.escaped_defects, e.escaped_incidents, e.pre_release_defects, e.rca_link
        from marts.release_escape_rate as e
        left join marts.release_order as o on o.service = e.service and o.release = e.release
        where e.rca_required and e.release is not null and e.release <> 'ALL' and """
        + _services_sql("e.service")
        + """
        order by e.escape_rate desc, e.escaped_defects + e.escaped_incidents desc,
                 o.release_order_at desc nulls last, e.service, e.release
        """,
        [services, services],
    ).df()
