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

from pipelines.reporting import executive, post_release
from pipelines.reporting.catalog import Report, ReportParameterError
from pipelines.reporting.charts import detection_resolution_chart, escape_rate_chart
from pipelines.reporting.fragments import (
    detection_resolution_table,
    headline_cards,
    rca_table,
    report_header,
    service_escape_table,
    show,
    show_html,
    show_table,
    unattributed_note,
)
from pipelines.reporting.queries import (
    WarehouseError,
    build_info,
    detection_resolution,
    headline,
    open_warehouse,
    rca_required_releases,
    release_escape_rates,
    service_escape_rates,
    unattributed_counts,
)
from pipelines.reporting.render import ReportRenderError, render_notebook, render_report

#: Every report ``defectflow report`` renders, in the order the index page lists them.
REPORTS: tuple[Report, ...] = (executive.REPORT, post_release.REPORT)

__all__ = [
    "REPORTS",
    "Report",
    "ReportParameterError",
    "ReportRenderError",
    "WarehouseError",
    "build_info",
    "detection_resolution",
    "detection_resolution_chart",
    "detection_resolution_table",
    "escape_rate_chart",
    "headline",
    "headline_cards",
    "open_warehouse",
    "rca_required_releases",
    "rca_table",
    "release_escape_rates",
    "render_notebook",
    "render_report",
    "report_header",
    "service_escape_rates",
    "service_escape_table",
    "show",
    "show_html",
    "show_table",
    "unattributed_counts",
    "unattributed_note",
]
