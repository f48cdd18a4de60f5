"""The dbt models as Dagster assets: one DbtProject, one translator, dbt tests as asset checks."""


import logging
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines.defs.quality import dbt_tests
from pipelines.defs.warehouse import Warehouse
from pipelines.warehouse import DBT_PROJECT_DIR

log = logging.getLogger("defectflow")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Parses only under `dagster dev`; the CLI and the tests run `dbt parse` explicitly.
dbt_project.prepare_if_dev()


class Translator(DagsterDbtTranslator):
    """Keys are `<schema>/<name>` (raw sources, staging/intermediate/marts models);
    the group is the dbt folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=Translator())
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    """`dbt build`: every model, then its tests (reported as asset checks, a failed one with its rows)."""
    with warehouse.dbt_environment():
        invocation = dbt.cli(["build"], context=context, raise_on_error=False)
        failed: list[dg.AssetCheckResult] = []
        for event in invocation.stream():
            if isinstance(event, dg.Output):
                log.info("  built %s", event.output_name.replace("__", ".", 1))
            elif isinstance(event, dg.AssetCheckResult) and not event.passed:
                log.warning("  test failed: %s on %s", event.check_name, event.asset_key.to_user_string())
                failed.append(event)  # its rows can be read only once dbt has released the warehouse
                continue
            yield event
    yield from dbt_tests.with_offending_rows(invocation, failed, warehouse.file)
    if (error := dbt_tests.unreported_error(invocation, failed)) is not None:
        raise error


def _dbt_executable() -> str:
    """The dbt installed beside this Python, so an un-activated virtualenv works too."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


defs = dg.Definitions(
    assets=[dbt_models],
    resources={"dbt": DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=_dbt_executable()
    )},
)
