"""The report charts: plotly figures built from the frames ``queries`` returns.

Safety rule this module keeps (docs/architecture.md): every string handed to
plotly (names, axis categories, hover data) is HTML-escaped first, because
plotly's labels and hovers parse a subset of HTML. Figures reach a page
through ``fragments.show``.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipelines.reporting.formatting import float_or_none, fmt_count, fmt_date, fmt_hours
from pipelines.reporting.queries import natural_key

_CHART_TEMPLATE = "plotly_white"
_RECORD_COLOURS = {"defect": "#1f77b4", "incident": "#d62728"}


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
                name=plot_text(service),
                x=[plot_text(r) for r in rows["release"]],
                y=[float_or_none(v) for v in rows["escape_rate"]],
                mode="lines+markers",
                marker={"symbol": ["diamond" if f else "circle" for f in rca], "size": [13 if f else 8 for f in rca]},
                customdata=[
                    [plot_text(service), fmt_count(e), fmt_count(t), "RCA required" if f else "", fmt_date(d)]
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
            "title": {"text": "Release (in release order: planned date, else first production deployment)"},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [plot_text(r) for r in order],
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
                    name=plot_text(record_type.capitalize() + "s"),
                    legendgroup=plot_text(record_type),
                    showlegend=col == 1,
                    marker_color=_RECORD_COLOURS.get(record_type),
                    x=[plot_text(e) for e in rows["environment"]],
                    y=[float_or_none(v) for v in rows[mean]],
                    text=[f"n={fmt_count(v)}" for v in rows[n]],
                    textposition="auto",
                    customdata=[
                        [plot_text(record_type), fmt_count(c), fmt_hours(m), fmt_hours(p)]
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


def plot_text(value: Any) -> str:
    """Escape a string for plotly, whose labels and hovers parse a subset of HTML."""
    return html.escape("" if value is None else str(value), quote=False)


def _annotate_empty(fig: go.Figure, message: str) -> None:
    """Say in the middle of an empty chart why it is empty."""
    fig.add_annotation(text=plot_text(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
