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

from pipelines.policy import AGE_BUCKETS, OPEN_STATUSES, STATUSES
from pipelines.reporting.formatting import float_or_none, fmt_count, fmt_hours
from pipelines.reporting.queries import natural_key

CHART_TEMPLATE = "plotly_white"
_RECORD_COLOURS = {"defect": "#1f77b4", "incident": "#d62728"}
_SERVICE_COLOUR = "#1f77b4"
_REFERENCE_COLOUR = "#b8bec8"
# In AGE_BUCKETS order, young to old: the older the open defect, the darker.
_AGE_COLOURS = ("#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
_COMPACT_MARGIN = {"t": 30, "b": 30, "l": 50, "r": 10}
# A chart in a half-width panel of the briefing's one printed page.
_PANEL_HEIGHT = 230


def detection_resolution_chart(dr: pd.DataFrame, *, compact: bool = False) -> go.Figure:
    """Mean time to detect and to resolve by environment, defects beside incidents.

    Takes the frame from ``detection_resolution``; n, median and p90 are in the hover.
    ``compact``: for a panel of the one-page briefing (its title is the panel's).
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
        template=CHART_TEMPLATE,
        height=420,
        barmode="group",
        title={"text": "Time to detect and to resolve by environment (hours)"},
        legend={"title": {"text": "Record"}},
        margin={"t": 90},
    )
    if compact:
        fig.update_layout(
            title=None, height=_PANEL_HEIGHT, margin=_COMPACT_MARGIN, legend={"orientation": "h", "y": -0.2}
        )
        fig.update_annotations(font_size=12)
    else:
        fig.update_xaxes(title_text="Environment")
    fig.update_yaxes(title_text="Hours", rangemode="tozero")
    if dr.empty:
        annotate_empty(fig, "No defect or incident has a measurable time yet.")
    return fig


def plot_text(value: Any) -> str:
    """Escape a string for plotly, whose labels and hovers parse a subset of HTML."""
    return html.escape("" if value is None else str(value), quote=False)


def annotate_empty(fig: go.Figure, message: str) -> None:
    """Say in the middle of an empty chart why it is empty."""
    fig.add_annotation(text=plot_text(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)



def escape_trend_chart(monthly: pd.DataFrame, columns: int = 3, max_panels: int = 9) -> go.Figure:
    """Small multiples: one panel per service, its monthly escape rate over the same months,
    with all chosen services' rate as a grey reference line in each panel.

    A page holds `max_panels` panels: with more services, the ones with the most defects
    found get a panel and a note counts the rest (the reference line still covers them all).
    Takes the frame from ``executive.monthly_escape_rates``.
    """
    per_service = monthly[monthly["service"] != "ALL"].groupby("service")["found"].sum()
    ranked = sorted(per_service.index, key=lambda s: (-per_service[s], natural_key(s)))
    services = sorted(ranked[:max_panels], key=natural_key)
    hidden = len(ranked) - len(services)
    rows = max(1, -(-len(services) // columns))
    fig = make_subplots(
        rows=rows,
        cols=columns,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=[plot_text(s) for s in services],
        vertical_spacing=0.16 if rows > 1 else 0.1,
        horizontal_spacing=0.04,
    )
    reference = monthly[monthly["service"] == "ALL"]
    for i, service in enumerate(services):
        row, col = i // columns + 1, i % columns + 1
        data = monthly[monthly["service"] == service]
        for frame, colour, name, width in (
            (reference, _REFERENCE_COLOUR, "All services", 1.5),
            (data, _SERVICE_COLOUR, service, 2.5),
        ):
            fig.add_trace(
                go.Scatter(
                    x=list(frame["month"]),
                    y=[float_or_none(v) for v in frame["escape_rate"]],
                    name=plot_text(name),
                    mode="lines+markers",
                    line={"color": colour, "width": width},
                    marker={"size": 5},
                    showlegend=i == 0 and frame is reference,
                    customdata=[
                        [plot_text(name), fmt_count(e), fmt_count(f), fmt_count(r)]
                        for e, f, r in zip(frame["escaped"], frame["found"], frame["releases"])
                    ],
                    hovertemplate=(
                        "<b>%{customdata[0]}</b> %{x|%b %Y}<br>escape rate %{y:.1%}"
                        "<br>%{customdata[1]} of %{customdata[2]} escaped · %{customdata[3]} releases<extra></extra>"
                    ),
                ),
                row=row,
                col=col,
            )
    fig.update_layout(
        template=CHART_TEMPLATE,
        height=90 + 105 * rows,
        margin=_COMPACT_MARGIN,
        legend={"orientation": "h", "y": -0.12, "x": 0},
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(tickformat="%b", dtick="M1")
    fig.update_annotations(font_size=12)
    if not services:
        annotate_empty(fig, "No release has reached production yet.")
    if hidden:
        fig.add_annotation(
            text=plot_text(f"The {len(services)} services with the most defects found; {hidden} more are in "
                           "the grey line only."),
            showarrow=False, xref="paper", yref="paper", x=1, y=-0.2, xanchor="right", font={"size": 11},
        )
    return fig


def aging_chart(aging: pd.DataFrame) -> go.Figure:
    """Open defects per severity at the latest snapshot, stacked by age bucket (oldest darkest).

    Takes the frame from ``executive.latest_aging``.
    """
    fig = go.Figure()
    severities = sorted(aging["severity"].unique())
    for bucket, colour in zip(AGE_BUCKETS, _AGE_COLOURS):
        rows = aging[aging["age_bucket"] == bucket].set_index("severity")
        fig.add_trace(
            go.Bar(
                name=plot_text(bucket),
                x=[plot_text(s) for s in severities],
                y=[int(rows["open_defects"].get(s, 0)) for s in severities],
                marker_color=colour,
                hovertemplate="%{x}, " + plot_text(bucket) + ": %{y} open<extra></extra>",
            )
        )
    fig.update_layout(
        template=CHART_TEMPLATE,
        barmode="stack",
        height=_PANEL_HEIGHT,
        margin=_COMPACT_MARGIN,
        legend={"title": {"text": "Age"}, "traceorder": "normal"},
        yaxis={"title": {"text": "Open defects"}},
    )
    if aging.empty:
        annotate_empty(fig, "No defect is open.")
    return fig


def cumulative_flow_chart(flow: pd.DataFrame, markers: pd.DataFrame) -> go.Figure:
    """Defects per status at the end of each day, stacked (open statuses on top), with the
    release milestones as ticks above the areas (one per day and milestone, naming its releases).

    Takes the frames from ``executive.cumulative_flow`` and ``executive.gate_markers``.
    """
    fig = go.Figure()
    # Closed statuses at the bottom, then the open ones up to `new` on top: work moves down.
    stacking = [s for s in STATUSES if s not in OPEN_STATUSES] + list(reversed(OPEN_STATUSES))
    for status in stacking:
        rows = flow[flow["status"] == status]
        fig.add_trace(
            go.Scatter(
                x=list(rows["day"]),
                y=[int(v) for v in rows["defects"]],
                name=plot_text(status.replace("_", " ")),
                mode="lines",
                line={"width": 0.5},
                stackgroup="flow",
                hovertemplate="%{x|%d %b %Y}: %{y} " + plot_text(status) + "<extra></extra>",
            )
        )
    top = flow.groupby("day")["defects"].sum().max() if not flow.empty else 0
    for offset, (gate, symbol) in enumerate((("code_freeze", "line-ns"), ("planned_release", "triangle-down"))):
        rows = markers[markers["gate"] == gate]
        more = rows["releases"] - rows["named"]
        labels = rows["names"].where(more <= 0, rows["names"] + " and " + more.astype(str) + " more")
        fig.add_trace(
            go.Scatter(
                x=list(rows["day"]),
                y=[top * (1.04 + 0.05 * offset)] * len(rows),
                name=plot_text(gate.replace("_", " ")),
                mode="markers",
                marker={"symbol": symbol, "size": 7, "color": "#444", "line": {"width": 1, "color": "#444"}},
                customdata=[[plot_text(label)] for label in labels],
                hovertemplate="%{x|%d %b %Y}: " + plot_text(gate.replace("_", " ")) + " of %{customdata[0]}"
                + "<extra></extra>",
            )
        )
    fig.update_layout(
        template=CHART_TEMPLATE,
        height=_PANEL_HEIGHT,
        margin=_COMPACT_MARGIN,
        yaxis={"title": {"text": "Defects"}},
        legend={"traceorder": "reversed"},
    )
    if flow.empty:
        annotate_empty(fig, "No defect yet.")
    return fig
