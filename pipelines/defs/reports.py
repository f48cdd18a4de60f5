"""Report notebooks as assets: executed headless, rendered to self-contained HTML."""


import logging

import dagster as dg

from pipelines.defs.warehouse import Warehouse
from pipelines.reporting.queries import EXECUTIVE_TABLES
from pipelines.settings import BuildSettings

log = logging.getLogger("defectflow")

EXECUTIVE_INPUTS = [["marts", name] for name in EXECUTIVE_TABLES]


@dg.asset(
    key=["reports", "executive_briefing"],
    deps=EXECUTIVE_INPUTS,
    group_name="reports",
    kinds={"jupyter", "html"},
)
def executive_briefing(build: BuildSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    """The weekly executive briefing: escape rate per release and service, MTTD/MTTR by environment."""
    from pipelines.reporting import executive, render_report  # keeps notebook tooling out of import time

    # Rendered into the folder of the warehouse's own as-of, not "now": the report describes what was built.
    path = render_report(executive.REPORT, {}, warehouse.file, build.reports())
    log.info("  report %s", path)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})


defs = dg.Definitions(assets=[executive_briefing])
