"""Report data access and rendering.

The report notebooks under ``notebooks/`` are layouts: every query, figure and
piece of HTML they show comes from the functions here, so it can be unit
tested without a kernel. ``render_notebook`` executes a notebook with
papermill and turns it into one self-contained HTML page.

Safety rules this module keeps (STYLE.md, Notebooks):

- the warehouse is opened read-only, with ``TimeZone = 'UTC'``;
- every string that came from an export (service, release, environment,
  titles, links) is HTML-escaped before it reaches a page, including the
  strings handed to plotly, whose labels understand a subset of HTML;
- the page loads nothing from the network: plotly.js is embedded once,
  nbconvert's ``basic`` template is used (no require.js / MathJax CDN) and
  ``render_notebook`` refuses to write a page with an external script.
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

#: Tables the executive briefing reads; checked when the warehouse is opened.
EXECUTIVE_TABLES: tuple[str, ...] = (
    "release_escape_rate",
    "detection_resolution_by_environment",
    "fct_deployments",
    "fct_defects",
    "build_metadata",
)

SEVERITIES: tuple[str, ...] = ("S1", "S2", "S3", "S4")
# Canonical order (METRICS.md); staging and production sit side by side so the
# comparison executives care about reads left to right.
ENVIRONMENT_ORDER: tuple[str, ...] = ("dev", "ci", "test", "staging", "production", "unknown")
RECORD_TYPES: tuple[str, ...] = ("defect", "incident")
NOT_AVAILABLE = "n/a"

_PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}
_CHART_TEMPLATE = "plotly_white"
_RECORD_COLOURS = {"defect": "#1f77b4", "incident": "#d62728"}


class WarehouseError(RuntimeError):
    """The warehouse file is missing, unreadable or lacks a table a report needs."""


class ReportRenderError(RuntimeError):
    """A report notebook failed to execute or produced an unsafe page."""


# --------------------------------------------------------------------------
# Warehouse access
# --------------------------------------------------------------------------


def open_warehouse(
    path: str | Path, required: Collection[str] = EXECUTIVE_TABLES
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only (UTC session) and check the marts a report needs.

    Raises ``WarehouseError`` naming the path, and the missing ``marts`` tables,
    so a user knows to run ``defectflow build`` rather than read a traceback.
    """
    wh = Path(path)
    if not wh.is_file():
        raise WarehouseError(
            f"Warehouse not found: {wh.resolve()} (build it first with `defectflow build`)"
        )
    try:
        # Read-only: a report must never take the single writer lock from a build.
        con = duckdb.connect(str(wh), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"Cannot open warehouse {wh.resolve()}: {exc}") from exc
    con.execute("SET TimeZone = 'UTC'")
    present = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    missing = [t for t in required if t not in present]
    if missing:
        con.close()
        names = ", ".join(f"marts.{t}" for t in missing)
        raise WarehouseError(
            f"Warehouse {wh.resolve()} lacks table(s) {names}; rebuild it with `defectflow build`"
        )
    return con


@dataclass(frozen=True)
class BuildInfo:
    """When the warehouse's figures are valid (as_of)."""

    as_of: datetime


def build_info(con: duckdb.DuckDBPyConnection) -> BuildInfo:
    """Read ``marts.build_metadata`` (one row)."""
    row = con.execute("select as_of from marts.build_metadata limit 1").fetchone()
    if row is None or row[0] is None:
        raise WarehouseError("marts.build_metadata is empty: the warehouse has no as-of")
    return BuildInfo(as_of=row[0])


def warehouse_as_of_date(path: str | Path) -> str:
    """The warehouse's as-of date (``YYYY-MM-DD``, UTC): the report folder name."""
    con = open_warehouse(path, required=("build_metadata",))
    try:
        return build_info(con).as_of.date().isoformat()
    finally:
        con.close()


# --------------------------------------------------------------------------
# Queries (each returns a small DataFrame or a typed value)
# --------------------------------------------------------------------------


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders version-like names numerically (1.9 < 1.10), never as text."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p)


def escape_rates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every row of ``marts.release_escape_rate`` with its release date and a ``kind``.

    ``kind`` is ``release`` (a real release), ``unattributed`` (release NULL),
    ``service`` (the ``(service, 'ALL')`` roll-up) or ``overall``.
    """
    df = con.execute(
        """
        select e.service, e.release, e.pre_release_defects, e.escaped_defects,
               e.escaped_incidents, e.escape_rate, e.rca_required, e.rca_link,
               d.release_date
        from marts.release_escape_rate as e
        left join (
            select service, release, min(finished_at) as release_date
            from marts.fct_deployments
            where environment = 'production' and served
              and finished_at <= (select max(as_of) from marts.build_metadata)
            group by service, release
        ) as d on d.service = e.service and d.release = e.release
        """
    ).df()
    kind = pd.Series("release", index=df.index, dtype=object)
    kind[df["release"].isna()] = "unattributed"
    kind[df["release"].eq("ALL") & df["service"].ne("ALL")] = "service"
    kind[df["release"].eq("ALL") & df["service"].eq("ALL")] = "overall"
    df["kind"] = kind
    return df


def release_order(rates: pd.DataFrame) -> list[str]:
    """Release names in time order: earliest first production deployment first.

    A release name shared by services sits at its earliest date; releases that
    never reached production follow, in natural version order.
    """
    rel = rates[rates["kind"] == "release"]
    if rel.empty:
        return []
    first = rel.groupby("release", dropna=True)["release_date"].min()

    def key(name: str) -> tuple[int, float, tuple[tuple[int, int, str], ...]]:
        when = first.get(name)
        has_date = when is not None and not pd.isna(when)
        return (0 if has_date else 1, when.timestamp() if has_date else 0.0, natural_key(name))

    return sorted(first.index.tolist(), key=key)


def release_escape_rates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per-(service, release) escape rates, in release time order."""
    rates = escape_rates(con)
    rel = rates[rates["kind"] == "release"].copy()
    position = {name: i for i, name in enumerate(release_order(rates))}
    rel["release_rank"] = rel["release"].map(position)
    return rel.sort_values(["release_rank", "service"], kind="stable").reset_index(drop=True)


def service_escape_rates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The ``(service, 'ALL')`` roll-ups by service name, then the overall row."""
    rates = escape_rates(con)
    services = rates[rates["kind"] == "service"].sort_values("service", key=_natural_series)
    overall = rates[rates["kind"] == "overall"]
    return pd.concat([services, overall]).reset_index(drop=True)


def rca_required_releases(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Releases whose escape rate exceeded the RCA threshold, in release order."""
    rel = release_escape_rates(con)
    return rel[rel["rca_required"].fillna(False).astype(bool)].reset_index(drop=True)


@dataclass(frozen=True)
class Unattributed:
    """Records no release could be attributed to (kept out of every rate)."""

    defects: int
    incidents: int

    @property
    def total(self) -> int:
        return self.defects + self.incidents


def unattributed_counts(con: duckdb.DuckDBPyConnection) -> Unattributed:
    """Sum the ``release IS NULL`` rows of the escape-rate mart over services."""
    row = con.execute(
        """
        select coalesce(sum(pre_release_defects + escaped_defects), 0),
               coalesce(sum(escaped_incidents), 0)
        from marts.release_escape_rate
        where release is null
        """
    ).fetchone()
    assert row is not None  # an aggregate always returns one row
    return Unattributed(defects=int(row[0]), incidents=int(row[1]))


def open_defects_by_severity(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Open, non-duplicate defects at the as-of per severity (every severity listed)."""
    counts = con.execute(
        """
        select coalesce(severity, 'unknown') as severity, count(*) as open_defects
        from marts.fct_defects
        where is_open and not coalesce(is_duplicate, false)
        group by severity
        """
    ).df()
    by_sev = dict(zip(counts["severity"], counts["open_defects"], strict=True))
    # Unmapped severities do not exist in marts (mapped to S3 at load), but an
    # unexpected value must still be shown rather than silently dropped.
    order = list(SEVERITIES) + sorted(s for s in by_sev if s not in SEVERITIES)
    return pd.DataFrame(
        {"severity": order, "open_defects": [int(by_sev.get(s, 0)) for s in order]}
    )


def detection_resolution(con: duckdb.DuckDBPyConnection, severity: str = "ALL") -> pd.DataFrame:
    """Time to detect / resolve per (record type, environment) for one severity.

    Environments are in canonical order; the ``'ALL'`` environment roll-up is left out.
    """
    df = con.execute(
        """
        select record_type, environment, severity, n_detect, mttd_hours,
               median_ttd_hours, p90_ttd_hours, n_resolve, mttr_hours,
               median_ttr_hours, p90_ttr_hours, n_not_measurable
        from marts.detection_resolution_by_environment
        where severity = ? and environment <> 'ALL'
        """,
        [severity],
    ).df()
    # Unknown environment names (kept verbatim by the policy) go last, by name.
    df["_rt"] = df["record_type"].map(lambda v: _rank(RECORD_TYPES, v))
    df["_env"] = df["environment"].map(lambda v: _rank(ENVIRONMENT_ORDER, v))
    return (
        df.sort_values(["_rt", "_env", "record_type", "environment"])
        .drop(columns=["_rt", "_env"])
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class TimingFigure:
    """A mean duration with the number of records behind it."""

    mean_hours: float | None
    n: int


@dataclass(frozen=True)
class Headline:
    """The figures at the top of the executive briefing."""

    as_of: datetime
    escape_rate: float | None
    escaped: int
    escape_denominator: int
    rca_required_releases: int
    rca_missing_link: int
    open_defects: dict[str, int]
    production_mttd: dict[str, TimingFigure]
    production_mttr: dict[str, TimingFigure]

    @property
    def open_defects_total(self) -> int:
        return sum(self.open_defects.values())


def headline(con: duckdb.DuckDBPyConnection) -> Headline:
    """Overall escape rate, releases needing RCA, open defects, production MTTD/MTTR."""
    info = build_info(con)
    overall = con.execute(
        """
        select escape_rate, escaped_defects + escaped_incidents,
               pre_release_defects + escaped_defects + escaped_incidents
        from marts.release_escape_rate
        where service = 'ALL' and release = 'ALL'
        """
    ).fetchone()
    rate, escaped, denominator = overall if overall is not None else (None, 0, 0)
    rca = rca_required_releases(con)
    open_sev = open_defects_by_severity(con)
    prod = detection_resolution(con).query("environment == 'production'")
    mttd: dict[str, TimingFigure] = {}
    mttr: dict[str, TimingFigure] = {}
    for record_type in RECORD_TYPES:
        row = prod[prod["record_type"] == record_type]
        if row.empty:
            mttd[record_type] = mttr[record_type] = TimingFigure(None, 0)
            continue
        r = row.iloc[0]
        mttd[record_type] = TimingFigure(_float_or_none(r["mttd_hours"]), _int0(r["n_detect"]))
        mttr[record_type] = TimingFigure(_float_or_none(r["mttr_hours"]), _int0(r["n_resolve"]))
    return Headline(
        as_of=info.as_of,
        escape_rate=_float_or_none(rate),
        escaped=_int0(escaped),
        escape_denominator=_int0(denominator),
        rca_required_releases=len(rca),
        rca_missing_link=int(rca["rca_link"].map(_is_blank).sum()),
        open_defects=dict(zip(open_sev["severity"], open_sev["open_defects"], strict=True)),
        production_mttd=mttd,
        production_mttr=mttr,
    )


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def fmt_pct(value: float | None) -> str:
    """0.125 -> '12.5%'; a NULL rate (denominator 0) -> 'n/a', never '0%'."""
    v = _float_or_none(value)
    return NOT_AVAILABLE if v is None else f"{v:.1%}"


def fmt_hours(value: float | None) -> str:
    """Hours with one decimal, e.g. '5.5 h'."""
    v = _float_or_none(value)
    return NOT_AVAILABLE if v is None else f"{v:,.1f} h"


def fmt_count(value: Any) -> str:
    """Integer counts with thousands separators."""
    return f"{_int0(value):,}"


def fmt_timestamp(value: datetime | None) -> str:
    """UTC instant to the minute (the as-of of a date is 23:59:59.999999)."""
    if value is None or pd.isna(value):
        return NOT_AVAILABLE
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(value: Any) -> str:
    """A release date, or a plain explanation when the release never reached production."""
    if value is None or pd.isna(value):
        return "not in production"
    return _utc(value).strftime("%Y-%m-%d")


def fmt_flag(value: Any) -> str:
    """Nullable boolean to Yes / No / n/a."""
    if value is None or pd.isna(value):
        return NOT_AVAILABLE
    return "Yes" if bool(value) else "No"


# --------------------------------------------------------------------------
# HTML fragments (every interpolated value goes through html.escape)
# --------------------------------------------------------------------------

# Counts, rates, hours and "2 / 6" are right-aligned; versions and dates are not numbers.
_NUMERIC_TEXT = re.compile(r"^-?[\d,]+(\.\d+)?( h|%)?$|^\d[\d,]* / \d[\d,]*$|^n/a$")


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def html_table(
    df: pd.DataFrame,
    *,
    link_columns: Collection[str] = (),
    empty: str = "No rows.",
    caption: str | None = None,
) -> str:
    """Render a display frame as an HTML table, escaping every header and cell.

    Cells of ``link_columns`` become links only for http(s) URLs (never
    ``javascript:``); pandas' ``render_links`` is avoided because it writes the
    unescaped value into ``href``. Numeric-looking cells are right-aligned.
    """
    if df.empty:
        return f'<p class="empty">{esc(empty)}</p>'
    parts = ['<table class="report-table">']
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in df.columns) + "</tr></thead>")
    parts.append("<tbody>")
    for row in df.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(df.columns, row, strict=True):
            text = NOT_AVAILABLE if _is_missing(value) else str(value)
            if column in link_columns and re.match(r"^https?://", text, re.IGNORECASE):
                cells.append(f'<td><a href="{esc(text)}" rel="noopener noreferrer">{esc(text)}</a></td>')
            elif _NUMERIC_TEXT.match(text):
                cells.append(f'<td class="num">{esc(text)}</td>')
            else:
                cells.append(f"<td>{esc(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def briefing_header(info: BuildInfo, requested_as_of: str | None, title: str) -> str:
    """Report title with the as-of; warns when the caller asked for another as-of."""
    lines = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="asof">As of <strong>{esc(fmt_timestamp(info.as_of))}</strong></p>',
    ]
    if requested_as_of:
        if _utc_date(requested_as_of) != _utc(info.as_of).date():
            lines.append(
                f'<p class="warning">Requested as-of {esc(requested_as_of)}, but the warehouse '
                f"was built as of {esc(fmt_timestamp(info.as_of))}; figures are as of the warehouse.</p>"
            )
    return "\n".join(lines)


def headline_cards(h: Headline) -> str:
    """The headline figures as a row of cards."""
    sev = " · ".join(f"{esc(s)} {esc(fmt_count(n))}" for s, n in h.open_defects.items())
    d_ttd, i_ttd = h.production_mttd["defect"], h.production_mttd["incident"]
    d_ttr, i_ttr = h.production_mttr["defect"], h.production_mttr["incident"]
    cards = [
        (
            "Escape rate, all services",
            esc(fmt_pct(h.escape_rate)),
            f"{esc(fmt_count(h.escaped))} of {esc(fmt_count(h.escape_denominator))} defects"
            " and incidents found in production",
        ),
        (
            "Releases needing RCA",
            esc(fmt_count(h.rca_required_releases)),
            f"{esc(fmt_count(h.rca_missing_link))} without an RCA link",
        ),
        ("Open defects", esc(fmt_count(h.open_defects_total)), sev),
        (
            "Mean time to detect, production",
            f"{esc(fmt_hours(d_ttd.mean_hours))} <small>defects</small>",
            f"n={esc(fmt_count(d_ttd.n))} defects · incidents "
            f"{esc(fmt_hours(i_ttd.mean_hours))} (n={esc(fmt_count(i_ttd.n))})",
        ),
        (
            "Mean time to resolve, production",
            f"{esc(fmt_hours(d_ttr.mean_hours))} <small>defects</small>",
            f"n={esc(fmt_count(d_ttr.n))} defects · incidents "
            f"{esc(fmt_hours(i_ttr.mean_hours))} (n={esc(fmt_count(i_ttr.n))})",
        ),
    ]
    # label/value/detail above are built from escaped values only.
    items = "".join(
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value">{value}</div><div class="detail">{detail}</div></div>'
        for label, value, detail in cards
    )
    return f'<div class="cards">{items}</div>'


def service_escape_table(services: pd.DataFrame) -> pd.DataFrame:
    """Display frame of the per-service roll-ups (and the overall row)."""
    return pd.DataFrame(
        {
            "Service": [
                "All services" if k == "overall" else s
                for s, k in zip(services["service"], services["kind"], strict=True)
            ],
            "Pre-release defects": services["pre_release_defects"].map(fmt_count),
            "Escaped defects": services["escaped_defects"].map(fmt_count),
            "Escaped incidents": services["escaped_incidents"].map(fmt_count),
            "Escape rate": services["escape_rate"].map(fmt_pct),
            "RCA required": services["rca_required"].map(fmt_flag),
        }
    )


def rca_table(rca: pd.DataFrame) -> pd.DataFrame:
    """Display frame of the releases that need an RCA."""
    escaped = rca["escaped_defects"] + rca["escaped_incidents"]
    total = rca["pre_release_defects"] + escaped
    return pd.DataFrame(
        {
            "Service": rca["service"],
            "Release": rca["release"],
            "First in production": rca["release_date"].map(fmt_date),
            "Escape rate": rca["escape_rate"].map(fmt_pct),
            "Escaped / total": [f"{fmt_count(e)} / {fmt_count(t)}" for e, t in zip(escaped, total, strict=True)],
            "RCA link": rca["rca_link"].map(lambda v: "missing" if _is_blank(v) else v),
        }
    )


def detection_resolution_table(dr: pd.DataFrame) -> pd.DataFrame:
    """Display frame of time to detect / resolve with every n beside its statistic."""
    return pd.DataFrame(
        {
            "Record": dr["record_type"].str.capitalize(),
            "Environment": dr["environment"],
            "n detect": dr["n_detect"].map(fmt_count),
            "Mean TTD": dr["mttd_hours"].map(fmt_hours),
            "Median TTD": dr["median_ttd_hours"].map(fmt_hours),
            "p90 TTD": dr["p90_ttd_hours"].map(fmt_hours),
            "n resolve": dr["n_resolve"].map(fmt_count),
            "Mean TTR": dr["mttr_hours"].map(fmt_hours),
            "Median TTR": dr["median_ttr_hours"].map(fmt_hours),
            "p90 TTR": dr["p90_ttr_hours"].map(fmt_hours),
            "Not measurable": dr["n_not_measurable"].map(fmt_count),
        }
    )


def unattributed_note(u: Unattributed) -> str:
    """One line on the records left out of the release rates."""
    if u.total == 0:
        return '<p class="note">Every defect and incident was attributed to a release.</p>'
    return (
        f'<p class="note">{esc(fmt_count(u.total))} records ({esc(fmt_count(u.defects))} defects, '
        f"{esc(fmt_count(u.incidents))} incidents) could not be attributed to a release and are "
        "not included in the escape rates above.</p>"
    )


# --------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------


def escape_rate_chart(releases: pd.DataFrame) -> go.Figure:
    """Escape rate per release (x, in time order), one line per service.

    Takes the frame from ``release_escape_rates``. Releases needing an RCA are
    drawn as diamonds. A NULL rate (nothing found) leaves a gap, not a zero.
    """
    fig = go.Figure()
    order = list(dict.fromkeys(releases["release"]))  # already in time order
    for service in sorted(releases["service"].unique(), key=natural_key):
        rows = releases[releases["service"] == service]
        rca = rows["rca_required"].fillna(False).astype(bool)
        escaped = rows["escaped_defects"] + rows["escaped_incidents"]
        total = rows["pre_release_defects"] + escaped
        fig.add_trace(
            go.Scatter(
                name=_plot_text(service),
                x=[_plot_text(r) for r in rows["release"]],
                y=[_float_or_none(v) for v in rows["escape_rate"]],
                mode="lines+markers",
                marker={"symbol": ["diamond" if f else "circle" for f in rca], "size": [13 if f else 8 for f in rca]},
                customdata=[
                    [_plot_text(service), fmt_count(e), fmt_count(t), "RCA required" if f else "", fmt_date(d)]
                    for e, t, f, d in zip(escaped, total, rca, rows["release_date"], strict=True)
                ],
                hovertemplate=(
                    "<b>%{customdata[0]}</b> %{x}<br>escape rate %{y:.1%}"
                    "<br>%{customdata[1]} of %{customdata[2]} escaped"
                    "<br>first in production: %{customdata[4]}<br>%{customdata[3]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        template=_CHART_TEMPLATE,
        height=420,
        title={
            "text": "Defect escape rate per release",
            "subtitle": {"text": "Escaped defects and incidents over all found; ◆ = RCA required"},
        },
        xaxis={
            "title": {"text": "Release (by first production deployment)"},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [_plot_text(r) for r in order],
        },
        yaxis={"title": {"text": "Escape rate"}, "tickformat": ".0%", "rangemode": "tozero"},
        legend={"title": {"text": "Service"}},
        margin={"t": 90},
    )
    if releases.empty:
        _annotate_empty(fig, "No release has attributed defects or incidents yet.")
    return fig


def detection_resolution_chart(dr: pd.DataFrame) -> go.Figure:
    """Mean time to detect and to resolve by environment, defects beside incidents.

    Takes the frame from ``detection_resolution``; n, median and p90 are in the hover.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Mean time to detect", "Mean time to resolve"),
        horizontal_spacing=0.1,
    )
    panels = (
        (1, "mttd_hours", "median_ttd_hours", "p90_ttd_hours", "n_detect"),
        (2, "mttr_hours", "median_ttr_hours", "p90_ttr_hours", "n_resolve"),
    )
    for record_type in list(dict.fromkeys(dr["record_type"])):
        rows = dr[dr["record_type"] == record_type]
        for col, mean, median, p90, n in panels:
            fig.add_trace(
                go.Bar(
                    name=_plot_text(record_type.capitalize() + "s"),
                    legendgroup=_plot_text(record_type),
                    showlegend=col == 1,
                    marker_color=_RECORD_COLOURS.get(record_type),
                    x=[_plot_text(e) for e in rows["environment"]],
                    y=[_float_or_none(v) for v in rows[mean]],
                    text=[f"n={fmt_count(v)}" for v in rows[n]],
                    textposition="auto",
                    customdata=[
                        [_plot_text(record_type), fmt_count(c), fmt_hours(m), fmt_hours(p)]
                        for c, m, p in zip(rows[n], rows[median], rows[p90], strict=True)
                    ],
                    hovertemplate=(
                        "<b>%{x}</b>, %{customdata[0]}s<br>mean %{y:.1f} h"
                        "<br>median %{customdata[2]}, p90 %{customdata[3]}"
                        "<br>n = %{customdata[1]}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
    fig.update_layout(
        template=_CHART_TEMPLATE,
        height=420,
        barmode="group",
        title={"text": "Time to detect and to resolve by environment (hours)"},
        legend={"title": {"text": "Record"}},
        margin={"t": 90},
    )
    fig.update_xaxes(title_text="Environment")
    fig.update_yaxes(title_text="Hours", rangemode="tozero")
    if dr.empty:
        _annotate_empty(fig, "No defect or incident has a measurable time yet.")
    return fig


# --------------------------------------------------------------------------
# Notebook display helpers
# --------------------------------------------------------------------------

_plotlyjs_emitted = False


def figure_html(fig: go.Figure, *, include_plotlyjs: bool) -> str:
    """A figure as an HTML fragment; plotly.js inline (no CDN) when asked."""
    div = fig.to_html(full_html=False, include_plotlyjs=False, config=_PLOTLY_CONFIG)
    if not include_plotlyjs:
        return div
    # Our own inline <script> rather than include_plotlyjs=True: same bundle,
    # without the window.PlotlyConfig MathJax stanza (we never load MathJax).
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>\n{div}'


def show(fig: go.Figure, *, include_plotlyjs: bool | None = None) -> None:
    """Display a figure in a notebook so it survives papermill and nbconvert.

    plotly's default renderer emits only an ``application/vnd.plotly.v1+json``
    bundle, which nbconvert's HTML export drops: the chart silently vanishes.
    An HTML output survives. plotly.js goes into the first chart of the kernel
    only (each page needs it once; it is ~4.8 MB).
    """
    global _plotlyjs_emitted
    from IPython.display import HTML, display

    embed = not _plotlyjs_emitted if include_plotlyjs is None else include_plotlyjs
    display(HTML(figure_html(fig, include_plotlyjs=embed)))
    _plotlyjs_emitted = _plotlyjs_emitted or embed


def show_html(fragment: str) -> None:
    """Display an HTML fragment built by this module (already escaped)."""
    from IPython.display import HTML, display

    display(HTML(fragment))


def show_table(df: pd.DataFrame, **kwargs: Any) -> None:
    """Display a display frame as an escaped HTML table (see ``html_table``)."""
    show_html(html_table(df, **kwargs))


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<main class="report">
{body}
</main>
</body>
</html>
"""

_CSS = """
body { margin: 0; background: #f6f7f9; color: #1d2330;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.report { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 2px; }
h2 { font-size: 19px; margin: 28px 0 6px; padding-top: 10px; border-top: 1px solid #e3e6eb; }
p { margin: 6px 0; }
.asof { color: #555d6b; }
.warning { background: #fff4d6; border-left: 4px solid #e0a100; padding: 6px 10px; }
.note { color: #555d6b; font-size: 13px; }
.empty { color: #555d6b; font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin: 16px 0; }
.card { border: 1px solid #e3e6eb; border-radius: 8px; padding: 10px 12px; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #555d6b; }
.card .value { font-size: 26px; font-weight: 600; margin: 2px 0; }
.card .value small { font-size: 12px; font-weight: 400; color: #555d6b; }
.card .detail { font-size: 12px; color: #555d6b; }
.report-table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
.report-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.report-table th, .report-table td { padding: 4px 10px; border-bottom: 1px solid #e3e6eb; text-align: left; }
.report-table th { background: #f0f2f5; font-weight: 600; }
.report-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
@media print { body { background: #fff; } .report { padding: 0; } }
"""


def render_notebook(name: str, parameters: dict[str, Any], reports_dir: Path, as_of_date: str) -> Path:
    """Execute ``notebooks/<name>.ipynb`` and write ``<reports_dir>/<as_of_date>/<name>.html``.

    The executed notebook is kept beside the page as ``<name>.ipynb`` (it is
    where a failure's traceback is). Returns the HTML path.

    Parameters are passed to papermill verbatim, except ``Path`` values, which
    are made absolute: the kernel runs in the repository root, so a relative
    *string* path is read from there (``data/warehouse.duckdb``), not from
    the caller's directory.

    How the kernel finds ``pipelines``: papermill starts it with cwd = the
    repository root (resolved from this file, not the process cwd) and IPython
    puts the cwd on ``sys.path`` ahead of site-packages, so the notebook imports
    *this* checkout's package whether or not it is installed (the editable
    install finds the same one). This avoids mutating ``PYTHONPATH``; the
    price is that papermill ``chdir``s the calling process while it runs, so
    render from one thread at a time (Dagster's in-process executor does).
    """
    import nbformat
    import papermill as pm

    if not _NAME.match(name):
        raise ValueError(f"Report name must be lower_snake_case, got {name!r}")
    try:
        date.fromisoformat(as_of_date)
    except ValueError as exc:
        raise ValueError(f"as_of_date must be YYYY-MM-DD, got {as_of_date!r}") from exc
    source = NOTEBOOKS_DIR / f"{name}.ipynb"
    if not source.is_file():
        available = ", ".join(sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))) or "none"
        raise FileNotFoundError(f"No report notebook {source} (available: {available})")

    out_dir = Path(reports_dir).resolve() / as_of_date
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{name}.ipynb"
    page = out_dir / f"{name}.html"
    params = {k: str(v.resolve()) if isinstance(v, Path) else v for k, v in parameters.items()}

    try:
        pm.execute_notebook(
            str(source),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(REPO_ROOT),
            progress_bar=False,
            execution_timeout=600,
        )
    except pm.PapermillExecutionError as exc:
        raise ReportRenderError(
            f"Report {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(executed notebook with the traceback: {executed})"
        ) from exc

    nb = nbformat.read(executed, as_version=4)
    title = f"{name.replace('_', ' ').capitalize()} — {as_of_date}"
    page.write_text(notebook_to_html(nb, title), encoding="utf-8")
    log.info("rendered %s", page)
    return page


def notebook_to_html(nb: Any, title: str) -> str:
    """One self-contained page from an executed notebook: outputs only, no network.

    nbconvert's ``lab``/``classic`` templates load require.js and MathJax from a
    CDN; the ``basic`` template emits just the cells, which we wrap in our own
    minimal page. stderr streams (warnings) are logged, not shown to readers.
    """
    from nbconvert import HTMLExporter

    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                log.warning("report notebook stderr: %s", output.get("text", "").strip())
                continue
            data = output.get("data", {})
            if "application/vnd.plotly.v1+json" in data and "text/html" not in data:
                raise ReportRenderError(
                    "A chart was displayed with plotly's default renderer and would vanish from "
                    "the HTML; display figures with pipelines.reporting.show(fig)"
                )
            kept.append(output)
        cell["outputs"] = kept

    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    page = _PAGE.format(title=esc(title), css=_CSS.strip(), body=body)
    if _EXTERNAL_SCRIPT.search(page) or _EXTERNAL_LINK.search(page):
        raise ReportRenderError(f"Report {title!r} references an external script or stylesheet")
    return page


def render_executive_briefing(
    warehouse: str | Path, reports_dir: Path, as_of_date: str | None = None
) -> Path:
    """Render the weekly executive briefing from a built warehouse.

    ``as_of_date`` defaults to the warehouse's own as-of date (the folder name).
    """
    wh = Path(warehouse).resolve()
    day = as_of_date or warehouse_as_of_date(wh)
    return render_notebook(
        "executive_briefing", {"warehouse": str(wh), "as_of": day}, reports_dir, day
    )


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _plot_text(value: Any) -> str:
    """Escape a string for plotly, whose labels and hovers parse a subset of HTML."""
    return html.escape("" if value is None else str(value), quote=False)


def _annotate_empty(fig: go.Figure, message: str) -> None:
    fig.add_annotation(text=_plot_text(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc_date(text: str) -> date | None:
    """UTC date of an ISO date or instant ('2024-06-30', '2024-07-01T01:00+02:00'); None if unparseable."""
    try:
        return _utc(str(text).strip()).date()
    except ValueError:
        return None


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are not missing
        return False


def _is_blank(value: Any) -> bool:
    """Missing or whitespace-only text (an empty rca_link is no link)."""
    return _is_missing(value) or not str(value).strip()


def _float_or_none(value: Any) -> float | None:
    if _is_missing(value):
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _int0(value: Any) -> int:
    return 0 if _is_missing(value) else int(value)


def _rank(order: Sequence[str], value: str) -> int:
    """Position of a value in a canonical order; unknown values after all known ones."""
    return order.index(value) if value in order else len(order)


def _natural_series(s: pd.Series) -> pd.Series:
    return s.map(lambda v: natural_key(str(v)))
