"""Start a build when export files appear or change in the exports folder."""

import hashlib
from pathlib import Path

import dagster as dg

from pipelines.defs.ingest.manifest import discover
from pipelines.defs.schedules import weekly_build
from pipelines.settings import BuildSettings
from pipelines.warehouse import own_files, warehouse_path


def folder_fingerprint(exports: Path) -> str:
    """Names, sizes and modification times of every export file: a stat per file, no reading."""
    digest = hashlib.sha256()
    # the build's own files (a warehouse kept in the folder) change with every build: not a trigger
    for path in discover(exports, own_files(warehouse_path())).files:
        stat = path.stat()
        digest.update(f"{path.relative_to(exports)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dg.sensor(
    job=weekly_build,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs weekly_build when files are added to, changed in or removed from the exports folder "
                "(DEFECTFLOW_EXPORTS, default data/exports/). The ingest re-reads only those files.",
)
def exports_folder_sensor(context: dg.SensorEvaluationContext):
    exports = BuildSettings().exports()
    if not exports.is_dir():
        return dg.SkipReason(f"exports folder {exports} does not exist")
    fingerprint = folder_fingerprint(exports)
    if fingerprint == context.cursor:
        return dg.SkipReason("no new or changed export files")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)


defs = dg.Definitions(sensors=[exports_folder_sensor])
