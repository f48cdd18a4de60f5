"""Report data access and rendering.

The report notebooks under ``notebooks/`` are layouts: every query, figure and
piece of HTML they show comes from this package, so it can be unit tested
without a kernel. Its modules, each with the safety rules it keeps:

- ``queries``: the warehouse, opened read-only, and the frames and figures read from it;
- ``formatting``: NULL-safe values as display text (``fmt_*``);
- ``charts``: the plotly figures;
- ``fragments``: escaped HTML tables, cards, header and notes, and the ``show*``
  helpers that put them (and the charts) into a notebook;
- ``render``: executing a notebook with papermill into one self-contained page.

This module is the interface notebooks (``from pipelines import reporting as rp``),
the CLI and the Dagster asset import from.
"""

from pipelines.reporting import clusters, executive, post_release, postmortem
from pipelines.reporting.catalog import Report, ReportParameterError
from pipelines.reporting.charts import (
    aging_chart,
    cumulative_flow_chart,
    detection_resolution_chart,
    escape_trend_chart,
)
from pipelines.reporting.fragments import (
    Card,
    anchored_heading,
    appendix_heading,
    cards_html,
    clusters_table,
    compliance_table,
    detection_resolution_table,
    grid,
    html_table,
    panel,
    rca_short_list,
    rca_table,
    report_header,
    service_escape_table,
    show,
    show_html,
    show_table,
    tiles_html,
    unattributed_note,
)
from pipelines.reporting.queries import (
    WarehouseError,
    build_info,
    detection_resolution,
    open_warehouse,
    service_escape_rates,
    unattributed_counts,
)
from pipelines.reporting.render import IndexEntry, ReportRenderError, render_notebook, render_report, write_index

#: Every report ``defectflow report`` renders, in the order the index page lists them.
REPORTS: tuple[Report, ...] = (executive.REPORT, post_release.REPORT, postmortem.REPORT, clusters.REPORT)

__all__ = [
    "REPORTS",
    "Card",
    "IndexEntry",
    "Report",
    "ReportParameterError",
    "ReportRenderError",
    "WarehouseError",
    "aging_chart",
    "anchored_heading",
    "appendix_heading",
    "build_info",
    "cards_html",
    "clusters",
    "clusters_table",
    "compliance_table",
    "cumulative_flow_chart",
    "detection_resolution",
    "detection_resolution_chart",
    "detection_resolution_table",
    "escape_trend_chart",
    "executive",
    "grid",
    "html_table",
    "open_warehouse",
    "panel",
    "rca_short_list",
    "rca_table",
    "render_notebook",
    "render_report",
    "report_header",
    "service_escape_rates",
    "service_escape_table",
    "show",
    "show_html",
    "show_table",
    "tiles_html",
    "unattributed_counts",
    "unattributed_note",
    "write_index",
]
