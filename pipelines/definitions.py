"""The Dagster code location: the defs modules, merged. Nothing else lives here."""

import dagster as dg

from pipelines.defs import (
    correlation,
    dbt,
    pull,
    quality,
    reports,
    schedules,
    sensors,
    warehouse,
)
from pipelines.defs.ingest import assets as ingest
from pipelines.settings import BuildSettings

defs = dg.Definitions.merge(
    ingest.defs,
    dbt.defs,
    correlation.defs,
    pull.defs,
    quality.defs,
    reports.defs,
    schedules.defs,
    sensors.defs,
    warehouse.defs,
    dg.Definitions(resources={"build": BuildSettings()}),
)
