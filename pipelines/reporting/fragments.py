"""The HTML the report notebooks display: tables, headline cards, header, notes, charts.

Builders return escaped HTML strings or display frames (unit tested without a
kernel); the ``show*`` helpers put them into a notebook's outputs.

Safety rules this module keeps (docs/architecture.md):

- every string that came from an export (service, release, environment,
  titles, links) is HTML-escaped before it reaches a page; a link is written
  only for an http(s) URL;
- a chart is displayed as HTML (plotly's own bundle would vanish from the
  page) with plotly.js embedded inline, once per page: nothing is loaded from
  the network.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from pipelines.reporting.formatting import (
    NOT_AVAILABLE,
    as_utc,
    fmt_count,
    fmt_date,
    fmt_flag,
    fmt_hours,
    fmt_pct,
    fmt_timestamp,
    is_blank,
    is_missing,
)
from pipelines.reporting.queries import BuildInfo, Unattributed

if TYPE_CHECKING:
    from pipelines.reporting.executive import Tile

# No mode bar: on a printed or forwarded page it covers titles; zoom (drag) and hover stay.
_PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True, "displayModeBar": False}

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
            text = NOT_AVAILABLE if is_missing(value) else str(value)
            if column in link_columns and re.match(r"^https?://", text, re.IGNORECASE):
                cells.append(f'<td><a href="{esc(text)}" rel="noopener noreferrer">{esc(text)}</a></td>')
            elif _NUMERIC_TEXT.match(text):
                cells.append(f'<td class="num">{esc(text)}</td>')
            else:
                cells.append(f"<td>{esc(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def report_header(info: BuildInfo, requested_as_of: str | None, title: str, subtitle: str | None = None) -> str:
    """Report title with the as-of and the time it was generated (the one line two renders of
    the same warehouse differ in); warns when the caller asked for another as-of."""
    generated = fmt_timestamp(datetime.now(UTC))
    lines = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="asof">As of <strong>{esc(fmt_timestamp(info.as_of))}</strong>'
        + (f" · {esc(subtitle)}" if subtitle else "")
        + "</p>",
        f'<p class="generated">Generated {esc(generated)}</p>',
    ]
    if requested_as_of and _utc_date(requested_as_of) != as_utc(info.as_of).date():
        lines.append(
            f'<p class="warning">Requested as-of {esc(requested_as_of)}, but the warehouse '
            f"was built as of {esc(fmt_timestamp(info.as_of))}; figures are as of the warehouse.</p>"
        )
    return "\n".join(lines)




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
            "RCA link": rca["rca_link"].map(lambda v: "missing" if is_blank(v) else v),
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


_plotlyjs_emitted = False
_charts_shown = 0


def figure_html(fig: go.Figure, *, include_plotlyjs: bool, div_id: str) -> str:
    """A figure as an HTML fragment; plotly.js inline (no CDN) when asked.

    ``div_id`` is fixed by the caller (plotly's default is a random UUID), so two
    renders of the same data are byte-identical.
    """
    div = fig.to_html(full_html=False, include_plotlyjs=False, config=_PLOTLY_CONFIG, div_id=div_id)
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
    show_html(chart_html(fig, include_plotlyjs=include_plotlyjs))


def new_page() -> None:
    """Start a new page in this kernel: the next chart is ``chart-1`` and carries plotly.js
    (a kernel shared by several renders calls this before each: ``render.kernel_session``)."""
    global _plotlyjs_emitted, _charts_shown
    _plotlyjs_emitted, _charts_shown = False, 0


def chart_html(fig: go.Figure, *, include_plotlyjs: bool | None = None) -> str:
    """A figure's HTML for this kernel's page: ids numbered in display order (``chart-1``, ...),
    plotly.js with the first chart only (see ``show``)."""
    global _plotlyjs_emitted, _charts_shown
    embed = not _plotlyjs_emitted if include_plotlyjs is None else include_plotlyjs
    _charts_shown += 1
    _plotlyjs_emitted = _plotlyjs_emitted or embed
    return figure_html(fig, include_plotlyjs=embed, div_id=f"chart-{_charts_shown}")


def show_html(fragment: str) -> None:
    """Display an HTML fragment built by this module (already escaped)."""
    from IPython.display import HTML, display

    display(HTML(fragment))


def show_table(df: pd.DataFrame, **kwargs: Any) -> None:
    """Display a display frame as an escaped HTML table (see ``html_table``)."""
    show_html(html_table(df, **kwargs))


def _utc_date(text: str) -> date | None:
    """UTC date of an ISO date or instant ('2024-06-30', '2024-07-01T01:00+02:00'); None if unparseable."""
    try:
        return as_utc(str(text).strip()).date()
    except ValueError:
        return None


@dataclass(frozen=True)
class Card:
    """A summary card: plain text, escaped when rendered."""

    label: str
    value: str
    detail: str


def cards_html(cards: Sequence[Card], columns: int | None = None) -> str:
    """Cards in a grid, every text escaped; ``columns`` per row when set (six cards as two even
    rows rather than the default grid's five and one)."""
    items = "".join(
        f'<div class="card"><div class="label">{esc(c.label)}</div>'
        f'<div class="value">{esc(c.value)}</div><div class="detail">{esc(c.detail)}</div></div>'
        for c in cards
    )
    style = f' style="grid-template-columns: repeat({int(columns)}, 1fr)"' if columns else ""
    return f'<div class="cards"{style}>{items}</div>'


# --- the executive briefing's one page -------------------------------------------------------

_TILE_FORMATS = {"rate": fmt_pct, "hours": fmt_hours, "count": lambda v: NOT_AVAILABLE if v is None else fmt_count(v)}
_TREND_WORDS = {"better": "better", "worse": "worse", "same": "no change", "n/a": "no comparison"}


def tiles_html(tiles: Sequence[Tile], previous_label: str) -> str:
    """The headline tiles: this period's value, the previous period's, and whether the change is
    good (green) or bad (red) for that figure."""
    items = []
    for tile in tiles:
        fmt = _TILE_FORMATS[tile.kind]
        now, before = tile.current.value, tile.previous.value
        arrow = "" if tile.trend in ("same", "n/a") else ("▲ " if now > before else "▼ ")
        items.append(
            f'<div class="tile {esc(tile.trend.replace("/", ""))}">'
            f'<div class="label">{esc(tile.label)}</div>'
            f'<div class="value">{esc(fmt(now))}</div>'
            f'<div class="detail">{esc(tile.current.detail)}</div>'
            f'<div class="trend">{esc(arrow)}{esc(_TREND_WORDS[tile.trend])} · '
            f"{esc(previous_label)}: {esc(fmt(before))}</div>"
            f'<div class="measures">{esc(tile.measures)}</div></div>'
        )
    return f'<div class="tiles">{"".join(items)}</div>'


def panel(title: str, measures: str, content: go.Figure | str, *, wide: bool = False) -> str:
    """A titled block of the one-page grid: a chart or an HTML fragment built here, with the
    one line that says what it measures."""
    body = chart_html(content) if isinstance(content, go.Figure) else content
    css = "panel wide" if wide else "panel"
    return f'<section class="{css}"><h3>{esc(title)}</h3><p class="measures">{esc(measures)}</p>{body}</section>'


def grid(panels: Sequence[str]) -> str:
    """Panels two to a row (a ``wide`` panel takes a row)."""
    return f'<div class="grid">{"".join(panels)}</div>'


def appendix_heading() -> str:
    """Where the printed page ends: the appendix starts on a new page."""
    return '<h2 class="appendix" id="appendix">Appendix</h2>'


def anchored_heading(title: str, anchor: str) -> str:
    """A heading other parts of the page link to (``#anchor``)."""
    return f'<h3 id="{esc(anchor)}">{esc(title)}</h3>'


def clusters_table(clusters: pd.DataFrame) -> pd.DataFrame:
    """Display frame of the top clusters."""
    return pd.DataFrame(
        {
            "Cluster": clusters["cluster_id"],
            "Size": clusters["defects"].map(fmt_count),
            "Open": clusters["open_defects"].map(fmt_count),
            "Recur.": clusters["recurrences"].map(fmt_count),
            "Priority": clusters["priority_score"].map(lambda v: NOT_AVAILABLE if is_missing(v) else f"{v:.0f}"),
            "Services": clusters["services"],
            "Top open defect": clusters["top_title"].map(lambda v: shorten(v, 44)),
        }
    )


def compliance_table(findings: pd.DataFrame) -> pd.DataFrame:
    """Display frame of compliance findings per rule."""
    return pd.DataFrame(
        {
            "Rule": findings["rule"],
            "Findings": findings["findings"].map(fmt_count),
            "Oldest since": findings["oldest"].map(fmt_date),
        }
    )


def more_rows_note(rest: int, what: str, where: str) -> str:
    """The note under a table that shows the first rows only: how many more, and where they are."""
    if rest <= 0:
        return ""
    return f'<p class="note">…and {esc(fmt_count(rest))} more {esc(what)}: {esc(where)}.</p>'


def rca_short_list(rca: pd.DataFrame, limit: int, appendix_anchor: str) -> str:
    """The worst ``limit`` releases needing an RCA, the rest counted with a link to the table
    in the appendix."""
    table = html_table(
        rca_table(rca.head(limit)), link_columns={"RCA link"}, empty="No release is above the RCA threshold."
    )
    rest = len(rca) - limit
    if rest <= 0:
        return table
    missing = int(rca["rca_link"].map(is_blank).sum())
    return (
        f'{table}<p class="note">…and {esc(fmt_count(rest))} more ({esc(fmt_count(len(rca)))} in all, '
        f'{esc(fmt_count(missing))} without an RCA link): <a href="#{esc(appendix_anchor)}">in the '
        "appendix</a>.</p>"
    )


def shorten(value: Any, width: int) -> str:
    text = "" if is_missing(value) else " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
