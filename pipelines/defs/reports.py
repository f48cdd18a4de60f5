"""Report notebooks as assets: executed headless, rendered to self-contained HTML."""


import logging

import dagster as dg

from pipelines.defs.warehouse import Warehouse
from pipelines.reporting.queries import EXECUTIVE_TABLES
from pipelines.settings import BuildSettings, report_folder_name

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
    from pipelines.reporting import render_notebook  # keeps notebook tooling out of import time

    # The warehouse's own as-of, not "now": the report describes what was built.
    with warehouse.connect(read_only=True) as con:
        as_of = con.execute("select as_of from marts.build_metadata").fetchall()[0][0]
    path = render_notebook(
        "executive_briefing",
        parameters={"as_of": as_of.isoformat(), "warehouse": str(warehouse.file)},
        reports_dir=build.reports(),
        as_of_date=report_folder_name(as_of),
    )
    log.info("  report %s", path)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})


defs = dg.Definitions(assets=[executive_briefing])
